#include "base/files.h"

#include "base/process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <random>
#include <system_error>

namespace nvf::base {

std::string errno_text(int err) { return std::strerror(err); }

Status errno_status(int err, std::string_view what, const fs::path& path) {
  std::string msg = std::string(what) + " " + path.string() + ": " + errno_text(err);
  switch (err) {
    case ENOENT: return NotFoundError(std::move(msg));
    case EACCES:
    case EPERM: return PermissionDeniedError(std::move(msg));
    case EEXIST: return AlreadyExistsError(std::move(msg));
    case ENOSPC:
    case EDQUOT: return ResourceExhaustedError(std::move(msg));
    default: return DataLossError(std::move(msg));
  }
}

bool is_within(const fs::path& root, const fs::path& path) {
  fs::path r = root.lexically_normal();
  fs::path p = path.lexically_normal();
  auto rs = r.string();
  auto ps = p.string();
  while (rs.size() > 1 && rs.back() == '/') rs.pop_back();
  while (ps.size() > 1 && ps.back() == '/') ps.pop_back();
  if (ps == rs) return true;
  if (rs == "/") return !ps.empty() && ps[0] == '/';
  return ps.size() > rs.size() && ps.compare(0, rs.size(), rs) == 0 && ps[rs.size()] == '/';
}

Result<fs::path> safe_join(const fs::path& root, std::string_view relative, bool follow_links) {
  if (relative.empty()) return root;
  fs::path rel(relative);
  if (rel.is_absolute() || relative.front() == '/') {
    return InvalidArgumentError("path '" + std::string(relative) + "' is absolute; expected a path inside " +
                                root.string());
  }
  for (const auto& part : rel) {
    if (part == "..") {
      return InvalidArgumentError("path '" + std::string(relative) + "' contains '..'; expected a path inside " +
                                  root.string());
    }
  }
  fs::path joined = (root / rel).lexically_normal();
  if (!is_within(root, joined)) {
    return InvalidArgumentError("path '" + std::string(relative) + "' leaves " + root.string());
  }
  if (follow_links) {
    std::error_code ec;
    fs::path real_root = fs::weakly_canonical(root, ec);
    if (ec) real_root = root;
    fs::path real = fs::weakly_canonical(joined, ec);
    if (!ec && !is_within(real_root, real)) {
      return InvalidArgumentError("path '" + std::string(relative) + "' resolves through a link to " +
                                  real.string() + ", outside " + root.string());
    }
  }
  return joined;
}

Result<std::string> read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError("cannot read " + path.string() + ": it is a directory");
  }
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errno_status(err, "cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status atomic_write(const fs::path& path, std::string_view data, unsigned mode) {
  AtomicFileWriter w;
  NVF_RETURN_IF_ERROR(w.open(path, mode));
  NVF_RETURN_IF_ERROR(w.write(data));
  return w.commit();
}

AtomicFileWriter::~AtomicFileWriter() { abandon(); }

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept { *this = std::move(other); }

AtomicFileWriter& AtomicFileWriter::operator=(AtomicFileWriter&& other) noexcept {
  if (this != &other) {
    abandon();
    fd_ = other.fd_;
    target_ = std::move(other.target_);
    temp_ = std::move(other.temp_);
    written_ = other.written_;
    keep_previous_ = other.keep_previous_;
    sync_ = other.sync_;
    direct_ = other.direct_;
    stage_ = std::move(other.stage_);
    flushed_ = other.flushed_;
    other.fd_ = -1;
    other.temp_.clear();
  }
  return *this;
}

void AtomicFileWriter::FreeStage::operator()(std::byte* p) const { std::free(p); }

fs::path previous_version_path(const fs::path& target) {
  return target.parent_path() / ("." + target.filename().string() + ".prev");
}

void remove_previous(const fs::path& target) { ::unlink(previous_version_path(target).c_str()); }

Status sync_to_disk(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open to sync", path);
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status(err, "cannot sync", path);
  return Status::OK();
}

Status AtomicFileWriter::open(const fs::path& target, unsigned mode, bool keep_previous) {
  Options options;
  options.mode = mode;
  options.keep_previous = keep_previous;
  return open(target, options);
}

