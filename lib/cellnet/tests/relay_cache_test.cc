// RelayCache: a relay cell between a source ("server") and many receivers below it
// ("R1.c-N"), over the in-process driver. Counts what the source produced and served.
#include "cellnet/relay_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "cellnet/download_wire_internal.h"
#include "cellnet/downloader.h"
#include "cellnet/inproc_driver.h"

namespace nvf::cellnet {
namespace {

using namespace std::chrono_literals;
namespace wire = download_wire;

std::atomic<int> g_counter{0};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) % 251);
  return s;
}

// A blob that counts produce() calls per offset; produce() of `hold_offset` waits until
// produce() of `release_offset` has started (or 5 s pass: then it fails), which only works when
// the two are produced concurrently.
class Blob : public Downloadable {
 public:
  explicit Blob(std::string bytes) : bytes_(std::move(bytes)) {
    item_.name = "blob";
    item_.size = bytes_.size();
  }
  size_t item_count() const override { return 1; }
  const DownloadItem& item(size_t) const override { return item_; }
  Result<Slice> produce(size_t, uint64_t offset, uint64_t length) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++calls_[offset];
      if (offset == release_offset) released_ = true;
      cv_.notify_all();
      if (offset == hold_offset && !cv_.wait_for(lock, 5s, [&] { return released_; })) {
        return InternalError("offset " + std::to_string(offset) + " was produced alone");
      }
    }
    return Slice::copy_of(std::string_view(bytes_).substr(offset, length));
  }
  std::map<uint64_t, int> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int64_t hold_offset = -1, release_offset = -1;

 private:
  std::string bytes_;
  DownloadItem item_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> calls_;
  bool released_ = false;
};

class RelayCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    drivers_.add(std::make_shared<InprocDriver>());
    prefix_ = "inproc://rc" + std::to_string(++g_counter) + "-";
    server_ = make("server");
    ASSERT_TRUE(server_->listen(prefix_ + "server").ok());
    relay_ = make("R1");
    ASSERT_TRUE(relay_->listen(prefix_ + "R1").ok());
    ASSERT_TRUE(relay_->connect(prefix_ + "server").ok());
    ASSERT_TRUE(relay_->wait_for_peer("server", 5s).ok());
    ASSERT_TRUE(server_->wait_for_peer("R1", 5s).ok());
    service_ = std::make_unique<DownloadService>(*server_);
    ASSERT_TRUE(service_->start().ok());
  }
  void TearDown() override {
    cache_.reset();
    service_->stop();
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
  }
  Cell* make(const std::string& name) {
    CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.reconnect_initial = 20ms;
    o.monitor_interval = 50ms;
    cells_.push_back(std::make_unique<Cell>(o));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  Cell* child(const std::string& name) {
    Cell* c = make("R1." + name);
    EXPECT_TRUE(c->connect(prefix_ + "R1").ok());
    EXPECT_TRUE(c->wait_for_peer("R1", 5s).ok());
    EXPECT_TRUE(relay_->wait_for_peer("R1." + name, 5s).ok());
    return c;
  }
  void install(RelayCacheOptions o) {
    cache_ = std::make_unique<RelayCache>(*relay_, o);
    cache_->install();
  }
  // One raw "get" of [offset, offset+length) of `ref`, as a Downloader sends it.
  std::future<Result<Message>> get(Cell* from, const std::string& ref, uint64_t offset, uint64_t length,
                                   const std::string& receiver) {
    Message m;
    m.headers.set(wire::kOp, std::string(wire::kOpGet));
    m.headers.set(wire::kRef, ref);
    m.headers.set_int(wire::kItem, 0);
    m.headers.set_int(wire::kOffset, static_cast<int64_t>(offset));
    m.headers.set_int(wire::kLength, static_cast<int64_t>(length));
    m.headers.set(wire::kReceiver, receiver);
    auto p = std::make_shared<std::promise<Result<Message>>>();
    from->request_async("server", std::string(wire::kChannel), std::string(wire::kTopic), std::move(m), 10s,
                        [p](Result<Message> r) { p->set_value(std::move(r)); });
    return p->get_future();
  }

  DriverRegistry drivers_;
  std::string prefix_;
  std::vector<std::unique_ptr<Cell>> cells_;
  Cell* server_ = nullptr;
  Cell* relay_ = nullptr;
  std::unique_ptr<DownloadService> service_;
  std::unique_ptr<RelayCache> cache_;
};

