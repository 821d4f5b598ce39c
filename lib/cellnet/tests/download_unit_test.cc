// The pure parts of the download service: manifests, downloadables, the chunk cache and the
// transaction table (driven by a ManualClock). End-to-end downloads are in download_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "cellnet/download_cache.h"
#include "cellnet/download_manifest.h"
#include "cellnet/download_transactions.h"
#include "cellnet/downloadable.h"

namespace nvf::cellnet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tensor::DType;
using tensor::Tensor;

Manifest sample_manifest() {
  Manifest m;
  m.source = "server.job-1";
  m.ref_id = "R0123abc";
  m.chunk_size = 1024;
  m.items.push_back(DownloadItem{"w", 24, DType::kF32, {2, 3}});
  m.items.push_back(DownloadItem{"s", 2, DType::kBF16, {}});
  m.items.push_back(DownloadItem{"blob", 10, std::nullopt, {}});
  return m;
}

TEST(DownloadManifestTest, EncodesAndDecodesEveryField) {
  Manifest m = sample_manifest();
  auto back = Manifest::decode(m.encode());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->total_bytes(), 36u);
  EXPECT_FALSE(back->all_tensors());
}

TEST(DownloadManifestTest, RejectsUnknownDtypeNamingTheField) {
  std::string text = sample_manifest().encode();
  text.replace(text.find("\"F32\""), 5, "\"F99\"");
  auto back = Manifest::decode(text);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("items[0].dtype"), std::string::npos)
      << back.status().message();
}

TEST(DownloadManifestTest, RejectsSizeThatDoesNotMatchDtypeAndShape) {
  Manifest m = sample_manifest();
  m.items[0].size = 25;
  auto back = Manifest::decode(m.encode());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("items[0].size"), std::string::npos)
      << back.status().message();
  EXPECT_NE(back.status().message().find("24 bytes"), std::string::npos) << back.status().message();
}

TEST(DownloadManifestTest, RejectsBadShapeSourceRefAndDuplicates) {
  Manifest neg = sample_manifest();
  neg.items[0].shape = {-2, 3};
  EXPECT_NE(Manifest::decode(neg.encode()).status().message().find("items[0].shape"),
            std::string::npos);

  Manifest src = sample_manifest();
  src.source = "bad..name";
  EXPECT_NE(Manifest::decode(src.encode()).status().message().find("'source'"), std::string::npos);

  Manifest ref = sample_manifest();
  ref.ref_id = "R/../x";
  EXPECT_NE(Manifest::decode(ref.encode()).status().message().find("'ref'"), std::string::npos);

  Manifest dup = sample_manifest();
  dup.items[2].name = "w";
  EXPECT_NE(Manifest::decode(dup.encode()).status().message().find("items[2].name"),
            std::string::npos);

  EXPECT_FALSE(Manifest::decode("not json").ok());
  EXPECT_FALSE(Manifest::decode("[]").ok());
  EXPECT_NE(Manifest::decode(R"({"version":1,"source":"server","ref":"R1"})")
                .status()
                .message()
                .find("'items'"),
            std::string::npos);
  EXPECT_NE(Manifest::decode(
                R"({"version":1,"source":"server","ref":"R1","items":[{"name":"a","size":-1}]})")
                .status()
                .message()
                .find("items[0].size"),
            std::string::npos);
}

TEST(DownloadableTest, TensorRangesPointIntoTheTensorWithoutCopy) {
  tensor::TensorDict d;
  ASSERT_TRUE(d.insert("a", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})).ok());
  ASSERT_TRUE(d.insert("b", Tensor::from_vector<int64_t>({3}, {7, 8, 9})).ok());
  const std::byte* a_data = d.find("a")->data();
  TensorDownloadable obj(std::move(d));
  ASSERT_EQ(obj.item_count(), 2u);
  EXPECT_EQ(obj.item(0), (DownloadItem{"a", 16, DType::kF32, {2, 2}}));
  EXPECT_EQ(obj.item(1).size, 24u);
  auto s = obj.produce(0, 4, 8);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->data, a_data + 4);
  EXPECT_EQ(s->size, 8u);
  float v[2];
  std::memcpy(v, s->data, 8);
  EXPECT_EQ(v[0], 2.0f);
  EXPECT_EQ(v[1], 3.0f);
  EXPECT_EQ(obj.produce(0, 12, 8).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(obj.produce(2, 0, 1).status().code(), StatusCode::kOutOfRange);
}

TEST(DownloadableTest, BytesRangesShareTheBuffer) {
  BytesDownloadable obj(std::string("hello world"));
  EXPECT_EQ(obj.item(0).name, "data");
  EXPECT_EQ(obj.item(0).size, 11u);
  auto s = obj.produce(0, 6, 5);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->view(), "world");
}

class FileDownloadableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("nvf-dl-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "root";
    fs::create_directories(root_ / "sub");
    write(root_ / "sub" / "model.bin", "0123456789");
    write(base_ / "secret.txt", "top secret");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path base_;
  fs::path root_;
};

TEST_F(FileDownloadableTest, ServesRangesOfAFileUnderTheRoot) {
  auto f = FileDownloadable::open(root_, "sub/model.bin");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->item(0).size, 10u);
  EXPECT_EQ((*f)->item(0).name, "model.bin");
  auto s = (*f)->produce(0, 3, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->view(), "3456");
}

