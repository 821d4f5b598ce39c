// Downloads end to end: a DownloadService on one cell, Downloaders on others, over the in-process
// driver. Waits are on futures with deadlines; timeouts and back-offs are set in milliseconds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "base/files.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "cellnet/download_wire_internal.h"
#include "cellnet/downloader.h"
#include "cellnet/inproc_driver.h"
#include "cellnet/socket_driver.h"

namespace nvf::cellnet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tensor::DType;
using tensor::Tensor;
using tensor::TensorDict;

std::atomic<int> g_network{0};

uint64_t fnv1a(const std::byte* p, size_t n, uint64_t h = 1469598103934665603ull) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<uint8_t>(p[i])) * 1099511628211ull;
  return h;
}

uint64_t checksum(const TensorDict& d) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& [name, t] : d) {
    h = fnv1a(reinterpret_cast<const std::byte*>(name.data()), name.size(), h);
    h = fnv1a(t.data(), t.nbytes(), h);
  }
  return h;
}

uint64_t checksum(const Buffer& b) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& s : b.slices()) h = fnv1a(s.data, s.size, h);
  return h;
}

// Bytes whose every position differs from its neighbours (so a misplaced range shows).
std::string pattern(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

Tensor pattern_tensor(DType dtype, tensor::Shape shape, uint32_t seed) {
  auto t = Tensor::zeros(dtype, std::move(shape));
  NVF_CHECK(t.ok());
  std::string bytes = pattern(t->nbytes(), seed);
  if (dtype == DType::kBool) {
    for (auto& c : bytes) c = static_cast<char>(c & 1);
  }
  if (t->nbytes()) std::memcpy(t->mutable_data(), bytes.data(), bytes.size());
  return std::move(t).value();
}

// A blob whose produce() is counted, optionally failing the first `fail_first` calls with
// UNAVAILABLE (a dropped connection as the receiver sees it) and calling `on_failure` each time.
class CountingBlob : public Downloadable {
 public:
  CountingBlob(std::string bytes, bool cacheable, int fail_first = 0)
      : bytes_(std::move(bytes)), cacheable_(cacheable), fail_first_(fail_first) {
    item_.name = "blob";
    item_.size = bytes_.size();
  }
  size_t item_count() const override { return 1; }
  const DownloadItem& item(size_t) const override { return item_; }
  bool cacheable() const override { return cacheable_; }
  Result<Slice> produce(size_t, uint64_t offset, uint64_t length) override {
    int call = ++calls;
    if (on_produce) on_produce();
    if (call <= fail_first_) {
      if (on_failure) on_failure();
      return UnavailableError("simulated connection drop #" + std::to_string(call));
    }
    // Copies, as an encoder would: the cache is what keeps this once per chunk.
    return Slice::copy_of(std::string_view(bytes_).substr(offset, length));
  }

  std::atomic<int> calls{0};
  std::function<void()> on_failure;
  std::function<void()> on_produce;

 private:
  std::string bytes_;
  bool cacheable_;
  int fail_first_;
  DownloadItem item_;
};

// The in-process driver with a switch that drops every connection made through it so far (as a
// network failure would); the cells then reconnect on their own.
class DroppableDriver : public Driver {
 public:
  explicit DroppableDriver(std::shared_ptr<Driver> inner) : inner_(std::move(inner)) {}
  std::vector<std::string> schemes() const override { return inner_->schemes(); }
  Result<std::unique_ptr<Listener>> listen(const std::string& url,
                                           ConnectionHandler* handler) override {
    return inner_->listen(url, handler);
  }
  Result<std::shared_ptr<Connection>> connect(const std::string& url, ConnectionHandler* handler,
                                              std::chrono::milliseconds timeout) override {
    auto conn = inner_->connect(url, handler, timeout);
    if (conn.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      conns_.push_back(*conn);
    }
    return conn;
  }
  void stop() override { inner_->stop(); }
  void drop_all() {
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns.swap(conns_);
    }
    for (auto& c : conns) c->close(UnavailableError("connection dropped by the test"));
  }

 private:
  std::shared_ptr<Driver> inner_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> conns_;  // guarded by mu_
};