Status AtomicFileWriter::open(const fs::path& target, const Options& options) {
  abandon();
  target_ = target;
  written_ = 0;
  flushed_ = 0;
  keep_previous_ = options.keep_previous;
  sync_ = options.sync;
  direct_ = false;
  const unsigned mode = options.mode;
  // Direct mode reads blocks back to patch them, so it opens the file for reading too.
  const int access = options.direct ? O_RDWR : O_WRONLY;
  if (keep_previous_) {
    temp_ = previous_version_path(target);
    fd_ = ::open(temp_.c_str(), access | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
    struct stat st {};
    if (fd_ >= 0 && (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(fd_);
      fd_ = -1;
      errno = EINVAL;
    }
    if (fd_ < 0) {
      const int err = errno;
      temp_.clear();
      return errno_status(err, "cannot open the scratch file", previous_version_path(target));
    }
  } else {
    fs::path dir = target.parent_path();
    if (dir.empty()) dir = ".";
    std::random_device rd;
    for (int attempt = 0; attempt < 16; ++attempt) {
      temp_ = dir / ("." + target.filename().string() + ".tmp" + std::to_string(rd() % 1000000));
      fd_ = ::open(temp_.c_str(), access | O_CREAT | O_EXCL | O_CLOEXEC, mode);
      if (fd_ >= 0) break;
      if (errno != EEXIST) {
        const int err = errno;
        const fs::path failed = temp_;
        temp_.clear();
        return errno_status(err, "cannot create", failed);
      }
    }
    if (fd_ < 0) {
      temp_.clear();
      return AlreadyExistsError("cannot create a temporary file beside " + target.string());
    }
  }
  ::fchmod(fd_, mode);
  if (options.direct) {
    // Set after open: a filesystem without O_DIRECT refuses it here (EINVAL) and the file is
    // written through the page cache instead.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && ::fcntl(fd_, F_SETFL, flags | O_DIRECT) == 0) {
      if (!stage_) {
        void* p = std::aligned_alloc(kDirectAlign, kDirectStageBytes);
        stage_.reset(static_cast<std::byte*>(p));
      }
      direct_ = stage_ != nullptr;
      if (!direct_) ::fcntl(fd_, F_SETFL, flags);
    }
  }
  return Status::OK();
}

Status AtomicFileWriter::write(std::string_view data) { return write(data.data(), data.size()); }

Status AtomicFileWriter::write(const void* data, size_t size) {
  if (fd_ < 0) return FailedPreconditionError("write to " + target_.string() + " before open()");
  const char* p = static_cast<const char*>(data);
  if (direct_) {
    while (size > 0) {
      const size_t staged = written_ - flushed_;
      const size_t n = std::min(size, kDirectStageBytes - staged);
      std::memcpy(stage_.get() + staged, p, n);
      p += n;
      size -= n;
      written_ += n;
      if (written_ - flushed_ == kDirectStageBytes) NVF_RETURN_IF_ERROR(flush_stage(/*pad=*/false));
    }
    return Status::OK();
  }
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "cannot write", temp_);
    }
    p += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status AtomicFileWriter::write_all_at(const void* data, size_t size, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      const int flags = ::fcntl(fd_, F_GETFL);
      if (err == EINVAL && flags >= 0 && (flags & O_DIRECT) != 0 &&
          ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) == 0) {
        continue;  // the device wants other alignments: the page cache then
      }
      return errno_status(err, "cannot write", temp_);
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