// Proves: 24 receivers behind one relay pulling the same ref get every byte, while the source is
// asked for each chunk once (it serves 11 chunks, not 264) and the cache stays within its bound.
TEST_F(RelayCacheTest, TwentyFourReceiversCostTheSourceEachChunkOnce) {
  install(RelayCacheOptions{64 << 10, 10s, 60s, 0ms});
  const std::string bytes = pattern(10 * 1000 + 7);
  auto blob = std::make_shared<Blob>(bytes);
  TransactionOptions to;
  to.num_receivers = 24;
  std::promise<std::pair<TransactionOutcome, size_t>> ended;
  to.done = [&ended](const std::string&, TransactionOutcome outcome, const std::map<std::string, size_t>& c) {
    ended.set_value({outcome, c.empty() ? 0 : c.begin()->second});
  };
  auto ended_future = ended.get_future();
  std::string tx = service_->new_transaction(to);
  auto ref = service_->add(tx, blob, /*chunk_size=*/1000);  // 11 chunks
  ASSERT_TRUE(ref.ok());
  auto manifest = *service_->manifest(*ref);
  std::vector<Cell*> children;
  for (int i = 0; i < 6; ++i) children.push_back(child("c-" + std::to_string(i)));
  std::vector<std::future<Result<Buffer>>> got;
  for (int r = 0; r < 24; ++r) {
    got.push_back(std::async(std::launch::async, [&, r] {
      DownloadOptions o;
      o.per_request_timeout = 10s;
      o.receiver_id = "receiver-" + std::to_string(r);
      return download_bytes(*children[r % 6], manifest, o);
    }));
  }
  for (auto& f : got) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    auto b = f.get();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(b->to_string(), bytes);
  }
  EXPECT_EQ(service_->stats().chunks_served, 11u);
  for (const auto& [offset, n] : blob->calls()) EXPECT_EQ(n, 1) << "offset " << offset;
  auto s = cache_->stats();
  EXPECT_EQ(s.fetches, 11u);
  EXPECT_EQ(s.fetched_bytes, bytes.size());
  EXPECT_EQ(s.served_from_cache, 24u * 11u - 11u);
  EXPECT_LE(s.peak_held_bytes, 64u << 10);
  // Every receiver said "done" through the relay: the source counted all 24 and the transaction
  // finished (the last "done" may land after the download returned: waited for), and the ref's
  // entries go at the next sweep after done_grace (0 here).
  ASSERT_EQ(ended_future.wait_for(10s), std::future_status::ready);
  auto [outcome, completions] = ended_future.get();
  EXPECT_EQ(outcome, TransactionOutcome::kFinished);
  EXPECT_EQ(completions, 24u);
  EXPECT_EQ(s.entries, 11u);
  cache_->sweep();
  EXPECT_EQ(cache_->stats().entries, 0u);
  EXPECT_EQ(cache_->stats().held_bytes, 0u);
}

// Proves: fetches of different chunks run at once (the source's produce() of chunk 0 finishes
// only once chunk 1 is being produced), and receivers waiting for chunk 0 do not hold up chunk 1.
TEST_F(RelayCacheTest, DifferentChunksAreFetchedConcurrently) {
  install(RelayCacheOptions{});
  const std::string bytes = pattern(4000);
  auto blob = std::make_shared<Blob>(bytes);
  blob->hold_offset = 0;
  blob->release_offset = 1000;
  std::string tx = service_->new_transaction(TransactionOptions{});
  auto ref = service_->add(tx, blob, 1000);
  ASSERT_TRUE(ref.ok());
  Cell* a = child("a");
  Cell* b = child("b");
  auto a0 = get(a, *ref, 0, 1000, "a");
  auto b0 = get(b, *ref, 0, 1000, "b");  // waits for a's fetch, not a new one
  auto b1 = get(b, *ref, 1000, 1000, "b");
  for (auto* f : {&a0, &b0, &b1}) ASSERT_EQ(f->wait_for(10s), std::future_status::ready);
  auto r0 = a0.get(), r0b = b0.get(), r1 = b1.get();
  ASSERT_TRUE(r0.ok()) << r0.status().to_string();
  ASSERT_TRUE(r0b.ok()) << r0b.status().to_string();
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  EXPECT_EQ(r0->headers.get_or(wire::kCode, "?"), "0") << r0->headers.get_or(wire::kError, "");
  EXPECT_EQ(r0->payload.to_string(), bytes.substr(0, 1000));
  EXPECT_EQ(r0b->payload.to_string(), bytes.substr(0, 1000));
  EXPECT_EQ(r1->payload.to_string(), bytes.substr(1000, 1000));
  EXPECT_EQ(r0->headers.get_or(hdr::kOrigin, ""), "server");  // answered in the source's name
  EXPECT_EQ(blob->calls(), (std::map<uint64_t, int>{{0, 1}, {1000, 1}}));
}

