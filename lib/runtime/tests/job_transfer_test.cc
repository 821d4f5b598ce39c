#include "runtime/job_transfer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <string>

#include "base/files.h"
#include "cellnet/downloadable.h"
#include "cellnet/inproc_driver.h"
#include "job/archive.h"
#include "runtime/deploy_protocol.h"

namespace nvf::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::atomic<int> g_net{0};

class JobTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tmp = base::make_temp_dir("nvf-jt");
    ASSERT_TRUE(tmp.ok());
    dir_ = *tmp;
    drivers_.add(std::make_shared<cellnet::InprocDriver>());
    const std::string url = "inproc://jt" + std::to_string(++g_net);
    server_ = make_cell("server");
    ASSERT_TRUE(server_->listen(url).ok());
    site_ = make_cell("site-1");
    site_->connect(url).ignore();
    ASSERT_TRUE(site_->wait_for_peer("server", 5s).ok());
    service_ = std::make_unique<cellnet::DownloadService>(*server_);
    ASSERT_TRUE(service_->start().ok());
  }
  void TearDown() override {
    service_->stop();
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  cellnet::Cell* make_cell(const std::string& name) {
    cellnet::CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    cells_.push_back(std::make_unique<cellnet::Cell>(o));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  std::string random_bytes(size_t n) {
    std::mt19937_64 rng(7);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }

  fs::path dir_;
  cellnet::DriverRegistry drivers_;
  std::vector<std::unique_ptr<cellnet::Cell>> cells_;
  cellnet::Cell* server_ = nullptr;
  cellnet::Cell* site_ = nullptr;
  std::unique_ptr<cellnet::DownloadService> service_;
};

// Proves: an offered zip (several ranges long) arrives byte for byte in the destination file.
TEST_F(JobTransferTest, AnOfferedZipIsPulledByteForByte) {
  const std::string bytes = random_bytes((5u << 20) + 123);
  ASSERT_TRUE(base::atomic_write(dir_ / "job.zip", bytes).ok());
  auto offer = offer_job_zip(*service_, dir_ / "job.zip", 1, 10s);
  ASSERT_TRUE(offer.ok()) << offer.status().to_string();
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  ASSERT_TRUE(receive_job_zip(*site_, m, "server", dir_ / "got.zip", kMaxJobZipBytes).ok());
  EXPECT_EQ(*base::read_file(dir_ / "got.zip"), bytes);
}

// Proves: without an offer, the payload is the zip.
TEST_F(JobTransferTest, APayloadWithoutAnOfferIsWritten) {
  cellnet::Message m = cellnet::Message::of("PK-bytes");
  ASSERT_TRUE(receive_job_zip(*site_, m, "server", dir_ / "got.zip", kMaxJobZipBytes).ok());
  EXPECT_EQ(*base::read_file(dir_ / "got.zip"), "PK-bytes");
  EXPECT_EQ(receive_job_zip(*site_, m, "server", dir_ / "small.zip", 4).code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(fs::exists(dir_ / "small.zip"));
}

// Proves: an offer naming another cell than the sender (a peer trying to make the receiver pull
// from a third party), a malformed offer, an offer of tensors and one over the size limit are
// refused, naming the reason, and no file is written.
TEST_F(JobTransferTest, OffersFromAnotherCellMalformedOrTooLargeAreRefused) {
  ASSERT_TRUE(base::atomic_write(dir_ / "job.zip", random_bytes(4096)).ok());
  auto offer = offer_job_zip(*service_, dir_ / "job.zip", 1, 10s);
  ASSERT_TRUE(offer.ok());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  Status foreign = receive_job_zip(*site_, m, "site-2", dir_ / "got.zip", kMaxJobZipBytes);
  EXPECT_EQ(foreign.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(foreign.message().find("'server', not by its sender 'site-2'"), std::string::npos) << foreign.message();
  Status large = receive_job_zip(*site_, m, "server", dir_ / "got.zip", 100);
  EXPECT_EQ(large.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(large.message().find("4096 bytes"), std::string::npos) << large.message();
  cellnet::Message bad;
  bad.headers.set(deploy::kHdrJobZip, "{not json");
  Status malformed = receive_job_zip(*site_, bad, "server", dir_ / "got.zip", kMaxJobZipBytes);
  EXPECT_EQ(malformed.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(malformed.message().find("job_zip"), std::string::npos) << malformed.message();
  EXPECT_FALSE(fs::exists(dir_ / "got.zip"));
  // The refused offer is still served: a proper receiver gets it.
  ASSERT_TRUE(receive_job_zip(*site_, m, "server", dir_ / "got.zip", kMaxJobZipBytes).ok());
}

// The job folder of these tests zipped: a large file that does not shrink (stored, many ranges)
// and small ones (deflated).
std::string zip_of_job(const fs::path& dir, const std::string& big) {
  const fs::path job = dir / "src" / "job";
  fs::create_directories(job / "app" / "custom");
  EXPECT_TRUE(base::atomic_write(job / "meta.json", "{\"name\": \"job\"}").ok());
  EXPECT_TRUE(base::atomic_write(job / "app" / "custom" / "checkpoint.bin", big).ok());
  EXPECT_TRUE(job::pack_zip(job, dir / "job.zip").ok());
  return *base::read_file(dir / "job.zip");
}

// Proves: an offered zip many ranges long is extracted as it arrives, to the same files, without
// the zip being written at the receiver, and the sender's transaction sees it pulled in full
// (the streaming extraction stops before the central directory; the rest is still pulled).
TEST_F(JobTransferTest, AnOfferedZipIsExtractedAsItArrives) {
  const std::string big = random_bytes((20u << 20) + 321);
  zip_of_job(dir_, big);
  // offer_job_zip's transaction, with a callback that says how it ended.
  std::promise<cellnet::TransactionOutcome> ended;
  cellnet::TransactionOptions tx;
  tx.num_receivers = 1;
  tx.idle_timeout = 10s;
  tx.done = [&](const std::string&, cellnet::TransactionOutcome outcome, const std::map<std::string, size_t>&) {
    ended.set_value(outcome);
  };
  const std::string tx_id = service_->new_transaction(std::move(tx));
  auto file = cellnet::FileDownloadable::open(dir_, "job.zip");
  ASSERT_TRUE(file.ok());
  auto ref = service_->add(tx_id, std::move(*file));
  ASSERT_TRUE(ref.ok());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, service_->manifest(*ref)->encode());
  fs::create_directories(dir_ / "site");
  Status s = receive_and_unpack_job_zip(*site_, m, "server", dir_ / "site" / "staging", kMaxJobZipBytes);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(*base::read_file(dir_ / "site" / "staging" / "job" / "app" / "custom" / "checkpoint.bin"), big);
  EXPECT_EQ(*base::read_file(dir_ / "site" / "staging" / "job" / "meta.json"), "{\"name\": \"job\"}");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ / "site")) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"staging"});  // no zip, no temp folder
  // Pulled in full: the one receiver completed the ref and the transaction finished.
  auto outcome = ended.get_future();
  ASSERT_EQ(outcome.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(outcome.get(), cellnet::TransactionOutcome::kFinished);
}

// Proves: with a copy asked for (the server storing a submitted job), the zip is extracted and
// written in the same pass, the copy byte for byte the sender's; from a payload too.
TEST_F(JobTransferTest, AnOfferedZipIsExtractedAndKeptInOnePass) {
  const std::string zip = zip_of_job(dir_, random_bytes((5u << 20) + 7));
  auto offer = offer_job_zip(*service_, dir_ / "job.zip", 1, 10s);
  ASSERT_TRUE(offer.ok());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  Status s = receive_and_unpack_job_zip(*site_, m, "server", dir_ / "x", kMaxJobZipBytes, dir_ / "kept.zip");
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(*base::read_file(dir_ / "kept.zip"), zip);
  EXPECT_TRUE(fs::is_regular_file(dir_ / "x" / "job" / "app" / "custom" / "checkpoint.bin"));
  ASSERT_TRUE(receive_and_unpack_job_zip(*site_, cellnet::Message::of(zip), "server", dir_ / "y", kMaxJobZipBytes,
                                         dir_ / "kept2.zip")
                  .ok());
  EXPECT_EQ(*base::read_file(dir_ / "kept2.zip"), zip);
}

// Proves: an offered zip the extractor refuses (an entry leaving the folder, or no zip at all)
// stops the pull with the extractor's reason, a payload zip is extracted the same, and neither
// leaves anything; the receiver never waits on the pull after the extraction stopped.
TEST_F(JobTransferTest, ARefusedZipStopsThePullAndLeavesNothing) {
  ASSERT_TRUE(base::atomic_write(dir_ / "garbage.zip", random_bytes(12u << 20)).ok());
  auto offer = offer_job_zip(*service_, dir_ / "garbage.zip", 1, 10s);
  ASSERT_TRUE(offer.ok());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  auto refused = std::async(std::launch::async, [&] {
    return receive_and_unpack_job_zip(*site_, m, "server", dir_ / "staging", kMaxJobZipBytes, dir_ / "kept.zip");
  });
  ASSERT_EQ(refused.wait_for(30s), std::future_status::ready);
  Status s = refused.get();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("not a readable zip archive"), std::string::npos) << s.to_string();
  EXPECT_FALSE(fs::exists(dir_ / "staging"));
  EXPECT_FALSE(fs::exists(dir_ / "kept.zip"));

  cellnet::Message payload = cellnet::Message::of("this is not a zip");
  Status p = receive_and_unpack_job_zip(*site_, payload, "server", dir_ / "staging", kMaxJobZipBytes);
  EXPECT_EQ(p.code(), StatusCode::kInvalidArgument) << p.to_string();
  EXPECT_FALSE(fs::exists(dir_ / "staging"));
  const std::string zip = zip_of_job(dir_, "small");
  ASSERT_TRUE(receive_and_unpack_job_zip(*site_, cellnet::Message::of(zip), "server", dir_ / "staging",
                                         kMaxJobZipBytes).ok());
  EXPECT_EQ(*base::read_file(dir_ / "staging" / "job" / "app" / "custom" / "checkpoint.bin"), "small");
  EXPECT_EQ(receive_and_unpack_job_zip(*site_, cellnet::Message::of(zip), "server", dir_ / "other", 10).code(),
            StatusCode::kResourceExhausted);
}