struct DoneRecord {
  std::string tx_id;
  TransactionOutcome outcome;
  std::map<std::string, size_t> completions;
};

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = std::make_shared<DroppableDriver>(make_inner_driver());
    drivers_.add(driver_);
    prefix_ = "inproc://dl" + std::to_string(++g_network) + "-";
    server_ = make("server");
    auto url = server_->listen(listen_url("server"));
    ASSERT_TRUE(url.ok()) << url.status().to_string();
    urls_["server"] = *url;
    service_ = std::make_unique<DownloadService>(*server_);
    ASSERT_TRUE(service_->start().ok());
  }
  void TearDown() override {
    service_->stop();
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
  }

  // The transport under test (TcpDownloadTest overrides both).
  virtual std::shared_ptr<Driver> make_inner_driver() { return std::make_shared<InprocDriver>(); }
  virtual std::string listen_url(const std::string& name) { return prefix_ + name; }

  Cell* make(const std::string& name, size_t callback_threads = 4) {
    CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.callback_threads = callback_threads;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 100ms;
    o.monitor_interval = 50ms;
    o.default_request_timeout = 30s;
    cells_.push_back(std::make_unique<Cell>(std::move(o)));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  // A cell that connects to `parent` (listening when it has children itself).
  Cell* make_site(const std::string& name, const std::string& parent = "server",
                  bool listen = false) {
    Cell* c = make(name);
    if (listen) {
      auto url = c->listen(listen_url(name));
      EXPECT_TRUE(url.ok()) << url.status().to_string();
      if (url.ok()) urls_[name] = *url;
    }
    EXPECT_TRUE(c->connect(urls_[parent]).ok());
    EXPECT_TRUE(c->wait_for_peer(parent, 5s).ok());
    return c;
  }

  static DownloadOptions fast_options() {
    DownloadOptions o;
    o.per_request_timeout = 10s;
    o.initial_backoff = 10ms;
    o.max_backoff = 40ms;
    return o;
  }

  // A transaction whose done callback fulfils the returned future.
  std::string transaction(size_t receivers, std::chrono::milliseconds idle,
                          std::future<DoneRecord>* done) {
    auto promise = std::make_shared<std::promise<DoneRecord>>();
    *done = promise->get_future();
    return service_->new_transaction(
        TransactionOptions{receivers, idle,
                           [promise](const std::string& tx, TransactionOutcome o,
                                     const std::map<std::string, size_t>& c) {
                             promise->set_value(DoneRecord{tx, o, c});
                           }});
  }

  // Tensors offered to one receiver in a new transaction, with what the receiver should get.
  struct Offered {
    std::string ref;
    uint64_t checksum = 0;
    uint64_t bytes = 0;
    std::future<DoneRecord> done;
  };
  Offered offer(TensorDict d, std::chrono::milliseconds idle = 10s,
                std::shared_ptr<Downloadable> (*wrap)(std::shared_ptr<Downloadable>) = nullptr) {
    Offered o;
    o.checksum = checksum(d);
    o.bytes = d.total_bytes();
    std::string tx = transaction(1, idle, &o.done);
    std::shared_ptr<Downloadable> source = std::make_shared<TensorDownloadable>(std::move(d));
    if (wrap) source = wrap(std::move(source));
    sources_.push_back(source);
    auto ref = service_->add(tx, source);
    EXPECT_TRUE(ref.ok()) << ref.status().to_string();
    if (ref.ok()) o.ref = *ref;
    return o;
  }

  std::vector<std::shared_ptr<Downloadable>> sources_;  // what offer() served, last one last
  std::shared_ptr<DroppableDriver> driver_;
  DriverRegistry drivers_;
  std::string prefix_;
  std::map<std::string, std::string> urls_;  // listening cell → its URL
  std::vector<std::unique_ptr<Cell>> cells_;
  Cell* server_ = nullptr;
  std::unique_ptr<DownloadService> service_;
};

