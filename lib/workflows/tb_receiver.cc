#include "workflows/tb_receiver.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "base/files.h"

namespace nvf::workflows {
namespace fs = std::filesystem;

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

template <typename T>
void put_le(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
}

void put_double(std::string& out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  put_le(out, bits);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrc32cTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5.
// Summary: value = 1 (repeated). Summary.Value: tag = 1 (string), simple_value = 2 (float).
std::string encode_file_version_event(double wall_time) {
  std::string e;
  e.push_back(0x09);
  put_double(e, wall_time);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string v;
  put_bytes(v, 1, tag);
  v.push_back(0x15);
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_le(v, bits);
  std::string summary;
  put_bytes(summary, 1, v);
  std::string e;
  e.push_back(0x09);
  put_double(e, wall_time);
  e.push_back(0x10);
  put_varint(e, static_cast<uint64_t>(step));
  put_bytes(e, 5, summary);
  return e;
}

std::string encode_record(std::string_view data) {
  std::string len;
  put_le(len, static_cast<uint64_t>(data.size()));
  std::string out = len;
  put_le(out, masked_crc32c(len));
  out.append(data);
  put_le(out, masked_crc32c(data));
  return out;
}

TBEventWriter::~TBEventWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status TBEventWriter::open(double wall_time) {
  NVF_RETURN_IF_ERROR(base::make_dirs(dir_));
  char host[256] = "localhost";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  file_ = dir_ / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time)) + "." + host);
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return UnavailableError("cannot create " + file_.string() + ": " + std::strerror(errno));
  std::string rec = encode_record(encode_file_version_event(wall_time));
  if (::write(fd_, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) {
    return UnavailableError("cannot write " + file_.string() + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status TBEventWriter::write_scalar(std::string_view tag, double value, int64_t step, double wall_time) {
  if (fd_ < 0) NVF_RETURN_IF_ERROR(open(wall_time));
  // One write per record (O_APPEND): a reader never sees half a record of ours.
  std::string rec = encode_record(encode_scalar_event(wall_time, step, tag, static_cast<float>(value)));
  if (::write(fd_, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) {
    return UnavailableError("cannot write " + file_.string() + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status TBAnalyticsReceiver::record(const fl::Metric& m) {
  std::lock_guard<std::mutex> lock(mu_);
  // The site names a folder: only a plain name may (the metric came from a peer).
  if (m.site.empty() || m.site == "." || m.site == ".." || m.site.find('/') != std::string::npos) {
    return InvalidArgumentError("metric from an invalid site name '" + m.site + "'");
  }
  auto& w = writers_[m.site];
  if (!w) w = std::make_unique<TBEventWriter>(root_ / m.site);
  Status s = w->write_scalar(m.tag, m.value, m.step, m.wall_time);
  if (s.ok() && !told_) {
    told_ = true;
    log_->info("TensorBoard events go to {} (tensorboard --logdir {})", root_.string(), root_.string());
  }
  return s;
}

void TBAnalyticsReceiver::close() {
  std::lock_guard<std::mutex> lock(mu_);
  writers_.clear();
}

}  // namespace nvf::workflows
