// nvf_bench_download: the processes of scripts/bench/download.sh. One mode per process, so the
// sender, every receiver and the raw-socket pair are separate processes (as in a real deployment)
// and each reports its own RSS. Every mode prints `name: value` lines on stdout (flushed at once);
// errors go to stderr with exit code 1. Times are wall-clock (CLOCK_REALTIME, ns) so the script can
// combine the start and end stamps of several processes; durations inside a process are steady.
//
//   sender   --scheme grpc|tcp --size-mib N --receivers R [--timeout-s S]
//            Baseline RSS, then a Cell "server" listening on <scheme>://127.0.0.1:0, a model of
//            128 float32 tensors (N MiB), a download transaction for R receivers. Prints url,
//            source, ref, then waits until the transaction ends (or S seconds) and prints its
//            outcome and peak RSS.
//   receiver --url U --source F --ref R --name NAME --start-at-ms T [--timeout-s S]
//            Baseline RSS, a Cell NAME connected to U; at T (epoch ms) download_tensors() of the
//            ref; checks the bytes; prints start/end stamps, bytes and RSS; holds the model
//            until the sender has gone (it stops when every receiver is done).
//   socket-server --size-mib N --clients R [--timeout-s S]
//            Listens on 127.0.0.1:0 (prints port), accepts R clients and writes the N MiB buffer
//            to each in large writes from one thread per client; closes the connections once
//            every client has said it has all the bytes.
//   socket-client --port P --size-mib N --start-at-ms T [--reuse 1]
//            At T connects and reads N MiB into a buffer of that size (it holds the bytes, as a
//            download does; --reuse 1: into one 4 MiB buffer), says so, holds them until the
//            server closes (once every client has them); prints start/end stamps.
//   safetensors --out FILE --size-mib N | --size-bytes B [--tensors 128]
//            Writes a safetensors model of N MiB (or B bytes) of float32 tensors (fedavg_large.sh).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/heap.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "cellnet/downloadable.h"
#include "cellnet/downloader.h"
#include "cellnet/socket_driver.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"
#if defined(NVF_BENCH_HAVE_GRPC)
#include "cellnet_grpc/grpc_driver.h"
#endif

namespace {

using namespace nvf;
using namespace std::chrono_literals;

constexpr size_t kTensors = 128;
constexpr uint64_t kMiB = 1ull << 20;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "nvf_bench_download: %s\n", what.c_str());
  std::exit(1);
}

void line(const std::string& name, const std::string& value) {
  std::printf("%s: %s\n", name.c_str(), value.c_str());
  std::fflush(stdout);
}
void line(const std::string& name, long long value) { line(name, std::to_string(value)); }

long long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void sleep_until_epoch_ms(long long t_ms) {
  const auto target = std::chrono::system_clock::time_point(std::chrono::milliseconds(t_ms));
  std::this_thread::sleep_until(target);
}

using Args = std::map<std::string, std::string>;

Args parse(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) die("bad argument '" + k + "'");
    a[k.substr(2)] = argv[++i];
  }
  return a;
}

std::string need(const Args& a, const std::string& k) {
  auto it = a.find(k);
  if (it == a.end()) die("missing --" + k);
  return it->second;
}
long long need_int(const Args& a, const std::string& k) { return std::stoll(need(a, k)); }
long long get_int(const Args& a, const std::string& k, long long dflt) {
  auto it = a.find(k);
  return it == a.end() ? dflt : std::stoll(it->second);
}

// Tensor i has numel floats, element j = i + (j % 1024) / 1024 (cheap to check on arrival).
float expected_value(size_t i, size_t j) {
  return static_cast<float>(i) + static_cast<float>(j % 1024) / 1024.0f;
}

std::vector<uint64_t> tensor_numels(uint64_t bytes, size_t count) {
  const uint64_t floats = bytes / 4;
  std::vector<uint64_t> n(count, floats / count);
  for (size_t i = 0; i < floats % count; ++i) ++n[i];
  return n;
}