TEST_F(DownloadTest, TensorsOfSeveralDtypesArriveByteForByte) {
  Cell* site = make_site("site-1");
  TensorDict d;
  ASSERT_TRUE(d.insert("conv.weight", pattern_tensor(DType::kF32, {3, 4, 5}, 1)).ok());
  ASSERT_TRUE(d.insert("half", pattern_tensor(DType::kF16, {17}, 2)).ok());
  ASSERT_TRUE(d.insert("bf", pattern_tensor(DType::kBF16, {2, 3, 4}, 3)).ok());
  ASSERT_TRUE(d.insert("steps", pattern_tensor(DType::kI64, {7}, 4)).ok());
  ASSERT_TRUE(d.insert("scalar", pattern_tensor(DType::kF64, {}, 5)).ok());
  ASSERT_TRUE(d.insert("empty", pattern_tensor(DType::kU8, {0, 3}, 6)).ok());
  ASSERT_TRUE(d.insert("mask", pattern_tensor(DType::kBool, {9}, 7)).ok());
  ASSERT_TRUE(d.insert("i8", pattern_tensor(DType::kI8, {33}, 8)).ok());
  const uint64_t expected = checksum(d);

  std::future<DoneRecord> done;
  std::string tx = transaction(1, 10s, &done);
  auto ref =
      service_->add(tx, std::make_shared<TensorDownloadable>(std::move(d)), /*chunk_size=*/13);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  auto manifest = service_->manifest(*ref);
  ASSERT_TRUE(manifest.ok());
  // What a message carries: the manifest as text.
  auto received = Manifest::decode(manifest->encode());
  ASSERT_TRUE(received.ok()) << received.status().to_string();

  DownloadStats stats;
  auto got = download_tensors(*site, *received, fast_options(), &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 8u);
  EXPECT_EQ(got->names(), (std::vector<std::string>{"conv.weight", "half", "bf", "steps", "scalar",
                                                    "empty", "mask", "i8"}));
  EXPECT_EQ(got->find("bf")->dtype(), DType::kBF16);
  EXPECT_EQ(got->find("bf")->shape(), (tensor::Shape{2, 3, 4}));
  EXPECT_EQ(got->find("empty")->shape(), (tensor::Shape{0, 3}));
  EXPECT_EQ(checksum(*got), expected);
  EXPECT_EQ(stats.bytes, received->total_bytes());
  EXPECT_GT(stats.requests, 10u);  // 13-byte ranges
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get().outcome, TransactionOutcome::kFinished);
}