// Proves: an offer from another cell than the sender is refused before anything is pulled, and a
// pull that fails (the transaction gone) is that error, naming the sender, with nothing left.
TEST_F(JobTransferTest, AForeignOfferOrAFailedPullLeavesNothing) {
  zip_of_job(dir_, random_bytes(6u << 20));
  auto offer = offer_job_zip(*service_, dir_ / "job.zip", 1, 10s);
  ASSERT_TRUE(offer.ok());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  Status foreign = receive_and_unpack_job_zip(*site_, m, "site-2", dir_ / "staging", kMaxJobZipBytes);
  EXPECT_EQ(foreign.code(), StatusCode::kPermissionDenied) << foreign.to_string();
  ASSERT_TRUE(service_->delete_transaction(offer->tx_id).ok());
  Status gone = receive_and_unpack_job_zip(*site_, m, "server", dir_ / "staging", kMaxJobZipBytes);
  EXPECT_EQ(gone.code(), StatusCode::kNotFound) << gone.to_string();
  EXPECT_NE(gone.message().find("pulling the job zip from server"), std::string::npos) << gone.to_string();
  EXPECT_FALSE(fs::exists(dir_ / "staging"));
}

// Proves: a file that cannot be offered is an error naming it.
TEST_F(JobTransferTest, OfferingAMissingFileNamesIt) {
  auto offer = offer_job_zip(*service_, dir_ / "missing.zip", 1, 10s);
  ASSERT_FALSE(offer.ok());
  EXPECT_NE(offer.status().message().find("missing.zip"), std::string::npos) << offer.status().message();
}

}  // namespace
}  // namespace nvf::runtime