// Proves: a receiver that stalls (it took chunk 0 and never comes back) keeps nothing pinned:
// the bound holds by dropping the least recently used chunks, and the others finish.
TEST_F(RelayCacheTest, AStalledReceiverDoesNotBlockTheOthersAndTheBoundHolds) {
  install(RelayCacheOptions{3 * 4096, 10s, 60s, 5s});  // three chunks
  const std::string bytes = pattern(20 * 4096);
  auto blob = std::make_shared<Blob>(bytes);
  std::string tx = service_->new_transaction(TransactionOptions{});
  auto ref = service_->add(tx, blob, 4096);
  ASSERT_TRUE(ref.ok());
  auto manifest = *service_->manifest(*ref);
  Cell* stalled = child("stalled");
  auto first = get(stalled, *ref, 0, 4096, "stalled");
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(first.get().ok());
  std::vector<Cell*> others{child("x"), child("y"), child("z")};
  std::vector<std::future<Result<Buffer>>> got;
  for (int r = 0; r < 3; ++r) {
    got.push_back(std::async(std::launch::async, [&, r] {
      DownloadOptions o;
      o.per_request_timeout = 10s;
      o.receiver_id = "other-" + std::to_string(r);
      return download_bytes(*others[r], manifest, o);
    }));
  }
  for (auto& f : got) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    auto b = f.get();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(b->to_string(), bytes);
  }
  auto s = cache_->stats();
  EXPECT_LE(s.peak_held_bytes, 3u * 4096);
  EXPECT_LE(s.held_bytes, 3u * 4096);
  EXPECT_GE(s.fetches + s.passed_through, 20u);  // each of the 20 chunks reached the source at least once
}

// Proves: a child asking for tiny ranges cannot grow the cache's table past its bound (each
// entry counts at least 4 KiB).
TEST_F(RelayCacheTest, TinyRangesCountAtLeastAPageEach) {
  install(RelayCacheOptions{8 * 4096, 10s, 60s, 5s});
  const std::string bytes = pattern(1000);
  std::string tx = service_->new_transaction(TransactionOptions{});
  auto ref = service_->add(tx, std::make_shared<Blob>(bytes), 1000);
  ASSERT_TRUE(ref.ok());
  Cell* a = child("a");
  for (uint64_t offset = 0; offset < 100; ++offset) {
    auto r = get(a, *ref, offset, 1, "a");
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
    auto m = r.get();
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->payload.to_string(), bytes.substr(offset, 1));
  }
  auto s = cache_->stats();
  EXPECT_LE(s.entries, 8u);
  EXPECT_LE(s.peak_held_bytes, 8u * 4096);
}

// Proves: only downloads from above are cached: the source pulling from a child (a result) passes
// through untouched.
TEST_F(RelayCacheTest, PullsFromAboveByTheSourceAreNotCached) {
  install(RelayCacheOptions{});
  Cell* a = child("a");
  DownloadService below(*a);
  ASSERT_TRUE(below.start().ok());
  const std::string bytes = pattern(3000);
  std::string tx = below.new_transaction(TransactionOptions{});
  auto ref = below.add(tx, std::make_shared<Blob>(bytes), 1000);
  ASSERT_TRUE(ref.ok());
  DownloadOptions o;
  o.per_request_timeout = 10s;
  auto got = download_bytes(*server_, "R1.a", *ref, o);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->to_string(), bytes);
  EXPECT_EQ(cache_->stats().fetches, 0u);
  EXPECT_EQ(cache_->stats().served_from_cache, 0u);
  below.stop();
}

// Proves: errors are passed on and never kept: a ref the source does not know is NOT_FOUND for
// every asker, and each asks again.
TEST_F(RelayCacheTest, ErrorsReachTheReceiverAndAreNotCached) {
  install(RelayCacheOptions{});
  Cell* a = child("a");
  for (int i = 0; i < 2; ++i) {
    auto r = get(a, "R-no-such-ref", 0, 1000, "a");
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
    auto m = r.get();
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->headers.get_or(wire::kCode, "0"), std::to_string(static_cast<int>(StatusCode::kNotFound)));
  }
  EXPECT_EQ(cache_->stats().fetches, 2u);
  EXPECT_EQ(cache_->stats().entries, 0u);
}

}  // namespace
}  // namespace nvf::cellnet