TEST_F(DownloadTest, SixtyFourMiBTensorArrivesInManyChunks) {
  Cell* site = make_site("site-1");
  TensorDict d;
  ASSERT_TRUE(d.insert("big", pattern_tensor(DType::kF32, {16, 1024, 1024}, 42)).ok());
  Offered offered = offer(std::move(d));
  DownloadStats stats;
  auto got = download_tensors(*site, "server", offered.ref, fast_options(), &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->find("big")->nbytes(), 64u << 20);
  EXPECT_EQ(checksum(*got), offered.checksum);
  // 64 MiB in 1 MiB ranges: the source's 2 MiB chunk capped at the cell's streaming chunk size,
  // so that every reply is one frame.
  EXPECT_EQ(stats.requests, 64u);
  EXPECT_LE(stats.peak_in_flight, 4u);
  EXPECT_GE(stats.peak_in_flight, 2u);  // pipelined
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(service_->stats().bytes_served, 64u << 20);
  ASSERT_EQ(offered.done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(offered.done.get().outcome, TransactionOutcome::kFinished);
}

// FLARE 2.7.2's starvation case: every incoming message downloads its model inside the handler,
// with far more messages than handler threads on both sides.
void run_concurrent_downloads(DownloadTest* t, DownloadService& service, Cell* server, Cell* site,
                              int count) {
  site->register_request_handler("test", "model", [site](const Message& m) -> Result<Message> {
    NVF_ASSIGN_OR_RETURN(Manifest manifest, Manifest::decode(m.payload.to_string()));
    DownloadOptions o;
    o.per_request_timeout = 10s;
    o.initial_backoff = 10ms;
    NVF_ASSIGN_OR_RETURN(TensorDict d, download_tensors(*site, manifest, o));
    return Message::of(std::to_string(checksum(d)));
  });
  std::vector<uint64_t> expected(count);
  std::vector<std::future<DoneRecord>> done(count);
  std::vector<std::shared_ptr<std::promise<Result<Message>>>> replies;
  for (int i = 0; i < count; ++i) {
    TensorDict d;
    for (int k = 0; k < 5; ++k) {
      ASSERT_TRUE(
          d.insert("layer" + std::to_string(k), pattern_tensor(DType::kF32, {100 + k}, i * 10 + k))
              .ok());
    }
    expected[i] = checksum(d);
    auto promise = std::make_shared<std::promise<DoneRecord>>();
    done[i] = promise->get_future();
    std::string tx = service.new_transaction(
        TransactionOptions{1, 30s,
                           [promise](const std::string& id, TransactionOutcome o,
                                     const std::map<std::string, size_t>& c) {
                             promise->set_value(DoneRecord{id, o, c});
                           }});
    auto ref = service.add(tx, std::make_shared<TensorDownloadable>(std::move(d)));
    ASSERT_TRUE(ref.ok());
    auto reply = std::make_shared<std::promise<Result<Message>>>();
    replies.push_back(reply);
    server->request_async(site->fqcn(), "test", "model",
                          Message::of(service.manifest(*ref)->encode()), 60s,
                          [reply](Result<Message> r) { reply->set_value(std::move(r)); });
  }
  for (int i = 0; i < count; ++i) {
    auto f = replies[i]->get_future();
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready) << "message " << i;
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->payload.to_string(), std::to_string(expected[i])) << "message " << i;
    ASSERT_EQ(done[i].wait_for(10s), std::future_status::ready);
    EXPECT_EQ(done[i].get().outcome, TransactionOutcome::kFinished);
  }
  (void)t;
}

TEST_F(DownloadTest, ConcurrentDownloadsInHandlersCompleteWithFourCallbackThreads) {
  Cell* site = make_site("site-1");
  ASSERT_EQ(site->options().callback_threads, 4u);
  ASSERT_EQ(server_->options().callback_threads, 4u);
  run_concurrent_downloads(this, *service_, server_, site, 8);
  run_concurrent_downloads(this, *service_, server_, site, 100);
  EXPECT_EQ(service_->transaction_count(), 0u);
}

TEST_F(DownloadTest, ThirtyTwoReceiversProduceEachChunkOnce) {
  std::vector<Cell*> sites;
  for (int i = 1; i <= 4; ++i) sites.push_back(make_site("site-" + std::to_string(i)));
  const std::string bytes = pattern(10 * 1000 + 7, 9);
  auto blob = std::make_shared<CountingBlob>(bytes, /*cacheable=*/true);
  std::future<DoneRecord> done;
  std::string tx = transaction(32, 30s, &done);
  auto ref = service_->add(tx, blob, /*chunk_size=*/1000);  // 11 chunks
  ASSERT_TRUE(ref.ok());
  auto manifest = *service_->manifest(*ref);

  std::vector<std::future<Result<Buffer>>> got;
  for (int r = 0; r < 32; ++r) {
    got.push_back(std::async(std::launch::async, [&, r] {
      DownloadOptions o = fast_options();
      o.receiver_id = "receiver-" + std::to_string(r);
      return download_bytes(*sites[r % 4], manifest, o);
    }));
  }
  Buffer expected(Slice::from_string(bytes));
  for (auto& f : got) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    auto b = f.get();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(checksum(*b), checksum(expected));
  }
  EXPECT_EQ(blob->calls.load(), 11);
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  DoneRecord rec = done.get();
  EXPECT_EQ(rec.outcome, TransactionOutcome::kFinished);
  EXPECT_EQ(rec.completions.at(*ref), 32u);
}