tensor::TensorDict make_model(uint64_t bytes, size_t count) {
  tensor::TensorDict d;
  auto numels = tensor_numels(bytes, count);
  for (size_t i = 0; i < count; ++i) {
    auto t = tensor::Tensor::zeros(tensor::DType::kF32, {static_cast<int64_t>(numels[i])});
    if (!t.ok()) die(t.status().to_string());
    auto f = t->mutable_view<float>();
    for (size_t j = 0; j < f.size(); ++j) f[j] = expected_value(i, j);
    char name[32];
    std::snprintf(name, sizeof name, "layer%03zu.weight", i);
    if (auto s = d.insert(name, std::move(t).value()); !s.ok()) die(s.to_string());
  }
  return d;
}

void add_driver(cellnet::DriverRegistry& r, const std::string& scheme) {
  if (scheme == "tcp") {
    r.add(std::make_shared<cellnet::TcpDriver>());
  } else if (scheme == "grpc") {
#if defined(NVF_BENCH_HAVE_GRPC)
    r.add(std::shared_ptr<cellnet::Driver>(nvf::cellnet_grpc::make_grpc_driver({})));
#else
    die("this build has no gRPC driver");
#endif
  } else {
    die("unknown scheme '" + scheme + "'");
  }
}

std::string scheme_of(const std::string& url) { return url.substr(0, url.find("://")); }

int run_sender(const Args& a) {
  const std::string scheme = need(a, "scheme");
  const uint64_t bytes = static_cast<uint64_t>(need_int(a, "size-mib")) * kMiB;
  const size_t receivers = static_cast<size_t>(need_int(a, "receivers"));
  const auto timeout = std::chrono::seconds(get_int(a, "timeout-s", 600));
  const long long chunk = get_int(a, "chunk-bytes", 0);

  cellnet::DriverRegistry drivers;
  add_driver(drivers, scheme);
  cellnet::CellOptions o;
  o.fqcn = "server";
  o.drivers = &drivers;
  cellnet::Cell cell(o);
  if (auto s = cell.start(); !s.ok()) die(s.to_string());
  auto url = cell.listen(scheme + "://127.0.0.1:0");
  if (!url.ok()) die(url.status().to_string());
  cellnet::DownloadServiceOptions so;
  if (chunk > 0) so.chunk_size = static_cast<uint64_t>(chunk);
  cellnet::DownloadService service(cell, so);
  if (auto s = service.start(); !s.ok()) die(s.to_string());
  const long long baseline = base::current_rss_bytes();
  line("baseline_rss_bytes", baseline);

  auto model = std::make_shared<cellnet::TensorDownloadable>(make_model(bytes, kTensors));
  line("model_bytes", static_cast<long long>(model->tensors().total_bytes()));

  std::promise<std::string> ended;
  cellnet::TransactionOptions to;
  to.num_receivers = receivers;
  to.idle_timeout = timeout;
  to.done = [&ended](const std::string&, cellnet::TransactionOutcome outcome,
                     const std::map<std::string, size_t>&) {
    ended.set_value(std::string(cellnet::transaction_outcome_name(outcome)));
  };
  const std::string tx = service.new_transaction(std::move(to));
  auto ref = service.add(tx, model);
  if (!ref.ok()) die(ref.status().to_string());
  model.reset();  // the service holds it until the transaction ends
  line("url", *url);
  line("source", cell.fqcn());
  line("ref", *ref);
  line("ready", 1);

  auto fut = ended.get_future();
  if (fut.wait_for(timeout + 5s) != std::future_status::ready) die("the transaction did not end");
  const std::string outcome = fut.get();
  line("outcome", outcome);
  line("peak_rss_bytes", base::peak_rss_bytes());
  auto st = service.stats();
  line("chunks_served", static_cast<long long>(st.chunks_served));
  line("bytes_served", static_cast<long long>(st.bytes_served));
  service.stop();
  cell.stop();
  drivers.stop_all();
  return outcome == "FINISHED" ? 0 : 1;
}

