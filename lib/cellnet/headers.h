// Message headers: an ordered list of string key/value pairs (small; linear lookup is fastest).
// A value type; not synchronized.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nvf::cellnet {

class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  /// Sets (replacing an existing value).
  void set(std::string_view key, std::string value);
  void set_int(std::string_view key, int64_t value) { set(key, std::to_string(value)); }
  /// The value, or nullopt.
  std::optional<std::string_view> get(std::string_view key) const;
  /// The value or `fallback`.
  std::string get_or(std::string_view key, std::string_view fallback) const;
  /// The value parsed as an integer, or nullopt when absent or not a number.
  std::optional<int64_t> get_int(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  bool erase(std::string_view key);

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  /// Bytes this takes on the wire.
  size_t encoded_size() const;

  bool operator==(const Headers& other) const = default;

 private:
  std::vector<Entry> entries_;
};

}  // namespace nvf::cellnet
