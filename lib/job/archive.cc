#include "job/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <functional>
#include <memory>
#include <set>
#include <system_error>
#include <vector>

#include "base/files.h"

namespace nvf::job {
namespace {

constexpr size_t kChunk = 64 * 1024;

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;
using EntryPtr = std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)>;

std::string archive_error(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

// ---------------------------------------------------------------------------------------------
// Packing

struct PackItem {
  fs::path source;   // file to read (for a link: the link, which the read follows)
  std::string name;  // entry name, "job/..." (directories end with '/')
  bool is_dir = false;
  struct stat st {};
  const std::string* content = nullptr;  // the bytes, when the file comes from memory
};

// `dir` is `rel_dir` of the folder ("" or "app/"); `prefix` the entry name of `dir`.
Status collect(const fs::path& real_root, const fs::path& dir, const std::string& rel_dir, const std::string& prefix,
               const std::map<std::string, std::string>& in_memory, std::vector<PackItem>* items) {
  std::vector<fs::path> children;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    children.push_back(it->path());
  }
  if (ec) return base::errno_status(ec.value(), "cannot list", dir);
  // The in-memory files of this directory: each replaces a child of its name or joins them.
  for (auto it = in_memory.lower_bound(rel_dir); it != in_memory.end() && it->first.compare(0, rel_dir.size(), rel_dir) == 0;
       ++it) {
    const std::string name = it->first.substr(rel_dir.size());
    if (name.find('/') != std::string::npos) continue;  // deeper down
    if (std::find(children.begin(), children.end(), dir / name) == children.end()) children.push_back(dir / name);
  }
  std::sort(children.begin(), children.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  for (const auto& child : children) {
    const std::string rel = prefix + child.filename().string();
    PackItem item{child, rel, false, {}};
    if (auto m = in_memory.find(rel_dir + child.filename().string()); m != in_memory.end()) {
      item.content = &m->second;
      item.st.st_mode = S_IFREG | 0644;
      item.st.st_size = static_cast<off_t>(m->second.size());
      item.st.st_mtime = ::time(nullptr);
      items->push_back(item);
      continue;
    }
    if (::lstat(child.c_str(), &item.st) != 0)
      return base::errno_status(errno, "cannot stat", child);
    if (S_ISLNK(item.st.st_mode)) {
      auto target = fs::weakly_canonical(child, ec);
      if (ec || !fs::exists(target, ec)) {
        return InvalidArgumentError("'" + rel +
                                    "' is a dangling symbolic link; remove it before packing");
      }
      if (!base::is_within(real_root, target)) {
        return InvalidArgumentError(
            "'" + rel + "' is a symbolic link to " + target.string() +
            ", outside the job folder; refusing to pack it (copy the file in instead)");
      }
      if (::stat(child.c_str(), &item.st) != 0)
        return base::errno_status(errno, "cannot stat", child);
      if (!S_ISREG(item.st.st_mode)) {
        return InvalidArgumentError(
            "'" + rel + "' is a symbolic link to a directory; replace it with a real folder");
      }
    }
    if (S_ISDIR(item.st.st_mode)) {
      item.is_dir = true;
      item.name += "/";
      items->push_back(item);
      NVF_RETURN_IF_ERROR(collect(real_root, child, rel_dir + child.filename().string() + "/", item.name, in_memory, items));
    } else if (S_ISREG(item.st.st_mode)) {
      items->push_back(item);
    } else {
      return InvalidArgumentError(
          "'" + rel + "' is a FIFO, socket or device; a job folder holds only files and folders");
    }
  }
  return Status::OK();
}

struct WriteSink {
  std::function<Status(std::string_view)> write;
  Status status;
};

la_ssize_t sink_write(struct archive*, void* data, const void* buf, size_t len) {
  auto* sink = static_cast<WriteSink*>(data);
  Status s = sink->write(std::string_view(static_cast<const char*>(buf), len));
  if (!s.ok()) {
    sink->status = s;
    return -1;
  }
  return static_cast<la_ssize_t>(len);
}

Status write_file_data(struct archive* a, const PackItem& item) {
  if (item.content) {
    const auto n = static_cast<la_ssize_t>(item.content->size());
    if (archive_write_data(a, item.content->data(), item.content->size()) != n) {
      return InternalError("cannot add " + item.name + " to the zip: " + archive_error(a));
    }
    return Status::OK();
  }
  int fd = ::open(item.source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot open", item.source);
  std::string buf(kChunk, '\0');
  uint64_t total = 0;
  Status result;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = base::errno_status(errno, "cannot read", item.source);
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > static_cast<uint64_t>(item.st.st_size) ||
        archive_write_data(a, buf.data(), static_cast<size_t>(n)) != n) {
      result =
          total > static_cast<uint64_t>(item.st.st_size)
              ? AbortedError(item.source.string() + " grew while it was being packed; try again")
              : InternalError("cannot add " + item.name + " to the zip: " + archive_error(a));
      break;
    }
  }
  ::close(fd);
  if (result.ok() && total != static_cast<uint64_t>(item.st.st_size)) {
    result = AbortedError(item.source.string() + " shrank while it was being packed; try again");
  }
  return result;
}

// Whether deflate is worth it for a file: small files always; a file of 1 MiB or more when the
// first 128 KiB shrink by at least 10 % at zlib level 1.
bool compresses(const PackItem& item) {
  constexpr size_t kSample = 128u << 10;
  if (item.st.st_size < (1 << 20) || item.content) return true;
  int fd = ::open(item.source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // write_file_data reports the error
  std::vector<unsigned char> in(kSample);
  ssize_t n = ::pread(fd, in.data(), in.size(), 0);
  ::close(fd);
  if (n <= 0) return true;
  uLongf out_len = compressBound(static_cast<uLong>(n));
  std::vector<unsigned char> out(out_len);
  if (compress2(out.data(), &out_len, in.data(), static_cast<uLong>(n), 1) != Z_OK) return true;
  return out_len < static_cast<uLongf>(n) * 9 / 10;
}

Status write_items(const std::vector<PackItem>& items, WriteSink* sink) {
  ArchivePtr a(archive_write_new(), archive_write_free);
  if (archive_write_set_format_zip(a.get()) != ARCHIVE_OK ||
      archive_write_zip_set_compression_deflate(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK) {
    return InternalError("cannot set up the zip writer: " + archive_error(a.get()));
  }
  if (archive_write_open(a.get(), sink, nullptr, sink_write, nullptr) != ARCHIVE_OK) {
    return sink->status.ok() ? InternalError("cannot start the zip: " + archive_error(a.get()))
                             : sink->status;
  }
  for (const auto& item : items) {
    EntryPtr e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), item.name.c_str());
    archive_entry_set_mtime(e.get(), item.st.st_mtime, 0);
    if (item.is_dir) {
      archive_entry_set_filetype(e.get(), AE_IFDIR);
      archive_entry_set_perm(e.get(), 0755);
      archive_entry_set_size(e.get(), 0);
    } else {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_perm(e.get(), (item.st.st_mode & 0100) ? 0755 : 0644);
      archive_entry_set_size(e.get(), item.st.st_size);
    }
    // Entries that would not shrink (checkpoints, archives, random data) are stored: deflating
    // hundreds of MiB that stay the same size is most of a large job's submit time.
    const bool store = !item.is_dir && !compresses(item);
    if ((store ? archive_write_zip_set_compression_store(a.get())
               : archive_write_zip_set_compression_deflate(a.get())) != ARCHIVE_OK) {
      return InternalError("cannot set the compression of " + item.name + ": " + archive_error(a.get()));
    }
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
      return sink->status.ok() ? InternalError("cannot add " + item.name +
                                               " to the zip: " + archive_error(a.get()))
                               : sink->status;
    }
    if (!item.is_dir) {
      Status s = write_file_data(a.get(), item);
      if (!s.ok()) return sink->status.ok() ? s : sink->status;
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return sink->status.ok() ? InternalError("cannot finish the zip: " + archive_error(a.get()))
                             : sink->status;
  }
  return sink->status;
}

Result<std::vector<PackItem>> plan_pack(const fs::path& folder, const PackOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    return NotFoundError("cannot pack " + folder.string() + ": not a directory");
  }
  const fs::path real_root = fs::canonical(folder, ec);
  if (ec) return base::errno_status(ec.value(), "cannot resolve", folder);
  std::string root = options.root_name;
  if (root.empty()) root = real_root.filename().string();
  if (root.empty() || root.find('/') != std::string::npos || root == "..") {
    return InvalidArgumentError("cannot pack " + folder.string() + ": bad root entry name '" +
                                root + "'");
  }
  std::vector<PackItem> items;
  PackItem top{folder, root + "/", true, {}};
  if (::stat(folder.c_str(), &top.st) != 0) return base::errno_status(errno, "cannot stat", folder);
  items.push_back(top);
  for (const auto& [rel, bytes] : options.files_in_memory) {
    const fs::path dir = real_root / fs::path(rel).parent_path();
    if (rel.empty() || rel.back() == '/' || rel.front() == '/' || fs::path(rel).lexically_normal().string() != rel ||
        rel.find("..") != std::string::npos || !fs::is_directory(dir, ec) || fs::is_directory(real_root / rel, ec)) {
      return InvalidArgumentError("cannot pack " + folder.string() + ": the in-memory file '" + rel +
                                  "' is not a file name inside one of its folders");
    }
  }
  NVF_RETURN_IF_ERROR(collect(real_root, real_root, "", top.name, options.files_in_memory, &items));
  return items;
}

