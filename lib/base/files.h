// File helpers that never lose data: a join that cannot leave its root, atomic writes (temp file
// in the same directory + fsync + rename), whole-file reads with errors that name the file.
// Stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::base {

namespace fs = std::filesystem;

/// Joins `relative` under `root`, refusing absolute paths, `..` components that climb above
/// `root`, and (when `follow_links`) existing symlinks that resolve outside `root`.
/// Errors: INVALID_ARGUMENT naming the offending path.
Result<fs::path> safe_join(const fs::path& root, std::string_view relative, bool follow_links = true);

/// True when `path` (lexically normalized) lies inside `root` (or equals it).
bool is_within(const fs::path& root, const fs::path& path);

/// Reads a whole file. Errors: NOT_FOUND, PERMISSION_DENIED, DATA_LOSS (read failure).
Result<std::string> read_file(const fs::path& path);

/// Writes `data` to `path` atomically: readers see the old content or the new, never a part.
/// `mode` applies to the new file (e.g. 0600 for keys).
Status atomic_write(const fs::path& path, std::string_view data, unsigned mode = 0644);

/// Streams a file into place atomically: write() pieces, then commit(). A writer destroyed before
/// commit() removes its temporary file and leaves the target untouched. Single-threaded use.
///
/// With `keep_previous` (files rewritten whole again and again, like a model saved every round),
/// the temporary file is `.<name>.prev` beside the target, written over in place, and commit()
/// swaps it with the target atomically (renameat2 RENAME_EXCHANGE): the previous version stays
/// behind under the scratch name, so the next write lands in file pages the kernel already holds
/// instead of fresh ones (a fresh page cache page costs as much as any first touch of memory).
/// The scratch costs the file's size on disk; remove_previous() deletes it. Only one writer per
/// target at a time. Filesystems without RENAME_EXCHANGE get a plain rename.
///
/// With `direct` (large files written once and not read back soon, like a model checkpoint), the
/// bytes bypass the page cache (O_DIRECT): they go through an aligned staging buffer of
/// kDirectStageBytes to the disk, pwrite() patches of bytes already on disk read and rewrite their
/// block, and commit() pads the last block and truncates the file to its length. A fresh page cache
/// page costs as much as any first touch of memory, so a file of a GiB written this way takes a
/// fraction of the time (decision 024). Filesystems that refuse O_DIRECT get buffered writes.
/// Both together write over the scratch's blocks in place: no block is allocated, and the swap
/// frees none (replacing a file of a GiB frees its blocks inside rename(), 0.4 s here: decision 028).
class AtomicFileWriter {
 public:
  struct Options {
    unsigned mode = 0644;
    bool keep_previous = false;
    bool direct = false;
    /// commit() syncs the file to disk before the rename (off for a temporary file deleted soon
    /// after, such as a zip made only to be sent: the sync is a disk write nobody needs; and for
    /// a checkpoint rewritten every round, whose last version sync_to_disk() flushes at the end).
    bool sync = true;
  };
  static constexpr size_t kDirectAlign = 4096;
  static constexpr size_t kDirectStageBytes = size_t{16} << 20;

  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;

  Status open(const fs::path& target, unsigned mode = 0644, bool keep_previous = false);
  Status open(const fs::path& target, const Options& options);
  Status write(std::string_view data);
  Status write(const void* data, size_t size);
  /// Writes at an absolute offset of the temporary file (to patch headers after streaming).
  /// Errors: INVALID_ARGUMENT past bytes_written() in direct mode.
  Status pwrite(const void* data, size_t size, uint64_t offset);
  uint64_t bytes_written() const { return written_; }
  /// True while writes bypass the page cache (direct asked for and the filesystem allows it).
  bool direct() const { return direct_; }
  Status commit();
  void abandon();

 private:
  struct FreeStage {
    void operator()(std::byte* p) const;
  };
  Status write_all_at(const void* data, size_t size, uint64_t offset);
  Status flush_stage(bool pad);
  Status patch_block(uint64_t block, size_t at, const void* data, size_t size);

  int fd_ = -1;
  fs::path target_;
  fs::path temp_;
  uint64_t written_ = 0;
  bool keep_previous_ = false;
  bool sync_ = true;
  // Direct mode: bytes [flushed_, written_) wait in stage_; flushed_ is a multiple of kDirectAlign.
  bool direct_ = false;
  std::unique_ptr<std::byte, FreeStage> stage_;
  uint64_t flushed_ = 0;
};

/// The scratch file AtomicFileWriter keeps beside `target` with keep_previous.
fs::path previous_version_path(const fs::path& target);
/// Deletes that scratch file, if any (at the end of a run).
void remove_previous(const fs::path& target);

/// Flushes a file or directory written earlier (without AtomicFileWriter's sync) to the disk:
/// fsync of its descriptor. Errors: the errno, naming the path.
Status sync_to_disk(const fs::path& path);

/// A description of an errno for messages: "No such file or directory".
std::string errno_text(int err);

/// Maps an errno from an operation on `path` to a Status naming the path.
Status errno_status(int err, std::string_view what, const fs::path& path);

/// Copies the tree `from` into `to` (created; existing files are replaced). Errors name the paths.
Status copy_tree(const fs::path& from, const fs::path& to);

/// Where temporary folders go: $TMPDIR when it names an existing absolute directory of at most
/// kMaxTempRootLength bytes (so the Unix sockets made inside still fit the 108 bytes of a socket
/// path), else /tmp. Batch systems such as Slurm set a per-job TMPDIR and clean it up.
inline constexpr size_t kMaxTempRootLength = 48;
fs::path temp_root();

/// A fresh private (0700) directory under temp_root(), named `<prefix>-XXXXXX` (short: Unix
/// socket paths have 108 bytes). Errors: INTERNAL with the reason.
Result<fs::path> make_temp_dir(std::string_view prefix);
/// As make_temp_dir, in `parent` (which must exist): for a folder built beside its destination and
/// renamed into place. Errors: INTERNAL with the reason.
Result<fs::path> make_temp_dir_in(const fs::path& parent, std::string_view prefix);

/// As make_temp_dir, for a folder that lives as long as this process (its sockets, scratch): it
/// holds a `.owner` file naming this process (pid and start time), so that a later
/// remove_stale_temp_dirs() can tell it from the folder of a live process once this one died
/// without cleaning up (SIGKILL).
Result<fs::path> make_owned_temp_dir(std::string_view prefix);

/// Removes the folders under temp_root() that make_owned_temp_dir() made for processes that are
/// gone (no process with that pid, or one started at another time), owned by this user and named
/// `<prefix>-*`. Returns the folders removed. Daemons call it when they start.
std::vector<fs::path> remove_stale_temp_dirs(std::string_view prefix = "nvflare");

/// Removes a directory tree when it goes out of scope (errors ignored). Movable, not copyable.
class ScopedRemove {
 public:
  ScopedRemove() = default;
  explicit ScopedRemove(fs::path path) : path_(std::move(path)) {}
  ScopedRemove(ScopedRemove&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ScopedRemove& operator=(ScopedRemove&& o) noexcept;
  ScopedRemove(const ScopedRemove&) = delete;
  ScopedRemove& operator=(const ScopedRemove&) = delete;
  ~ScopedRemove();
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// Creates `dir` and parents; errors name the directory.
Status make_dirs(const fs::path& dir, unsigned mode = 0755);

/// Expands a leading "~" with $HOME.
fs::path expand_user(const fs::path& p);

}  // namespace nvf::base
