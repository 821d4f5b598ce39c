#include "tensor/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace nvf::tensor {

namespace fs = std::filesystem;

namespace {

Status header_error(std::string_view source, const std::string& what) {
  return InvalidArgumentError("safetensors " + std::string(source) + ": " + what);
}

Status tensor_error(std::string_view source, std::string_view name, const std::string& what) {
  return InvalidArgumentError("safetensors " + std::string(source) + ": tensor '" +
                              std::string(name) + "': " + what);
}

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads a non-negative JSON integer; false for anything else (floats, negatives, strings).
bool as_u64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

Result<TensorInfo> parse_entry(std::string_view source, const std::string& name,
                               const nlohmann::json& entry) {
  if (!entry.is_object()) return tensor_error(source, name, "entry is not a JSON object");
  for (const auto& [key, value] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return tensor_error(source, name, "unknown field \"" + key + "\"");
    }
  }
  TensorInfo info;
  info.name = name;
  auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) {
    return tensor_error(source, name, "\"dtype\" is missing or not a string");
  }
  auto dtype = parse_safetensors_dtype(dt->get<std::string>());
  if (!dtype.ok()) return tensor_error(source, name, dtype.status().message());
  info.dtype = *dtype;

  auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) {
    return tensor_error(source, name, "\"shape\" is missing or not an array");
  }
  for (const auto& d : *shape) {
    if (!d.is_number_integer()) {
      return tensor_error(source, name, "\"shape\" holds a non-integer " + d.dump());
    }
    if (d.is_number_unsigned() && d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return tensor_error(source, name, "dimension " + d.dump() + " is too large");
    }
    const int64_t v = d.get<int64_t>();
    if (v < 0) return tensor_error(source, name, "shape has a negative dimension " + d.dump());
    info.shape.push_back(v);
  }
  auto bytes = shape_nbytes(info.dtype, info.shape);
  if (!bytes.ok()) return tensor_error(source, name, bytes.status().message());

  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !as_u64((*offsets)[0], &info.begin) || !as_u64((*offsets)[1], &info.end)) {
    return tensor_error(source, name,
                        "\"data_offsets\" must be [begin, end] of non-negative integers");
  }
  if (info.begin > info.end) {
    return tensor_error(source, name,
                        "data_offsets [" + std::to_string(info.begin) + ", " +
                            std::to_string(info.end) + "] end before they begin");
  }
  if (info.end - info.begin != *bytes) {
    return tensor_error(source, name,
                        "data_offsets cover " + std::to_string(info.end - info.begin) +
                            " bytes but a " + std::string(safetensors_name(info.dtype)) +
                            " tensor of shape " + shape_to_string(info.shape) + " needs " +
                            std::to_string(*bytes));
  }
  return info;
}

Status check_layout(std::string_view source, std::vector<TensorInfo>& tensors, uint64_t data_size) {
  for (const auto& t : tensors) {
    if (t.end > data_size) {
      return tensor_error(source, t.name,
                          "data_offsets [" + std::to_string(t.begin) + ", " +
                              std::to_string(t.end) + "] run past the end of the data (" +
                              std::to_string(data_size) +
                              " bytes); the file is truncated or the header is wrong");
    }
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : tensors) {
    if (t.begin < expected) {
      return tensor_error(source, t.name,
                          "data_offsets [" + std::to_string(t.begin) + ", " +
                              std::to_string(t.end) + "] overlap tensor '" +
                              (previous ? previous->name : "") + "'");
    }
    if (t.begin > expected) {
      return tensor_error(source, t.name,
                          "data starts at " + std::to_string(t.begin) +
                              " but the previous tensor " + "ends at " + std::to_string(expected) +
                              ": the data has a hole (tensors must cover it contiguously)");
    }
    expected = t.end;
    previous = &t;
  }
  if (expected != data_size) {
    return header_error(source, std::to_string(data_size - expected) +
                                    " bytes of data after the last tensor are not covered by any "
                                    "tensor");
  }
  return Status::OK();
}

}  // namespace

Result<std::string> encode_safetensors_header(const std::vector<TensorSpec>& specs,
                                              const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
  }
  uint64_t offset = 0;
  for (const auto& spec : specs) {
    if (spec.name.empty() || spec.name == "__metadata__") {
      return InvalidArgumentError("invalid tensor name \"" + spec.name + "\" for safetensors");
    }
    if (header.contains(spec.name)) {
      return InvalidArgumentError("duplicate tensor name \"" + spec.name + "\"");
    }
    auto bytes = shape_nbytes(spec.dtype, spec.shape);
    if (!bytes.ok()) return bytes.status().with_context("tensor '" + spec.name + "'");
    header[spec.name] = {{"dtype", safetensors_name(spec.dtype)},
                         {"shape", spec.shape},
                         {"data_offsets", {offset, offset + *bytes}}};
    offset += *bytes;
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(std::string("cannot encode the safetensors header: ") + e.what());
  }
  // The reference writer pads with spaces so the data starts 8-byte aligned.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json;
}