// ---------------------------------------------------------------------------------------------
// Extraction

std::string refuse(const std::string& name, std::string_view rule) {
  return "zip entry '" + name + "' " + std::string(rule) + "; refusing the archive";
}

// Normalizes an entry name into safe relative components, or explains why it is not safe.
Result<std::string> safe_entry_name(const std::string& name) {
  if (name.empty())
    return InvalidArgumentError("zip has an entry without a name; refusing the archive");
  if (name[0] == '/' || name[0] == '\\' ||
      (name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) && name[1] == ':')) {
    return InvalidArgumentError(refuse(name, "is an absolute path"));
  }
  std::vector<std::string> parts;
  int depth = 0;
  bool dotdot = false;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '/' && name[i] != '\\') continue;
    std::string part = name.substr(start, i - start);
    start = i + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      dotdot = true;
      if (--depth < 0) return InvalidArgumentError(refuse(name, "leaves the target folder"));
      continue;
    }
    ++depth;
    parts.push_back(part);
  }
  if (dotdot) return InvalidArgumentError(refuse(name, "has a '..' component"));
  if (parts.empty()) return InvalidArgumentError(refuse(name, "names no file"));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

class Extractor {
 public:
  Extractor(const fs::path& root, const ExtractLimits& limits) : root_(root), limits_(limits) {}