int run_receiver(const Args& a) {
  const std::string url = need(a, "url");
  const std::string source = need(a, "source");
  const std::string ref = need(a, "ref");
  const std::string name = need(a, "name");
  const long long start_at = need_int(a, "start-at-ms");
  const auto timeout = std::chrono::seconds(get_int(a, "timeout-s", 600));

  cellnet::DriverRegistry drivers;
  add_driver(drivers, scheme_of(url));
  cellnet::CellOptions o;
  o.fqcn = name;
  o.drivers = &drivers;
  cellnet::Cell cell(o);
  // The model is held until the sender is gone (it stops once every receiver is done), as a
  // client holds it while it trains: an early finisher does not free 1 GiB while others receive.
  auto sender_gone = std::make_shared<std::promise<void>>();
  auto gone = sender_gone->get_future();
  cell.on_peer_event([sender_gone, source, once = std::make_shared<std::once_flag>()](
                         const std::string& peer, bool up) {
    if (!up && peer == source) std::call_once(*once, [&] { sender_gone->set_value(); });
  });
  if (auto s = cell.start(); !s.ok()) die(s.to_string());
  if (auto s = cell.connect(url); !s.ok()) die(s.to_string());
  if (auto s = cell.wait_for_peer(source, 30s); !s.ok()) die(s.to_string());
  const long long baseline = base::current_rss_bytes();
  line("baseline_rss_bytes", baseline);

  sleep_until_epoch_ms(start_at);
  cellnet::DownloadOptions d;
  d.per_request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  if (long long n = get_int(a, "in-flight", 0); n > 0) d.max_in_flight = static_cast<size_t>(n);
  if (long long c = get_int(a, "chunk-bytes", 0); c > 0) d.chunk_size = static_cast<uint64_t>(c);
  cellnet::DownloadStats stats;
  const long long faults0 = minor_faults();
  const long long t0 = now_ns();
  auto model = cellnet::download_tensors(cell, source, ref, d, &stats);
  const long long t1 = now_ns();
  if (!model.ok()) die(model.status().to_string());
  line("start_ns", t0);
  line("end_ns", t1);
  line("bytes", static_cast<long long>(model->total_bytes()));
  line("peak_rss_bytes", base::peak_rss_bytes());
  line("requests", static_cast<long long>(stats.requests));
  line("peak_in_flight", static_cast<long long>(stats.peak_in_flight));
  line("minor_faults", minor_faults() - faults0);

  // The bytes are the sender's: check every tensor's first and last elements and a stride.
  if (model->size() != kTensors) die("expected 128 tensors, got " + std::to_string(model->size()));
  size_t i = 0;
  for (const auto& [tname, t] : *model) {
    auto f = t.view<float>();
    for (size_t j = 0; j < f.size(); j += std::max<size_t>(1, f.size() / 97)) {
      if (f[j] != expected_value(i, j)) die("wrong value in " + tname + " at " + std::to_string(j));
    }
    if (!f.empty() && f.back() != expected_value(i, f.size() - 1)) die("wrong tail in " + tname);
    ++i;
  }
  line("verified", 1);
  if (gone.wait_for(timeout) != std::future_status::ready) die("the sender did not stop");
  cell.stop();
  drivers.stop_all();
  return 0;
}