Result<SafetensorsHeader> parse_safetensors_header(std::string_view json, uint64_t data_size,
                                                   std::string_view source) {
  if (json.size() > kMaxSafetensorsHeader) {
    return header_error(source, "header of " + std::to_string(json.size()) +
                                    " bytes is larger than the 100 MB limit");
  }
  nlohmann::json root;
  std::set<std::string> seen;
  std::string duplicate;
  try {
    // The callback sees every top-level key, so a duplicate name is an error rather than
    // silently replacing the first entry.
    root = nlohmann::json::parse(
        json.begin(), json.end(),
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (depth == 1 && event == nlohmann::json::parse_event_t::key && parsed.is_string()) {
            if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
              duplicate = parsed.get<std::string>();
            }
          }
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    return header_error(source, std::string("header is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) return header_error(source, "header is not a JSON object");
  if (!duplicate.empty()) return tensor_error(source, duplicate, "listed twice in the header");

  SafetensorsHeader header;
  header.header_size = json.size();
  header.data_size = data_size;
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return header_error(source, "__metadata__ is not a JSON object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) {
          return header_error(
              source, "__metadata__ value for \"" + k + "\" is not a string (" + v.dump() + ")");
        }
        header.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    NVF_ASSIGN_OR_RETURN(TensorInfo info, parse_entry(source, name, entry));
    header.tensors.push_back(std::move(info));
  }
  NVF_RETURN_IF_ERROR(check_layout(source, header.tensors, data_size));
  return header;
}

// ---------------------------------------------------------------------------------------------
// Writer

Status SafetensorsWriter::open(const fs::path& path, std::vector<TensorSpec> specs,
                               const Metadata& metadata, const base::AtomicFileWriter::Options& file) {
  abandon();
  auto header = encode_safetensors_header(specs, metadata);
  if (!header.ok()) return header.status().with_context(path.string());
  sizes_.clear();
  for (const auto& s : specs) sizes_.push_back(*shape_nbytes(s.dtype, s.shape));
  NVF_RETURN_IF_ERROR(file_.open(path, file));
  NVF_RETURN_IF_ERROR(file_.write(*header));
  path_ = path;
  specs_ = std::move(specs);
  current_ = 0;
  current_done_ = 0;
  open_ = true;
  return Status::OK();
}

Status SafetensorsWriter::write_tensor(std::string_view name, const std::byte* data, size_t size) {
  if (!open_) return FailedPreconditionError("safetensors writer: write before open()");
  // Tensors are usually written in order, so look at the current one first.
  for (size_t i = current_; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return write_tensor(i, data, size);
  }
  for (size_t i = 0; i < current_; ++i) {
    if (specs_[i].name == name) return write_tensor(i, data, size);
  }
  return InvalidArgumentError(path_.string() + ": tensor '" + std::string(name) +
                              "' is not in the header given to open()");
}

Status SafetensorsWriter::write_tensor(size_t index, const std::byte* data, size_t size) {
  if (!open_) return FailedPreconditionError("safetensors writer: write before open()");
  if (index >= specs_.size()) {
    return InvalidArgumentError(path_.string() + ": tensor index " + std::to_string(index) +
                                " is out of range (" + std::to_string(specs_.size()) + " tensors)");
  }
  if (index < current_) {
    return InvalidArgumentError(path_.string() + ": tensor '" + specs_[index].name +
                                "' comes before '" + specs_[current_].name +
                                "'; write tensors in the order given to open()");
  }
  for (size_t i = current_; i < index; ++i) {
    const uint64_t done = i == current_ ? current_done_ : 0;
    if (done != sizes_[i]) {
      return FailedPreconditionError(path_.string() + ": tensor '" + specs_[i].name + "' has " +
                                     std::to_string(done) + " of " + std::to_string(sizes_[i]) +
                                     " bytes; finish it before writing '" + specs_[index].name +
                                     "'");
    }
  }
  if (index != current_) {
    current_ = index;
    current_done_ = 0;
  }
  if (size > sizes_[current_] - current_done_) {
    return InvalidArgumentError(path_.string() + ": tensor '" + specs_[index].name + "' holds " +
                                std::to_string(sizes_[current_]) + " bytes; got " +
                                std::to_string(current_done_ + size));
  }
  if (size > 0) NVF_RETURN_IF_ERROR(file_.write(data, size));
  current_done_ += size;
  return Status::OK();
}

Status SafetensorsWriter::commit() {
  if (!open_) return FailedPreconditionError("safetensors writer: commit before open()");
  for (size_t i = current_; i < specs_.size(); ++i) {
    const uint64_t done = i == current_ ? current_done_ : 0;
    if (done != sizes_[i]) {
      return FailedPreconditionError(path_.string() + ": tensor '" + specs_[i].name + "' has " +
                                     std::to_string(done) + " of " + std::to_string(sizes_[i]) +
                                     " bytes at commit()");
    }
  }
  open_ = false;
  return file_.commit();
}

void SafetensorsWriter::abandon() {
  file_.abandon();
  open_ = false;
}

Status write_safetensors(const fs::path& path, const TensorDict& tensors,
                         const Metadata& metadata, const base::AtomicFileWriter::Options& file) {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const auto& [name, t] : tensors) specs.push_back({name, t.dtype(), t.shape()});
  SafetensorsWriter writer;
  NVF_RETURN_IF_ERROR(writer.open(path, std::move(specs), metadata, file));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    NVF_RETURN_IF_ERROR(writer.write_tensor(i, t.data(), t.nbytes()));
  }
  return writer.commit();
}