  Status extract_all(struct archive* a) {
    while (true) {
      struct archive_entry* e = nullptr;
      int r = archive_read_next_header(a, &e);
      if (r == ARCHIVE_EOF) return Status::OK();
      if (r < ARCHIVE_WARN)
        return InvalidArgumentError("not a readable zip archive: " + archive_error(a));
      NVF_RETURN_IF_ERROR(extract_one(a, e));
    }
  }

 private:
  Status check_entry(struct archive_entry* e, const std::string& name, std::string* clean) {
    if (++entries_ > limits_.max_entries) {
      return ResourceExhaustedError("zip has more than " + std::to_string(limits_.max_entries) +
                                    " entries; refusing the archive");
    }
    NVF_ASSIGN_OR_RETURN(*clean, safe_entry_name(name));
    if (archive_entry_hardlink(e) != nullptr)
      return InvalidArgumentError(refuse(name, "is a hard link"));
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFLNK || archive_entry_symlink(e) != nullptr) {
      return InvalidArgumentError(
          refuse(name, "is a symbolic link (links are not allowed in job archives)"));
    }
    if (type != AE_IFREG && type != AE_IFDIR) {
      return InvalidArgumentError(refuse(name, "is a device, FIFO or socket"));
    }
    if (!seen_.insert(*clean).second)
      return InvalidArgumentError(refuse(name, "appears more than once"));
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
      const auto size = static_cast<uint64_t>(archive_entry_size(e));
      if (size > limits_.max_entry_bytes) {
        return ResourceExhaustedError(
            refuse(name, "declares " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(limits_.max_entry_bytes) + " per entry"));
      }
      declared_total_ += size;
      if (declared_total_ > limits_.max_total_bytes) return total_exceeded();
    }
    return Status::OK();
  }

  Status total_exceeded() const {
    return ResourceExhaustedError("zip contents exceed the limit of " +
                                  std::to_string(limits_.max_total_bytes) +
                                  " bytes in total; refusing the archive");
  }

  Status extract_one(struct archive* a, struct archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    const std::string name = raw ? raw : "";
    std::string clean;
    NVF_RETURN_IF_ERROR(check_entry(e, name, &clean));
    NVF_ASSIGN_OR_RETURN(fs::path target, base::safe_join(root_, clean, /*follow_links=*/true));
    const bool is_dir =
        archive_entry_filetype(e) == AE_IFDIR || name.back() == '/' || name.back() == '\\';
    std::error_code ec;
    fs::create_directories(is_dir ? target : target.parent_path(), ec);
    if (ec)
      return InvalidArgumentError(
          refuse(name, "conflicts with another entry (" + ec.message() + ")"));
    if (is_dir) return Status::OK();
    const mode_t mode = (archive_entry_perm(e) & 0100) ? 0755 : 0644;
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
      if (errno == EEXIST)
        return InvalidArgumentError(refuse(name, "conflicts with another entry"));
      return base::errno_status(errno, "cannot create", target);
    }
    Status s = copy_data(a, name, fd);
    if (::close(fd) != 0 && s.ok()) s = base::errno_status(errno, "cannot write", target);
    return s;
  }

  Status copy_data(struct archive* a, const std::string& name, int fd) {
    std::string buf(kChunk, '\0');
    uint64_t entry_bytes = 0;
    while (true) {
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n == 0) return Status::OK();
      if (n < 0) return DataLossError("zip entry '" + name + "' is corrupt: " + archive_error(a));
      entry_bytes += static_cast<uint64_t>(n);
      total_bytes_ += static_cast<uint64_t>(n);
      if (entry_bytes > limits_.max_entry_bytes) {
        return ResourceExhaustedError(refuse(name, "holds more than " +
                                                       std::to_string(limits_.max_entry_bytes) +
                                                       " bytes (the per-entry limit)"));
      }
      if (total_bytes_ > limits_.max_total_bytes) return total_exceeded();
      const char* p = buf.data();
      size_t left = static_cast<size_t>(n);
      while (left > 0) {
        ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
          return base::errno_status(errno, "cannot write zip entry '" + name + "' to", root_);
        p += w;
        left -= static_cast<size_t>(w);
      }
    }
  }

  fs::path root_;
  ExtractLimits limits_;
  uint64_t entries_ = 0;
  uint64_t declared_total_ = 0;
  uint64_t total_bytes_ = 0;
  std::set<std::string> seen_;
};

