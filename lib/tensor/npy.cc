#include "tensor/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <optional>

#include "base/files.h"

namespace nvf::tensor {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kAlign = 64;

Status npy_error(std::string_view source, const std::string& what) {
  return InvalidArgumentError("npy " + std::string(source) + ": " + what);
}

// A tiny parser for the header dict NumPy writes: string keys, and values that are strings,
// True/False, or tuples of non-negative integers.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  struct Fields {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
  };

  Result<Fields> parse() {
    Fields f;
    skip_space();
    if (!eat('{')) return error("expected '{'");
    while (true) {
      skip_space();
      if (eat('}')) break;
      NVF_ASSIGN_OR_RETURN(std::string key, parse_string());
      skip_space();
      if (!eat(':')) return error("expected ':' after '" + key + "'");
      skip_space();
      if (key == "descr") {
        NVF_ASSIGN_OR_RETURN(f.descr, parse_string());
      } else if (key == "fortran_order") {
        NVF_ASSIGN_OR_RETURN(f.fortran_order, parse_bool());
      } else if (key == "shape") {
        NVF_ASSIGN_OR_RETURN(f.shape, parse_shape());
      } else {
        return error("unexpected key '" + key + "'");
      }
      skip_space();
      if (eat(',')) continue;
      skip_space();
      if (eat('}')) break;
      return error("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text after the dict");
    if (!f.descr || !f.fortran_order || !f.shape) {
      return error("the dict must hold 'descr', 'fortran_order' and 'shape'");
    }
    return f;
  }

 private:
  Status error(const std::string& what) const {
    return InvalidArgumentError("malformed header at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat_word(std::string_view w) {
    if (text_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }
  Result<std::string> parse_string() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  Result<bool> parse_bool() {
    if (eat_word("True")) return true;
    if (eat_word("False")) return false;
    return error("expected True or False");
  }
  Result<Shape> parse_shape() {
    if (!eat('(')) return error("expected '(' for the shape");
    Shape shape;
    while (true) {
      skip_space();
      if (eat(')')) break;
      if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        return error("expected a non-negative integer in the shape");
      }
      int64_t v = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text_[pos_] - '0', &v)) {
          return error("shape dimension too large");
        }
        ++pos_;
      }
      (void)eat('L');  // Python 2 longs
      shape.push_back(v);
      skip_space();
      if (eat(',')) continue;
      skip_space();
      if (eat(')')) break;
      return error("expected ',' or ')' in the shape");
    }
    return shape;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> encode_npy_header(DType dtype, const Shape& shape) {
  NVF_ASSIGN_OR_RETURN(std::string_view descr, npy_descr(dtype));
  NVF_RETURN_IF_ERROR(shape_numel(shape).status());
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // Version 1.0 has a u16 length; fall back to 2.0 only when the header needs more.
  size_t prefix = kMagic.size() + 2 + 2;
  bool v2 = false;
  size_t total = (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  if (total - prefix > 0xFFFF) {
    v2 = true;
    prefix += 2;
    total = (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  }
  const size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i)
    out += static_cast<char>((header_len >> (8 * i)) & 0xFF);
  return out + dict;
}

Status write_npy(const fs::path& path, const Tensor& tensor) {
  auto header = encode_npy_header(tensor.dtype(), tensor.shape());
  if (!header.ok()) return header.status().with_context("npy " + path.string());
  base::AtomicFileWriter file;
  NVF_RETURN_IF_ERROR(file.open(path));
  NVF_RETURN_IF_ERROR(file.write(*header));
  if (tensor.nbytes() > 0) NVF_RETURN_IF_ERROR(file.write(tensor.data(), tensor.nbytes()));
  return file.commit();
}

Result<Tensor> parse_npy(const std::byte* data, size_t size, std::shared_ptr<const void> keep_alive,
                         std::string_view source) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  if (size < kMagic.size() + 2 ||
      std::string_view(reinterpret_cast<const char*>(data), 6) != kMagic) {
    return npy_error(source, "not a .npy file (missing the \\x93NUMPY magic)");
  }
  const int major = bytes[6];
  const int minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return npy_error(source, "unsupported format version " + std::to_string(major) + "." +
                                 std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  const size_t len_size = major == 1 ? 2 : 4;
  if (size < 8 + len_size) return npy_error(source, "file ends inside the header length");
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_size; ++i)
    header_len |= static_cast<uint64_t>(bytes[8 + i]) << (8 * i);
  const uint64_t data_start = 8 + len_size + header_len;
  if (data_start > size) {
    return npy_error(source, "header length " + std::to_string(header_len) +
                                 " runs past the end of the " + std::to_string(size) +
                                 "-byte file");
  }
  std::string_view text(reinterpret_cast<const char*>(data) + 8 + len_size,
                        static_cast<size_t>(header_len));
  if (text.empty() || text.back() != '\n') {
    return npy_error(source, "header does not end with a newline");
  }
  auto fields = HeaderParser(text).parse();
  if (!fields.ok()) return npy_error(source, fields.status().message());
  if (*fields->fortran_order) {
    return npy_error(source,
                     "fortran_order True is not supported; save a C-order array "
                     "(numpy.ascontiguousarray)");
  }
  auto dtype = parse_npy_descr(*fields->descr);
  if (!dtype.ok()) return npy_error(source, dtype.status().message());
  auto nbytes = shape_nbytes(*dtype, *fields->shape);
  if (!nbytes.ok()) return npy_error(source, nbytes.status().message());
  if (size - data_start < *nbytes) {
    return DataLossError("npy " + std::string(source) + ": data is truncated: shape " +
                         shape_to_string(*fields->shape) + " of " + *fields->descr + " needs " +
                         std::to_string(*nbytes) + " bytes, the file holds " +
                         std::to_string(size - data_start));
  }
  if (size - data_start > *nbytes) {
    return npy_error(source, std::to_string(size - data_start - *nbytes) +
                                 " unexpected bytes after the array data");
  }
  return Tensor::borrow(*dtype, std::move(*fields->shape), data + data_start,
                        static_cast<size_t>(*nbytes), std::move(keep_alive));
}

Result<Tensor> read_npy(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return base::errno_status(err, "cannot stat", path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return npy_error(path.string(), "file is empty");
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return base::errno_status(err, "cannot mmap", path);
  std::shared_ptr<const void> mapping(
      addr, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return parse_npy(static_cast<const std::byte*>(addr), size, std::move(mapping), path.string());
}

}  // namespace nvf::tensor