TEST_F(DownloadTest, FinishedAfterAllReceiversThenRefIsNotFound) {
  Cell* s1 = make_site("site-1");
  Cell* s2 = make_site("site-2");
  std::future<DoneRecord> done;
  std::string tx = transaction(2, 30s, &done);
  auto ref = service_->add(tx, std::make_shared<BytesDownloadable>(pattern(5000)));
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(download_bytes(*s1, "server", *ref, fast_options()).ok());
  EXPECT_EQ(done.wait_for(0ms), std::future_status::timeout);  // one of two receivers
  EXPECT_EQ(service_->completions(*ref), std::optional<size_t>(1));
  auto second = download_bytes(*s2, "server", *ref, fast_options());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->to_string(), pattern(5000));
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  DoneRecord rec = done.get();
  EXPECT_EQ(rec.tx_id, tx);
  EXPECT_EQ(rec.outcome, TransactionOutcome::kFinished);
  EXPECT_EQ(rec.completions, (std::map<std::string, size_t>{{*ref, 2}}));

  auto late = download_bytes(*s1, "server", *ref, fast_options());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kNotFound);
  EXPECT_NE(late.status().message().find("ref " + *ref +
                                         " not found at server (the download transaction may have "
                                         "expired)"),
            std::string::npos)
      << late.status().message();
}

TEST_F(DownloadTest, TimedOutAfterIdleTimeoutAndReleasesTheObject) {
  Cell* site = make_site("site-1");
  std::future<DoneRecord> done;
  const auto start = std::chrono::steady_clock::now();
  std::string tx = transaction(1, 200ms, &done);
  auto obj = std::make_shared<BytesDownloadable>(std::string("payload"));
  std::weak_ptr<Downloadable> weak = obj;
  auto ref = service_->add(tx, std::move(obj));
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  DoneRecord rec = done.get();
  EXPECT_EQ(rec.tx_id, tx);
  EXPECT_EQ(rec.outcome, TransactionOutcome::kTimedOut);
  EXPECT_EQ(rec.completions.at(*ref), 0u);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(service_->transaction_count(), 0u);

  auto late = download_bytes(*site, "server", *ref, fast_options());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kNotFound);
  EXPECT_NE(late.status().message().find(
                "not found at server (the download transaction may have expired)"),
            std::string::npos)
      << late.status().message();
}

TEST_F(DownloadTest, DeleteTransactionCallsDoneWithDeleted) {
  std::future<DoneRecord> done;
  std::string tx = transaction(1, 30s, &done);
  ASSERT_TRUE(service_->add(tx, std::make_shared<BytesDownloadable>(std::string("x"))).ok());
  ASSERT_TRUE(service_->delete_transaction(tx).ok());
  ASSERT_EQ(done.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(done.get().outcome, TransactionOutcome::kDeleted);
  EXPECT_EQ(service_->delete_transaction(tx).code(), StatusCode::kNotFound);
}

TEST_F(DownloadTest, MissingRefIsAClearError) {
  Cell* site = make_site("site-1");
  auto got = download_tensors(*site, "server", "Rdeadbeef", fast_options());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find(
                "ref Rdeadbeef not found at server (the download transaction may have expired)"),
            std::string::npos)
      << got.status().message();
}