ArchivePtr new_zip_reader() {
  ArchivePtr a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  return a;
}

// Extracts from an opened reader into a temp sibling of dest, then renames it into place.
Status extract_atomically(const std::function<int(struct archive*)>& open, const fs::path& dest,
                          const ExtractLimits& limits) {
  std::error_code ec;
  const fs::path target = fs::absolute(dest, ec).lexically_normal();
  if (target.filename().empty())
    return InvalidArgumentError("bad extraction target " + dest.string());
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec) || !fs::is_empty(target, ec)) {
      return AlreadyExistsError(
          "cannot extract into " + target.string() +
          ": it already exists and is not an empty folder; remove it or choose another");
    }
  }
  if (!fs::is_directory(target.parent_path(), ec)) {
    return NotFoundError("cannot extract into " + target.string() +
                         ": its parent folder does not exist");
  }
  std::string pattern =
      (target.parent_path() / ("." + target.filename().string() + ".extract-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return base::errno_status(errno, "cannot create a folder in", target.parent_path());
  const fs::path temp(pattern);
  auto cleanup = [&](Status s) {
    std::error_code rm_ec;
    fs::remove_all(temp, rm_ec);
    return s;
  };
  ArchivePtr a = new_zip_reader();
  if (open(a.get()) != ARCHIVE_OK) {
    return cleanup(InvalidArgumentError("not a readable zip archive: " + archive_error(a.get())));
  }
  Status s = Extractor(temp, limits).extract_all(a.get());
  if (!s.ok()) return cleanup(s);
  ::chmod(temp.c_str(), 0755);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return cleanup(base::errno_status(errno, "cannot move the extracted folder to", target));
  }
  return Status::OK();
}

}  // namespace

