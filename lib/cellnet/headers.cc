#include "cellnet/headers.h"

#include <charconv>

namespace nvf::cellnet {

void Headers::set(std::string_view key, std::string value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(key), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::string Headers::get_or(std::string_view key, std::string_view fallback) const {
  auto v = get(key);
  return std::string(v ? *v : fallback);
}

std::optional<int64_t> Headers::get_int(std::string_view key) const {
  auto v = get(key);
  if (!v) return std::nullopt;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) return std::nullopt;
  return out;
}

bool Headers::erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

size_t Headers::encoded_size() const {
  size_t n = 4;
  for (const auto& [k, v] : entries_) n += 8 + k.size() + v.size();
  return n;
}

}  // namespace nvf::cellnet