// Writes the staged bytes at flushed_. Without `pad` they fill whole blocks; with it (the end of
// the file) the last block is padded with zeros, and commit() truncates the file to its length.
Status AtomicFileWriter::flush_stage(bool pad) {
  const size_t staged = written_ - flushed_;
  if (staged == 0) return Status::OK();
  size_t len = staged;
  if (pad) {
    len = (staged + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memset(stage_.get() + staged, 0, len - staged);
  }
  NVF_RETURN_IF_ERROR(write_all_at(stage_.get(), len, flushed_));
  flushed_ = written_;
  return Status::OK();
}

// Rewrites `size` bytes at `at` inside block `block`, which is already on disk.
Status AtomicFileWriter::patch_block(uint64_t block, size_t at, const void* data, size_t size) {
  void* raw = std::aligned_alloc(kDirectAlign, kDirectAlign);
  if (raw == nullptr) return ResourceExhaustedError("cannot patch " + temp_.string() + ": out of memory");
  std::unique_ptr<std::byte, FreeStage> buf(static_cast<std::byte*>(raw));
  const uint64_t offset = block * kDirectAlign;
  size_t got = 0;
  while (got < kDirectAlign) {
    ssize_t n = ::pread(fd_, buf.get() + got, kDirectAlign - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(errno, "cannot read back", temp_);
    if (n == 0) break;  // a reused scratch file may be shorter than what is being written
    got += static_cast<size_t>(n);
  }
  std::memset(buf.get() + got, 0, kDirectAlign - got);
  std::memcpy(buf.get() + at, data, size);
  return write_all_at(buf.get(), kDirectAlign, offset);
}

Status AtomicFileWriter::pwrite(const void* data, size_t size, uint64_t offset) {
  if (fd_ < 0) return FailedPreconditionError("write to " + target_.string() + " before open()");
  if (!direct_) return write_all_at(data, size, offset);
  if (offset > written_ || size > written_ - offset) {
    return InvalidArgumentError("patch of " + temp_.string() + " at " + std::to_string(offset) +
                                " past the " + std::to_string(written_) + " bytes written");
  }
  const auto* p = static_cast<const std::byte*>(data);
  while (size > 0 && offset < flushed_) {  // on disk already: read, patch, rewrite its block
    const uint64_t block = offset / kDirectAlign;
    const size_t at = static_cast<size_t>(offset % kDirectAlign);
    const size_t n = std::min<uint64_t>({size, kDirectAlign - at, flushed_ - offset});
    NVF_RETURN_IF_ERROR(patch_block(block, at, p, n));
    p += n;
    size -= n;
    offset += n;
  }
  if (size > 0) std::memcpy(stage_.get() + (offset - flushed_), p, size);
  return Status::OK();
}

Status AtomicFileWriter::commit() {
  if (fd_ < 0) return FailedPreconditionError("commit of " + target_.string() + " before open()");
  if (direct_) {
    if (Status s = flush_stage(/*pad=*/true); !s.ok()) {
      abandon();
      return s;
    }
  }
  // A reused scratch may be longer than what was written over it; a direct write pads its last
  // block.
  if ((keep_previous_ || direct_) && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0) {
    int err = errno;
    abandon();
    return errno_status(err, "cannot truncate", temp_);
  }
  if (sync_ && ::fsync(fd_) != 0) {
    int err = errno;
    abandon();
    return errno_status(err, "cannot sync", target_);
  }
  ::close(fd_);
  fd_ = -1;
  // RENAME_EXCHANGE swaps with a directory too; a plain rename refuses to replace one.
  struct stat st {};
  if (keep_previous_ && ::lstat(target_.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
    temp_.clear();  // now the previous version: kept as the next scratch
    return Status::OK();
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_.c_str());
    return errno_status(err, "cannot replace", target_);
  }
  temp_.clear();
  return Status::OK();
}

void AtomicFileWriter::abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_.empty()) {
    ::unlink(temp_.c_str());
    temp_.clear();
  }
}

Status make_dirs(const fs::path& dir, unsigned mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return errno_status(ec.value(), "cannot create directory", dir);
  (void)mode;
  return Status::OK();
}

fs::path expand_user(const fs::path& p) {
  auto s = p.string();
  if (s.empty() || s[0] != '~') return p;
  const char* home = std::getenv("HOME");
  if (!home) return p;
  if (s.size() == 1) return fs::path(home);
  if (s[1] == '/') return fs::path(home) / s.substr(2);
  return p;
}

Status copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) return errno_status(ec.value(), "cannot copy " + from.string() + " to", to);
  return Status::OK();
}

fs::path temp_root() {
  const char* env = std::getenv("TMPDIR");
  if (env == nullptr || *env != '/' || std::strlen(env) > kMaxTempRootLength) return "/tmp";
  std::error_code ec;
  if (!fs::is_directory(env, ec)) return "/tmp";
  std::string root = env;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

Result<fs::path> make_temp_dir(std::string_view prefix) { return make_temp_dir_in(temp_root(), prefix); }

Result<fs::path> make_temp_dir_in(const fs::path& parent, std::string_view prefix) {
  std::string tmpl = (parent / (std::string(prefix) + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data()))
    return InternalError("cannot create a directory in " + parent.string() + ": " + errno_text(errno));
  return fs::path(tmpl);
}

namespace {
constexpr const char* kOwnerFile = ".owner";
}  // namespace

Result<fs::path> make_owned_temp_dir(std::string_view prefix) {
  NVF_ASSIGN_OR_RETURN(fs::path dir, make_temp_dir(prefix));
  Status s = write_owner_file(dir / kOwnerFile, ::getpid());
  if (!s.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return s;
  }
  return dir;
}

std::vector<fs::path> remove_stale_temp_dirs(std::string_view prefix) {
  std::vector<fs::path> removed;
  const std::string want = std::string(prefix) + "-";
  std::error_code ec;
  for (fs::directory_iterator it(temp_root(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(want, 0) != 0) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    const fs::path owner = it->path() / kOwnerFile;
    auto text = read_file(owner);
    if (!text.ok()) continue;  // not made by make_owned_temp_dir: leave it
    std::istringstream in(*text);
    std::string pid, started;
    if (!(in >> pid >> started) || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (owner_alive(owner)) continue;  // its process lives
    std::error_code rec;
    fs::remove_all(it->path(), rec);
    if (!rec) removed.push_back(it->path());
  }
  return removed;
}

ScopedRemove& ScopedRemove::operator=(ScopedRemove&& o) noexcept {
  if (this != &o) {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

ScopedRemove::~ScopedRemove() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

}  // namespace nvf::base
