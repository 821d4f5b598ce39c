#include "cellnet/downloadable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "base/files.h"

namespace nvf::cellnet {

namespace fs = std::filesystem;

TensorDownloadable::TensorDownloadable(tensor::TensorDict tensors) : tensors_(std::move(tensors)) {
  items_.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) {
    items_.push_back(DownloadItem{name, t.nbytes(), t.dtype(), t.shape()});
  }
}

Result<Slice> TensorDownloadable::produce(size_t index, uint64_t offset, uint64_t length) {
  if (index >= tensors_.size()) {
    return OutOfRangeError("item " + std::to_string(index) + " out of range (" +
                           std::to_string(tensors_.size()) + " tensors)");
  }
  const tensor::Tensor& t = tensors_[index].second;
  if (offset > t.nbytes() || length > t.nbytes() - offset) {
    return OutOfRangeError("range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                           ") outside tensor '" + tensors_[index].first + "' of " +
                           std::to_string(t.nbytes()) + " bytes");
  }
  return Slice{t.data() + offset, static_cast<size_t>(length), t.keep_alive()};
}

BytesDownloadable::BytesDownloadable(Buffer bytes, std::string name) : bytes_(std::move(bytes)) {
  item_.name = std::move(name);
  item_.size = bytes_.size();
}

BytesDownloadable::BytesDownloadable(std::string bytes, std::string name)
    : BytesDownloadable(Buffer(Slice::from_string(std::move(bytes))), std::move(name)) {}

Result<Slice> BytesDownloadable::produce(size_t index, uint64_t offset, uint64_t length) {
  if (index != 0 || offset > bytes_.size() || length > bytes_.size() - offset) {
    return OutOfRangeError("range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                           ") of item " + std::to_string(index) + " outside a blob of " +
                           std::to_string(bytes_.size()) + " bytes");
  }
  // One slice when the range lies in one (always, for a blob built from one string): no copy.
  return bytes_.sub(offset, length).flatten();
}

Result<std::shared_ptr<FileDownloadable>> FileDownloadable::open(const fs::path& root,
                                                                 const std::string& relative) {
  NVF_ASSIGN_OR_RETURN(fs::path path, base::safe_join(root, relative, /*follow_links=*/true));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot open", path);
  // The check above looked at names; look at what was actually opened (a directory component may
  // have been swapped for a link in between).
  std::error_code link_ec;
  std::error_code root_ec;
  fs::path real = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), link_ec);
  fs::path real_root = fs::weakly_canonical(root, root_ec);
  if (link_ec || root_ec || !base::is_within(real_root, real)) {
    ::close(fd);
    return InvalidArgumentError("path '" + relative + "' resolves outside " + root.string());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError("path '" + relative + "' under " + root.string() +
                                " is not a regular file");
  }
  return std::shared_ptr<FileDownloadable>(
      new FileDownloadable(fd, path, static_cast<uint64_t>(st.st_size), path.filename().string()));
}

FileDownloadable::FileDownloadable(int fd, fs::path path, uint64_t size, std::string name)
    : fd_(fd), path_(std::move(path)) {
  item_.name = std::move(name);
  item_.size = size;
}

FileDownloadable::~FileDownloadable() { ::close(fd_); }

Result<Slice> FileDownloadable::produce(size_t index, uint64_t offset, uint64_t length) {
  if (index != 0 || offset > item_.size || length > item_.size - offset) {
    return OutOfRangeError("range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                           ") outside " + path_.string() + " (" + std::to_string(item_.size) +
                           " bytes)");
  }
  std::byte* out = nullptr;
  Slice slice = Slice::allocate(static_cast<size_t>(length), &out);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, out + done, static_cast<size_t>(length - done),
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::errno_status(errno, "cannot read", path_).with_context("download");
    if (n == 0) {
      return DataLossError(path_.string() + " shrank to " + std::to_string(offset + done) +
                           " bytes while being downloaded (was " + std::to_string(item_.size) +
                           ")");
    }
    done += static_cast<uint64_t>(n);
  }
  return slice;
}

}  // namespace nvf::cellnet