// ---------------------------------------------------------------------------------------------
// Reader

Result<SafetensorsReader> SafetensorsReader::open(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return base::errno_status(err, "cannot stat", path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return header_error(path.string(), "file is " + std::to_string(size) +
                                           " bytes, shorter than the 8-byte header length");
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (addr == MAP_FAILED) return base::errno_status(err, "cannot mmap", path);
  std::shared_ptr<const void> mapping(
      addr, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return from_buffer(static_cast<const std::byte*>(addr), size, std::move(mapping), path.string());
}

Result<SafetensorsReader> SafetensorsReader::from_string(std::string bytes, std::string source) {
  auto owner = std::make_shared<const std::string>(std::move(bytes));
  const auto* data = reinterpret_cast<const std::byte*>(owner->data());
  const size_t size = owner->size();
  return from_buffer(data, size, std::move(owner), std::move(source));
}

Result<SafetensorsReader> SafetensorsReader::from_buffer(const std::byte* data, size_t size,
                                                         std::shared_ptr<const void> keep_alive,
                                                         std::string source) {
  if (size < 8) {
    return header_error(source, "input is " + std::to_string(size) +
                                    " bytes, shorter than the 8-byte header length");
  }
  const uint64_t n = read_le64(data);
  if (n > kMaxSafetensorsHeader) {
    return header_error(source, "header length " + std::to_string(n) +
                                    " is larger than the 100 MB limit; this is not a safetensors "
                                    "file or it is corrupt");
  }
  if (n > size - 8) {
    return header_error(source, "header length " + std::to_string(n) +
                                    " runs past the end of the " + std::to_string(size) +
                                    "-byte input; it is truncated or not " + "a safetensors file");
  }
  std::string_view json(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n));
  NVF_ASSIGN_OR_RETURN(SafetensorsHeader header,
                       parse_safetensors_header(json, size - 8 - n, source));
  SafetensorsReader reader;
  reader.source_ = std::move(source);
  reader.data_ = data + 8 + n;
  reader.keep_alive_ = std::move(keep_alive);
  reader.header_ = std::move(header);
  return reader;
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> out;
  out.reserve(header_.tensors.size());
  for (const auto& t : header_.tensors) out.push_back(t.name);
  return out;
}

Tensor SafetensorsReader::view(const TensorInfo& info) const {
  auto t = Tensor::borrow(info.dtype, info.shape, data_ + info.begin,
                          static_cast<size_t>(info.nbytes()), keep_alive_);
  NVF_CHECK(t.ok());  // the header was validated
  return std::move(t).value();
}

Result<Tensor> SafetensorsReader::tensor(std::string_view name) const {
  for (const auto& info : header_.tensors) {
    if (info.name == name) return view(info);
  }
  return NotFoundError("safetensors " + source_ + ": no tensor named '" + std::string(name) + "'");
}

TensorDict SafetensorsReader::tensors() const {
  TensorDict out;
  for (const auto& info : header_.tensors) out.insert_or_assign(info.name, view(info));
  return out;
}

}  // namespace nvf::tensor
