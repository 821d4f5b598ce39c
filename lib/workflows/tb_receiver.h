// TensorBoard event files (FLARE's TBAnalyticsReceiver): each site's metrics go to
// <run_dir>/<tb_folder>/<site>/events.out.tfevents.<seconds>.<host>, readable by TensorBoard.
//
// The file is TensorFlow's record format: for each record, its length (uint64 LE), the masked
// CRC-32C of the length, the data, the masked CRC-32C of the data. Each record is one Event
// message (lib/workflows/tb_event.proto declares the few fields written); the first carries
// file_version "brain.Event:2", the others a Summary with one simple_value. The messages are
// encoded here by hand (protobuf's wire format for these fields is a few bytes of tags), which
// keeps protobuf out of the server side.
//
// Threads: TBAnalyticsReceiver serializes record() with its own mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/logging.h"
#include "fl/analytics.h"

namespace nvf::workflows {

/// CRC-32C (Castagnoli) of `data`, and TensorFlow's mask of it.
uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

/// The encoded Event messages.
std::string encode_file_version_event(double wall_time);
std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value);
/// One record of the file format around `data`.
std::string encode_record(std::string_view data);

/// One events file, opened on the first write. Not thread-safe.
class TBEventWriter {
 public:
  /// `dir` is created when the first event is written.
  explicit TBEventWriter(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~TBEventWriter();
  Status write_scalar(std::string_view tag, double value, int64_t step, double wall_time);
  const std::filesystem::path& file() const { return file_; }

 private:
  Status open(double wall_time);
  std::filesystem::path dir_, file_;
  int fd_ = -1;
};

class TBAnalyticsReceiver : public fl::AnalyticsReceiver {
 public:
  TBAnalyticsReceiver(std::filesystem::path root, base::Logger log) : root_(std::move(root)), log_(std::move(log)) {}
  Status record(const fl::Metric& metric) override;
  void close() override;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  base::Logger log_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<TBEventWriter>> writers_;  // guarded by mu_: per site
  bool told_ = false;                                               // guarded by mu_
};

}  // namespace nvf::workflows