TEST_F(DownloadTest, FileRefsCannotEscapeTheirRootAndOthersStillServe) {
  Cell* site = make_site("site-1");
  fs::path base = fs::temp_directory_path() / ("nvf-dlsvc-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "root" / "models");
  const std::string content = pattern(300000, 11);
  ASSERT_TRUE(base::atomic_write(base / "root" / "models" / "global.safetensors", content).ok());
  ASSERT_TRUE(base::atomic_write(base / "x", "secret").ok());
  fs::create_symlink(base / "x", base / "root" / "out");
  const fs::path root = base / "root";
  EXPECT_EQ(FileDownloadable::open(root, "../x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root, (base / "x").string()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FileDownloadable::open(root, "out").status().code(), StatusCode::kInvalidArgument);

  // A malformed request (an item that does not exist) is answered with an error...
  std::future<DoneRecord> done;
  std::string tx = transaction(1, 30s, &done);
  auto file = FileDownloadable::open(root, "models/global.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto ref = service_->add(tx, *file, /*chunk_size=*/64 * 1024);
  ASSERT_TRUE(ref.ok());
  Message bad;
  bad.headers.set(download_wire::kOp, "get");
  bad.headers.set(download_wire::kRef, *ref);
  bad.headers.set_int(download_wire::kItem, 5);
  bad.headers.set_int(download_wire::kOffset, 0);
  bad.headers.set_int(download_wire::kLength, 10);
  auto reply = site->request("server", "download_service__", "download", bad, 5s);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->headers.get_int(download_wire::kCode),
            static_cast<int64_t>(StatusCode::kOutOfRange));
  EXPECT_TRUE(reply->payload.empty());

  // ...and the service keeps serving the legitimate file.
  const fs::path dest = base / "received" / "model.safetensors";
  fs::create_directories(dest.parent_path());
  DownloadStats stats;
  ASSERT_TRUE(download_file(*site, "server", *ref, fast_options(), dest, &stats).ok());
  auto written = base::read_file(dest);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, content);
  EXPECT_EQ(stats.requests, 5u);  // 300000 bytes in 64 KiB ranges
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  fs::remove_all(base);
}

TEST_F(DownloadTest, DroppedRangesAreRetriedAndTheBytesAreIdentical) {
  Cell* site = make_site("site-1");
  const std::string bytes = pattern(50000, 12);
  auto blob = std::make_shared<CountingBlob>(bytes, /*cacheable=*/false, /*fail_first=*/3);
  std::future<DoneRecord> done;
  std::string tx = transaction(1, 30s, &done);
  auto ref = service_->add(tx, blob, /*chunk_size=*/4096);  // 13 ranges
  ASSERT_TRUE(ref.ok());
  DownloadStats stats;
  auto got = download_bytes(*site, "server", *ref, fast_options(), &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->to_string(), bytes);
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.requests, 13u + 3u);
  EXPECT_EQ(blob->calls.load(), 16);
}

TEST_F(DownloadTest, ConnectionDroppedMidDownloadIsRetriedAfterReconnect) {
  Cell* site = make_site("site-1");
  const std::string bytes = pattern(13 * 4096, 13);
  auto blob = std::make_shared<CountingBlob>(bytes, /*cacheable=*/false);
  std::atomic<bool> dropped{false};
  blob->on_produce = [this, &blob, &dropped] {
    if (blob->calls.load() == 5 && !dropped.exchange(true)) driver_->drop_all();
  };
  std::future<DoneRecord> done;
  std::string tx = transaction(1, 30s, &done);
  auto ref = service_->add(tx, blob, /*chunk_size=*/4096);
  ASSERT_TRUE(ref.ok());
  auto manifest = *service_->manifest(*ref);
  DownloadOptions o = fast_options();
  o.initial_backoff = 50ms;
  o.max_backoff = 400ms;
  o.max_retries = 5;
  DownloadStats stats;
  auto got = download_bytes(*site, manifest, o, &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(dropped.load());
  EXPECT_EQ(checksum(*got), checksum(Buffer(Slice::from_string(bytes))));
  EXPECT_GE(stats.retries, 1u);
  EXPECT_GT(blob->calls.load(), 13);  // the lost ranges were produced again
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get().outcome, TransactionOutcome::kFinished);
}

TEST(DownloadBackoffTest, DoublesFromTheInitialBackoffUpToTheCap) {
  DownloadOptions o;  // FLARE's defaults: 2 s doubling, capped at 60 s
  EXPECT_EQ(download_backoff(o, 1), 2s);
  EXPECT_EQ(download_backoff(o, 2), 4s);
  EXPECT_EQ(download_backoff(o, 3), 8s);
  EXPECT_EQ(download_backoff(o, 5), 32s);
  EXPECT_EQ(download_backoff(o, 6), 60s);
  EXPECT_EQ(download_backoff(o, 40), 60s);
}

TEST_F(DownloadTest, GivesUpAfterMaxRetriesNamingSourceRefAndItem) {
  Cell* site = make_site("site-1");
  auto blob = std::make_shared<CountingBlob>(pattern(100), false, /*fail_first=*/1000);
  std::string tx = service_->new_transaction(TransactionOptions{1, 30s, nullptr});
  auto ref = service_->add(tx, blob);
  ASSERT_TRUE(ref.ok());
  DownloadOptions o = fast_options();
  o.max_retries = 2;
  o.initial_backoff = 20ms;
  o.max_backoff = 30ms;
  DownloadStats stats;
  const auto start = std::chrono::steady_clock::now();
  auto got = download_bytes(*site, "server", *ref, o, &stats);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);  // waited 20 ms, then 30 ms
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  const std::string msg = got.status().message();
  EXPECT_NE(msg.find("item 'blob'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ref " + *ref + " from server"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after 2 retries"), std::string::npos) << msg;
  EXPECT_NE(msg.find("simulated connection drop"), std::string::npos) << msg;
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(blob->calls.load(), 3);
}

TEST_F(DownloadTest, AbortEndsADownloadWaitingOnBackoff) {
  Cell* site = make_site("site-1");
  auto blob = std::make_shared<CountingBlob>(pattern(100), false, /*fail_first=*/1000);
  auto abort = std::make_shared<AbortSignal>();
  std::string tx = service_->new_transaction(TransactionOptions{1, 30s, nullptr});
  auto ref = service_->add(tx, blob);
  ASSERT_TRUE(ref.ok());
  auto manifest = *service_->manifest(*ref);
  blob->on_failure = [abort] { abort->abort(); };  // abort while the receiver backs off
  DownloadOptions o = fast_options();
  o.initial_backoff = 60s;
  o.max_backoff = 60s;
  o.abort = abort;
  const auto start = std::chrono::steady_clock::now();
  auto got = download_bytes(*site, manifest, o);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kAborted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// A → B → C: B forwards the manifest untouched; C pulls from A through B's routing.
TEST_F(DownloadTest, PassThroughManifestIsPulledFromTheOriginalSource) {
  Cell* b = make_site("site-1", "server", /*listen=*/true);
  Cell* c = make_site("site-1.job", "site-1");
  c->register_request_handler("task", "train", [c](const Message& m) -> Result<Message> {
    NVF_ASSIGN_OR_RETURN(Manifest manifest, Manifest::decode(m.payload.to_string()));
    NVF_ASSIGN_OR_RETURN(TensorDict d, download_tensors(*c, manifest, fast_options()));
    return Message::of(std::to_string(checksum(d)));
  });
  b->register_request_handler("task", "train", [b](const Message& m) -> Result<Message> {
    Message forward;
    forward.payload = m.payload;  // the manifest, untouched: B never pulls
    return b->request("site-1.job", "task", "train", std::move(forward), 20s);
  });
  TensorDict d;
  ASSERT_TRUE(d.insert("w", pattern_tensor(DType::kF32, {256, 1024}, 21)).ok());
  ASSERT_TRUE(d.insert("b", pattern_tensor(DType::kF16, {1024}, 22)).ok());
  const uint64_t expected = checksum(d);
  std::future<DoneRecord> done;
  std::string tx = transaction(1, 30s, &done);
  auto ref = service_->add(tx, std::make_shared<TensorDownloadable>(std::move(d)), 256 * 1024);
  ASSERT_TRUE(ref.ok());
  const uint64_t forwarded_before = b->stats().frames_forwarded;
  auto reply = server_->request("site-1", "task", "train",
                                Message::of(service_->manifest(*ref)->encode()), 30s);
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  EXPECT_EQ(reply->payload.to_string(), std::to_string(expected));
  EXPECT_GT(b->stats().frames_forwarded - forwarded_before, 4u);  // C's range requests and replies
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  DoneRecord rec = done.get();
  EXPECT_EQ(rec.outcome, TransactionOutcome::kFinished);
  EXPECT_EQ(rec.completions.at(*ref), 1u);
}

// ---------------------------------------------------------------- over TCP: replies read in place

// Serves another Downloadable, calling on_produce before each range.
class HookedDownloadable : public Downloadable {
 public:
  explicit HookedDownloadable(std::shared_ptr<Downloadable> inner) : inner_(std::move(inner)) {}
  size_t item_count() const override { return inner_->item_count(); }
  const DownloadItem& item(size_t index) const override { return inner_->item(index); }
  Result<Slice> produce(size_t index, uint64_t offset, uint64_t length) override {
    if (on_produce) on_produce();
    return inner_->produce(index, offset, length);
  }
  std::function<void()> on_produce;

 private:
  std::shared_ptr<Downloadable> inner_;
};

class TcpDownloadTest : public DownloadTest {
 protected:
  std::shared_ptr<Driver> make_inner_driver() override { return std::make_shared<TcpDriver>(); }
  std::string listen_url(const std::string&) override { return "tcp://127.0.0.1:0"; }
};

// Proves: over a socket driver, every range of a tensor download is read by the transport
// straight into the destination tensor (placed_bytes = all bytes: no receive buffer, no copy), and
// the tensors hold the sender's bytes.
TEST_F(TcpDownloadTest, TensorRangesAreReadStraightIntoTheTensors) {
  Cell* site = make_site("site-1");
  TensorDict d;
  ASSERT_TRUE(d.insert("a", pattern_tensor(DType::kF32, {4, 1024, 1024}, 7)).ok());
  ASSERT_TRUE(d.insert("b", pattern_tensor(DType::kBF16, {3, 333, 517}, 8)).ok());  // odd size
  ASSERT_TRUE(d.insert("c", pattern_tensor(DType::kI64, {10}, 9)).ok());           // one small frame
  Offered offered = offer(std::move(d));
  DownloadStats stats;
  auto got = download_tensors(*site, "server", offered.ref, fast_options(), &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(checksum(*got), offered.checksum);
  EXPECT_EQ(stats.bytes, offered.bytes);
  EXPECT_EQ(stats.placed_bytes, offered.bytes - 80);  // all but the 80-byte tensor (under 64 KiB)
  ASSERT_EQ(offered.done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(offered.done.get().outcome, TransactionOutcome::kFinished);
}

// Proves: connections dropped in the middle of a download that reads ranges into the tensors are
// survived: the lost ranges are asked again (possibly rewriting memory a cut-off reply had partly
// filled) and the tensors end up byte-identical to the sender's.
TEST_F(TcpDownloadTest, DroppedConnectionsMidPlacedDownloadStillGiveIdenticalTensors) {
  Cell* site = make_site("site-1");
  TensorDict d;
  ASSERT_TRUE(d.insert("w", pattern_tensor(DType::kF32, {24, 1024, 1024}, 21)).ok());
  Offered offered = offer(std::move(d), 30s, [](std::shared_ptr<Downloadable> inner) {
    return std::shared_ptr<Downloadable>(std::make_shared<HookedDownloadable>(std::move(inner)));
  });
  auto source = std::static_pointer_cast<HookedDownloadable>(sources_.back());
  std::atomic<int> served{0};
  std::atomic<int> drops{0};
  source->on_produce = [this, &served, &drops] {
    int n = ++served;
    if (n == 6 || n == 15) {
      ++drops;
      driver_->drop_all();
    }
  };
  DownloadOptions o = fast_options();
  o.per_request_timeout = 5s;
  o.initial_backoff = 50ms;
  o.max_backoff = 400ms;
  o.max_retries = 6;
  DownloadStats stats;
  auto got = download_tensors(*site, "server", offered.ref, o, &stats);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(drops.load(), 2);
  EXPECT_EQ(checksum(*got), offered.checksum);
  EXPECT_GE(stats.retries, 1u);
  EXPECT_GT(stats.placed_bytes, 0u);
}

}  // namespace
}  // namespace nvf::cellnet