TEST_F(FileDownloadableTest, RejectsPathsThatLeaveTheRoot) {
  EXPECT_EQ(FileDownloadable::open(root_, "../secret.txt").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root_, "sub/../../secret.txt").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root_, (base_ / "secret.txt").string()).status().code(),
            StatusCode::kInvalidArgument);
  fs::create_symlink(base_ / "secret.txt", root_ / "link.txt");
  auto linked = FileDownloadable::open(root_, "link.txt");
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(linked.status().message().find("link.txt"), std::string::npos);
  fs::create_directory_symlink(base_, root_ / "up");
  EXPECT_EQ(FileDownloadable::open(root_, "up/secret.txt").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root_, "sub").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root_, "missing.bin").status().code(), StatusCode::kNotFound);
}

TEST(ChunkCacheTest, ProducesOncePerChunkForConcurrentReceivers) {
  constexpr int kReceivers = 16;
  ChunkCache cache(kReceivers);
  std::atomic<int> calls{0};
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto produce = [&]() -> Result<Slice> {
    if (++calls == 1) started.set_value();
    gate.wait();  // every receiver arrives while the chunk is still being produced
    return Slice::from_string("chunk");
  };
  std::vector<std::future<Result<Slice>>> got;
  for (int i = 0; i < kReceivers; ++i) {
    got.push_back(std::async(std::launch::async, [&, i] {
      return cache.get(0, 0, 5, "rx" + std::to_string(i), produce);
    }));
  }
  // Once the producer runs, the other receivers wait on its shared future (or hit the cache).
  auto producer_ran = started.get_future().wait_for(5s);
  release.set_value();
  ASSERT_EQ(producer_ran, std::future_status::ready);
  for (auto& f : got) {
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->view(), "chunk");
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache.size(), 0u);  // dropped after the 16th distinct receiver
}

TEST(ChunkCacheTest, DoesNotCacheFailuresAndCountsDistinctReceivers) {
  ChunkCache cache(2);
  int calls = 0;
  auto failing = [&]() -> Result<Slice> {
    ++calls;
    return UnavailableError("disk busy");
  };
  EXPECT_EQ(cache.get(0, 0, 4, "a", failing).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(cache.size(), 0u);
  auto ok = [&]() -> Result<Slice> {
    ++calls;
    return Slice::from_string("abcd");
  };
  EXPECT_TRUE(cache.get(0, 0, 4, "a", ok).ok());
  EXPECT_TRUE(cache.get(0, 0, 4, "a", ok).ok());  // a retry by the same receiver
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.get(0, 0, 4, "b", ok).ok());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(calls, 2);
}

class TransactionTableTest : public ::testing::Test {
 protected:
  std::shared_ptr<Downloadable> blob() {
    return std::make_shared<BytesDownloadable>(std::string("xyz"));
  }
  base::ManualClock clock_;
  TransactionTable table_{clock_};
};

TEST_F(TransactionTableTest, FinishesWhenEveryRefHasAllReceivers) {
  std::string tx = table_.create(TransactionOptions{2, 1000ms, nullptr});
  EXPECT_EQ(tx[0], 'T');
  auto r1 = table_.add(tx, blob(), 4);
  auto r2 = table_.add(tx, blob(), 4);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ((*r1)[0], 'R');
  EXPECT_FALSE(*table_.complete(*r1, "site-1"));
  EXPECT_FALSE(*table_.complete(*r1, "site-1"));  // the same receiver counts once
  EXPECT_FALSE(*table_.complete(*r1, "site-2"));
  EXPECT_FALSE(*table_.complete(*r2, "site-1"));
  EXPECT_TRUE(*table_.complete(*r2, "site-2"));
  auto ended = table_.take_ended();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].outcome, TransactionOutcome::kFinished);
  EXPECT_EQ(ended[0].completions.at(*r1), 2u);
  EXPECT_EQ(table_.ref_count(), 0u);
  EXPECT_EQ(table_.touch(*r1).status().code(), StatusCode::kNotFound);
}

TEST_F(TransactionTableTest, TimesOutAfterIdleTimeoutAndRequestsExtendIt) {
  std::string tx = table_.create(TransactionOptions{0, 1000ms, nullptr});
  auto ref = table_.add(tx, blob(), 4);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(*table_.next_expiry(), clock_.now() + 1000ms);
  clock_.advance(900ms);
  EXPECT_TRUE(table_.touch(*ref).ok());
  clock_.advance(900ms);
  EXPECT_TRUE(table_.take_ended().empty());
  clock_.advance(100ms);
  auto ended = table_.take_ended();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].outcome, TransactionOutcome::kTimedOut);
  EXPECT_FALSE(table_.next_expiry().has_value());
}

TEST_F(TransactionTableTest, EndedTransactionCallsDoneOnceAndReleasesObjects) {
  int calls = 0;
  TransactionOutcome seen = TransactionOutcome::kFinished;
  std::string tx = table_.create(TransactionOptions{
      1, 1000ms,
      [&](const std::string&, TransactionOutcome o, const std::map<std::string, size_t>& c) {
        ++calls;
        seen = o;
        EXPECT_EQ(c.size(), 1u);
      }});
  auto obj = blob();
  std::weak_ptr<Downloadable> weak = obj;
  ASSERT_TRUE(table_.add(tx, std::move(obj), 4).ok());
  auto ended = table_.remove(tx, TransactionOutcome::kDeleted);
  ASSERT_TRUE(ended.ok());
  EXPECT_FALSE(weak.expired());
  ended->finish();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, TransactionOutcome::kDeleted);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(table_.remove(tx, TransactionOutcome::kDeleted).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(table_.add(tx, blob(), 4).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace nvf::cellnet
