#include "runtime/job_transfer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "base/files.h"
#include "cellnet/inproc_driver.h"
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

// Proves: a file that cannot be offered is an error naming it.
TEST_F(JobTransferTest, OfferingAMissingFileNamesIt) {
  auto offer = offer_job_zip(*service_, dir_ / "missing.zip", 1, 10s);
  ASSERT_FALSE(offer.ok());
  EXPECT_NE(offer.status().message().find("missing.zip"), std::string::npos) << offer.status().message();
}

}  // namespace
}  // namespace nvf::runtime