Status pack_zip(const fs::path& folder, const fs::path& zip_out, const PackOptions& options) {
  NVF_ASSIGN_OR_RETURN(auto items, plan_pack(folder, options));
  base::AtomicFileWriter writer;
  base::AtomicFileWriter::Options write_options;
  write_options.sync = options.sync;
  NVF_RETURN_IF_ERROR(writer.open(zip_out, write_options));
  WriteSink sink{[&writer](std::string_view d) { return writer.write(d); }, Status::OK()};
  NVF_RETURN_IF_ERROR(write_items(items, &sink));
  return writer.commit();
}

Result<std::string> pack_zip_to_string(const fs::path& folder, const PackOptions& options) {
  NVF_ASSIGN_OR_RETURN(auto items, plan_pack(folder, options));
  std::string out;
  WriteSink sink{[&out](std::string_view d) {
                   out.append(d);
                   return Status::OK();
                 },
                 Status::OK()};
  NVF_RETURN_IF_ERROR(write_items(items, &sink));
  return out;
}

Status unpack_zip(const fs::path& zip, const fs::path& dest, const ExtractLimits& limits) {
  std::error_code ec;
  if (!fs::is_regular_file(zip, ec))
    return NotFoundError("zip file " + zip.string() + " does not exist");
  const std::string path = zip.string();
  return extract_atomically(
      [&path](struct archive* a) { return archive_read_open_filename(a, path.c_str(), kChunk); },
      dest, limits);
}

Status unpack_zip_stream(const ZipStreamReader& read, const fs::path& dest, const ExtractLimits& limits) {
  struct Source {
    const ZipStreamReader* read;
    Status error;  // the reader's, kept to be returned as it is
  } source{&read, Status::OK()};
  auto on_read = [](struct archive* a, void* data, const void** buffer) -> la_ssize_t {
    auto* src = static_cast<Source*>(data);
    Result<std::string_view> next = (*src->read)();
    if (!next.ok()) {
      src->error = next.status();
      archive_set_error(a, EIO, "%s", src->error.message().c_str());
      return -1;
    }
    *buffer = next->data();
    return static_cast<la_ssize_t>(next->size());
  };
  Status s = extract_atomically(
      [&](struct archive* a) { return archive_read_open(a, &source, nullptr, on_read, nullptr); }, dest, limits);
  return !s.ok() && !source.error.ok() ? source.error : s;
}

Status unpack_zip_from_memory(std::string_view bytes, const fs::path& dest,
                              const ExtractLimits& limits) {
  return extract_atomically(
      [bytes](struct archive* a) {
        return archive_read_open_memory(a, bytes.data(), bytes.size());
      },
      dest, limits);
}

Result<std::vector<ZipEntryInfo>> list_zip_from_memory(std::string_view bytes) {
  ArchivePtr a = new_zip_reader();
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return InvalidArgumentError("not a readable zip archive: " + archive_error(a.get()));
  }
  std::vector<ZipEntryInfo> out;
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* name = archive_entry_pathname(e);
    out.push_back({name ? name : "", archive_entry_filetype(e) == AE_IFDIR,
                   static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)))});
    archive_read_data_skip(a.get());
  }
  if (r != ARCHIVE_EOF) return DataLossError("corrupt zip archive: " + archive_error(a.get()));
  return out;
}

}  // namespace nvf::job
