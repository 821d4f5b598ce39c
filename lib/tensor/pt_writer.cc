#include "tensor/pt_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace nvf::tensor {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB", as torch's writer
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kAlignment = 64;  // torch aligns record payloads to 64 bytes
constexpr uint32_t kMax32 = 0xFFFFFFFFu;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, for reproducible files

void put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>(v >> 8);
}
void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t crc_update(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    const auto n = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, p, n));
    p += n;
    size -= n;
  }
  return crc;
}

// The CRC-32 of `size` bytes on their own.
uint32_t crc_of(const void* data, size_t size) {
  return crc_update(static_cast<uint32_t>(::crc32(0L, Z_NULL, 0)), data, size);
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF (Python refuses them too).
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

// The few pickle (protocol 2) opcodes torch.save's output uses.
class Pickler {
 public:
  void proto() { out_ += "\x80\x02"; }
  void global(std::string_view module, std::string_view name) {
    out_ += 'c';
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void unicode(std::string_view s) {
    out_ += 'X';
    put32(out_, static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 0x100) {
      out_ += 'K';
      out_ += static_cast<char>(v);
    } else if (v >= 0 && v < 0x10000) {
      out_ += 'M';
      put16(out_, static_cast<uint16_t>(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      put32(out_, static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      // LONG1: little-endian two's complement, as few bytes as keep the sign.
      std::string bytes;
      auto u = static_cast<uint64_t>(v);
      for (int i = 0; i < 8; ++i) bytes += static_cast<char>((u >> (8 * i)) & 0xFF);
      while (bytes.size() > 1) {
        const auto last = static_cast<unsigned char>(bytes.back());
        const auto prev = static_cast<unsigned char>(bytes[bytes.size() - 2]);
        if ((last == 0 && !(prev & 0x80)) || (last == 0xFF && (prev & 0x80))) {
          bytes.pop_back();
        } else {
          break;
        }
      }
      out_ += '\x8a';
      out_ += static_cast<char>(bytes.size());
      out_ += bytes;
    }
  }
  void int_tuple(const std::vector<int64_t>& values) {
    if (values.empty()) {
      out_ += ')';  // EMPTY_TUPLE
      return;
    }
    mark();
    for (int64_t v : values) integer(v);
    op('t');
  }
  void mark() { out_ += '('; }
  void op(char c) { out_ += c; }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) {
    strides[i - 1] = strides[i] * std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

// The end of central directory record, preceded by the ZIP64 end record and its locator when
// `zip64` (fields that overflow their 16/32 bits then read 0xFFFF.. and readers use the ZIP64
// ones).
std::string end_records(uint64_t count, uint64_t cd_offset, uint64_t cd_size, bool zip64) {
  std::string out;
  if (zip64) {
    put32(out, kZip64EndSig);
    put64(out, 44);  // size of the rest of this record
    put16(out, 45);  // version made by
    put16(out, 45);  // version needed
    put32(out, 0);   // this disk
    put32(out, 0);   // disk with the central directory
    put64(out, count);
    put64(out, count);
    put64(out, cd_size);
    put64(out, cd_offset);
    put32(out, kZip64LocatorSig);
    put32(out, 0);                    // disk with the zip64 end record
    put64(out, cd_offset + cd_size);  // where the zip64 end record starts
    put32(out, 1);                    // total disks
  }
  put32(out, kEndSig);
  put16(out, 0);  // this disk
  put16(out, 0);  // disk with the central directory
  const auto count16 = static_cast<uint16_t>(count >= 0xFFFF ? 0xFFFF : count);
  put16(out, count16);
  put16(out, count16);
  put32(out, cd_size >= kMax32 ? kMax32 : static_cast<uint32_t>(cd_size));
  put32(out, cd_offset >= kMax32 ? kMax32 : static_cast<uint32_t>(cd_offset));
  put16(out, 0);  // comment length
  return out;
}

}  // namespace

bool PtWriter::needs_zip64(uint64_t value) const { return options_.force_zip64 || value >= kMax32; }

Status PtWriter::open(const fs::path& path, bool wrap_in_model_dict) {
  Options options;
  options.wrap_in_model_dict = wrap_in_model_dict;
  return open(path, options);
}

Status PtWriter::open(const fs::path& path, const Options& options) {
  abandon();
  if (options.archive_name.empty() || options.archive_name.find('/') != std::string::npos) {
    return InvalidArgumentError(path.string() + ": archive name \"" + options.archive_name +
                                "\" must be one non-empty path component");
  }
  NVF_RETURN_IF_ERROR(file_.open(path, options.file));
  path_ = path;
  options_ = options;
  records_.clear();
  tensors_.clear();
  names_.clear();
  in_record_ = false;
  open_ = true;
  return Status::OK();
}

Status PtWriter::begin_record(const std::string& entry, uint64_t size) {
  const uint64_t offset = file_.bytes_written();
  const bool zip64 = needs_zip64(size);
  std::string header;
  put32(header, kLocalHeaderSig);
  put16(header, zip64 ? 45 : 20);  // version needed to extract
  put16(header, 0);                // flags
  put16(header, 0);                // method: STORED
  put16(header, 0);                // time
  put16(header, kDosDate);
  const std::optional<uint32_t> known = std::exchange(next_crc_, std::nullopt);
  crc_known_ = known.has_value();
  put32(header, known.value_or(0));  // CRC-32: known, or patched by end_record()
  put32(header, zip64 ? kMax32 : static_cast<uint32_t>(size));
  put32(header, zip64 ? kMax32 : static_cast<uint32_t>(size));
  put16(header, static_cast<uint16_t>(entry.size()));
  std::string extra;
  if (zip64) {
    put16(extra, kZip64ExtraId);
    put16(extra, 16);
    put64(extra, size);  // uncompressed
    put64(extra, size);  // compressed
  }
  const uint64_t unpadded = offset + kLocalHeaderSize + entry.size() + extra.size() + 4;
  const auto padding = static_cast<uint16_t>((kAlignment - unpadded % kAlignment) % kAlignment);
  put16(extra, kPaddingExtraId);
  put16(extra, padding);
  extra.append(padding, 'Z');
  put16(header, static_cast<uint16_t>(extra.size()));
  header += entry;
  header += extra;
  NVF_RETURN_IF_ERROR(file_.write(header));
  records_.push_back({entry, offset, size, known.value_or(0)});
  in_record_ = true;
  record_done_ = 0;
  crc_ = known.value_or(static_cast<uint32_t>(::crc32(0L, Z_NULL, 0)));
  return Status::OK();
}

Status PtWriter::append(const void* data, size_t size) {
  if (size == 0) return Status::OK();
  if (!crc_known_) crc_ = crc_update(crc_, data, size);
  NVF_RETURN_IF_ERROR(file_.write(data, size));
  record_done_ += size;
  return Status::OK();
}

Status PtWriter::end_record() {
  Record& r = records_.back();
  in_record_ = false;
  if (crc_known_) return Status::OK();  // already in the header
  r.crc = crc_;
  std::string crc;
  put32(crc, crc_);
  NVF_RETURN_IF_ERROR(file_.pwrite(crc.data(), crc.size(), r.offset + 14));
  return Status::OK();
}

Status PtWriter::write_small_record(const std::string& entry, std::string_view bytes) {
  next_crc_ = crc_of(bytes.data(), bytes.size());
  NVF_RETURN_IF_ERROR(begin_record(entry, bytes.size()));
  NVF_RETURN_IF_ERROR(append(bytes.data(), bytes.size()));
  return end_record();
}

Status PtWriter::add_tensor(std::string name, DType dtype, Shape shape) {
  if (!open_) return FailedPreconditionError("pt writer: add_tensor before open()");
  if (in_record_) {
    const Record& r = records_.back();
    if (record_done_ != r.size) {
      return FailedPreconditionError(path_.string() + ": tensor '" + tensors_.back().name +
                                     "' has " + std::to_string(record_done_) + " of " +
                                     std::to_string(r.size) + " bytes; finish it before '" + name +
                                     "'");
    }
    NVF_RETURN_IF_ERROR(end_record());
  }
  if (name.empty() || !valid_utf8(name)) {
    return InvalidArgumentError(path_.string() + ": tensor name \"" + name +
                                "\" is empty or not valid UTF-8");
  }
  if (names_.count(name) != 0) {
    return AlreadyExistsError(path_.string() + ": tensor '" + name + "' was already added");
  }
  auto bytes = shape_nbytes(dtype, shape);
  if (!bytes.ok()) return bytes.status().with_context(path_.string() + ": tensor '" + name + "'");
  TensorEntry t{name, dtype, std::move(shape), 0, std::to_string(tensors_.size())};
  t.numel = *shape_numel(t.shape);
  NVF_RETURN_IF_ERROR(begin_record(options_.archive_name + "/data/" + t.key, *bytes));
  names_.insert(name);
  tensors_.push_back(std::move(t));
  return Status::OK();
}

Status PtWriter::write(const std::byte* data, size_t size) {
  if (!open_ || !in_record_) {
    return FailedPreconditionError("pt writer: write() without a current tensor (call add_tensor)");
  }
  const Record& r = records_.back();
  if (size > r.size - record_done_) {
    return InvalidArgumentError(path_.string() + ": tensor '" + tensors_.back().name + "' holds " +
                                std::to_string(r.size) + " bytes; got " +
                                std::to_string(record_done_ + size));
  }
  return append(data, size);
}

Status PtWriter::add_tensor(std::string name, const Tensor& tensor) {
  next_crc_ = crc_of(tensor.data(), tensor.nbytes());
  Status s = add_tensor(std::move(name), tensor.dtype(), tensor.shape());
  next_crc_.reset();
  NVF_RETURN_IF_ERROR(s);
  return write(tensor.data(), tensor.nbytes());
}

std::string PtWriter::build_pickle() const {
  Pickler p;
  p.proto();
  if (options_.wrap_in_model_dict) {
    p.op('}');  // EMPTY_DICT
    p.unicode("model");
  }
  p.empty_ordered_dict();
  if (!tensors_.empty()) {
    p.mark();
    for (const auto& t : tensors_) {
      p.unicode(t.name);
      // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
      p.global("torch._utils", "_rebuild_tensor_v2");
      p.mark();
      p.mark();
      p.unicode("storage");
      p.global("torch", torch_storage_name(t.dtype));
      p.unicode(t.key);
      p.unicode("cpu");
      p.integer(t.numel);
      p.op('t');
      p.op('Q');  // BINPERSID: the storage is loaded from data/<key>
      p.integer(0);
      p.int_tuple(t.shape);
      p.int_tuple(contiguous_strides(t.shape));
      p.op('\x89');  // NEWFALSE: requires_grad
      p.empty_ordered_dict();
      p.op('t');
      p.op('R');
    }
    p.op('u');  // SETITEMS
  }
  if (options_.wrap_in_model_dict) p.op('s');  // SETITEM
  p.op('.');
  return p.take();
}

Status PtWriter::write_central_directory() {
  const uint64_t cd_offset = file_.bytes_written();
  bool any_zip64 = false;
  std::string cd;
  for (const auto& r : records_) {
    const bool size64 = needs_zip64(r.size);
    const bool offset64 = needs_zip64(r.offset);
    std::string extra;
    if (size64 || offset64) {
      any_zip64 = true;
      put16(extra, kZip64ExtraId);
      put16(extra, static_cast<uint16_t>((size64 ? 16 : 0) + (offset64 ? 8 : 0)));
      if (size64) {
        put64(extra, r.size);
        put64(extra, r.size);
      }
      if (offset64) put64(extra, r.offset);
    }
    const uint16_t version = (size64 || offset64) ? 45 : 20;
    put32(cd, kCentralHeaderSig);
    put16(cd, version);  // made by (MS-DOS attributes)
    put16(cd, version);  // needed to extract
    put16(cd, 0);        // flags
    put16(cd, 0);        // STORED
    put16(cd, 0);
    put16(cd, kDosDate);
    put32(cd, r.crc);
    put32(cd, size64 ? kMax32 : static_cast<uint32_t>(r.size));
    put32(cd, size64 ? kMax32 : static_cast<uint32_t>(r.size));
    put16(cd, static_cast<uint16_t>(r.name.size()));
    put16(cd, static_cast<uint16_t>(extra.size()));
    put16(cd, 0);  // comment length
    put16(cd, 0);  // disk number start
    put16(cd, 0);  // internal attributes
    put32(cd, 0);  // external attributes
    put32(cd, offset64 ? kMax32 : static_cast<uint32_t>(r.offset));
    cd += r.name;
    cd += extra;
  }
  const uint64_t count = records_.size();
  const bool zip64_end = any_zip64 || options_.force_zip64 || count >= 0xFFFF ||
                         cd_offset >= kMax32 || cd.size() >= kMax32;
  cd += end_records(count, cd_offset, cd.size(), zip64_end);
  return file_.write(cd);
}

Status PtWriter::commit() {
  if (!open_) return FailedPreconditionError("pt writer: commit before open()");
  if (in_record_) {
    const Record& r = records_.back();
    if (record_done_ != r.size) {
      return FailedPreconditionError(path_.string() + ": tensor '" + tensors_.back().name +
                                     "' has " + std::to_string(record_done_) + " of " +
                                     std::to_string(r.size) + " bytes at commit()");
    }
    NVF_RETURN_IF_ERROR(end_record());
  }
  // torch finds records through the central directory, so the small records may come last.
  NVF_RETURN_IF_ERROR(write_small_record(options_.archive_name + "/data.pkl", build_pickle()));
  NVF_RETURN_IF_ERROR(write_small_record(options_.archive_name + "/version", "3\n"));
  NVF_RETURN_IF_ERROR(write_central_directory());
  open_ = false;
  return file_.commit();
}

void PtWriter::abandon() {
  file_.abandon();
  open_ = false;
  in_record_ = false;
}

Status write_pt(const fs::path& path, const TensorDict& tensors, bool wrap_in_model_dict,
                const base::AtomicFileWriter::Options& file) {
  PtWriter writer;
  PtWriter::Options options;
  options.wrap_in_model_dict = wrap_in_model_dict;
  options.file = file;
  NVF_RETURN_IF_ERROR(writer.open(path, options));
  for (const auto& [name, t] : tensors) NVF_RETURN_IF_ERROR(writer.add_tensor(name, t));
  return writer.commit();
}

}  // namespace nvf::tensor