void set_buffers(int fd) {
  int one = 1;
  int buf = 4 << 20;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

constexpr size_t kIoSize = 4 << 20;

int run_socket_server(const Args& a) {
  const uint64_t bytes = static_cast<uint64_t>(need_int(a, "size-mib")) * kMiB;
  const int clients = static_cast<int>(need_int(a, "clients"));
  const int timeout_s = static_cast<int>(get_int(a, "timeout-s", 600));
  std::vector<char> data(bytes);
  for (size_t i = 0; i < bytes; i += 4096) data[i] = static_cast<char>(i >> 12);

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) die(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(ls, 16) != 0)
    die(std::string("bind/listen: ") + std::strerror(errno));
  socklen_t len = sizeof addr;
  getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  line("port", ntohs(addr.sin_port));
  line("ready", 1);
  timeval tv{timeout_s, 0};
  setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  // Each client says when it has every byte; connections close once all have (clients hold their
  // bytes until then, as receivers hold the model).
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  for (int c = 0; c < clients; ++c) {
    int fd = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) die(std::string("accept: ") + std::strerror(errno));
    set_buffers(fd);
    senders.emplace_back([fd, clients, &data, &failures, &mu, &cv, &done] {
      size_t off = 0;
      while (off < data.size()) {
        ssize_t n = send(fd, data.data() + off, std::min(kIoSize, data.size() - off), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ++failures;
          break;
        }
        off += static_cast<size_t>(n);
      }
      char b;
      if (recv(fd, &b, 1, 0) != 1) ++failures;  // the client has every byte
      {
        std::unique_lock<std::mutex> lock(mu);
        ++done;
        cv.notify_all();
        cv.wait(lock, [&] { return done == clients; });
      }
      shutdown(fd, SHUT_WR);
      while (recv(fd, &b, 1, 0) > 0) {  // wait for the client to close
      }
      close(fd);
    });
  }
  for (auto& t : senders) t.join();
  close(ls);
  return failures ? 1 : 0;
}

int run_socket_client(const Args& a) {
  const int port = static_cast<int>(need_int(a, "port"));
  const uint64_t bytes = static_cast<uint64_t>(need_int(a, "size-mib")) * kMiB;
  const long long start_at = need_int(a, "start-at-ms");
  // The bytes land in a buffer of the model's size (held, as a download holds them) unless
  // --reuse 1: then one 4 MiB buffer is overwritten (the socket's best case).
  const bool reuse = get_int(a, "reuse", 0) != 0;
  std::unique_ptr<char[]> buf(new char[reuse ? kIoSize : bytes]);  // touched as bytes arrive
  sleep_until_epoch_ms(start_at);
  const long long t0 = now_ns();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  set_buffers(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die(std::string("connect: ") + std::strerror(errno));
  uint64_t got = 0;
  while (got < bytes) {
    ssize_t n = recv(fd, buf.get() + (reuse ? 0 : got), std::min<uint64_t>(kIoSize, bytes - got), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("short read: " + std::to_string(got) + " of " + std::to_string(bytes));
    got += static_cast<uint64_t>(n);
  }
  const long long t1 = now_ns();
  // Say so, and hold the bytes until every client has them (the server closes then).
  const char done = 1;
  if (send(fd, &done, 1, MSG_NOSIGNAL) != 1) die("cannot tell the server the bytes arrived");
  char b;
  while (recv(fd, &b, 1, 0) > 0) {
  }
  close(fd);
  line("start_ns", t0);
  line("end_ns", t1);
  line("bytes", static_cast<long long>(got));
  return 0;
}

int run_safetensors(const Args& a) {
  const uint64_t bytes = a.count("size-bytes") ? static_cast<uint64_t>(need_int(a, "size-bytes"))
                                               : static_cast<uint64_t>(need_int(a, "size-mib")) * kMiB;
  const size_t count = static_cast<size_t>(get_int(a, "tensors", kTensors));
  auto model = make_model(bytes, count);
  if (auto s = tensor::write_safetensors(need(a, "out"), model); !s.ok()) die(s.to_string());
  line("model_bytes", static_cast<long long>(model.total_bytes()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  nvf::base::configure_process_heap();  // as the nvflare processes do
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s sender|receiver|socket-server|socket-client|safetensors|schemes "
                 "--flag value ...\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const Args a = parse(argc, argv, 2);
  if (mode == "schemes") {
#if defined(NVF_BENCH_HAVE_GRPC)
    line("schemes", "grpc tcp");
#else
    line("schemes", "tcp");
#endif
    return 0;
  }
  if (mode == "sender") return run_sender(a);
  if (mode == "receiver") return run_receiver(a);
  if (mode == "socket-server") return run_socket_server(a);
  if (mode == "socket-client") return run_socket_client(a);
  if (mode == "safetensors") return run_safetensors(a);
  die("unknown mode '" + mode + "'");
}
