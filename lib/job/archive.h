// Job archives: packing a job folder into a ZIP (file and explicit directory entries named
// "<job>/...", as FLARE's submit does) and extracting a ZIP safely (no absolute paths, no "..",
// no links or special files, no duplicates, bounded entry count and sizes, counted on the bytes
// actually inflated). Extraction is all-or-nothing: it fills a temporary sibling of the target and
// renames it into place, so the target either appears complete or is left as it was.
// libarchive stays inside archive.cc. Stateless functions; safe from any thread.
//
// Symlinks when packing: a link whose target lies inside the folder and is a regular file is
// stored as a regular entry holding the target's bytes (a zip for the server carries no links);
// a link to a directory, a dangling link and a link leaving the folder are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::job {

namespace fs = std::filesystem;

struct ExtractLimits {
  uint64_t max_entry_bytes = uint64_t{2} << 30;  ///< per entry, inflated (2 GiB)
  uint64_t max_total_bytes = uint64_t{8} << 30;  ///< all entries, inflated (8 GiB)
  uint64_t max_entries = 100000;
};

struct PackOptions {
  /// The first component of every entry name; empty means the folder's basename. `job submit`
  /// packs the folder under the job's own name.
  std::string root_name;
  /// Files taken from memory instead of the folder, by path relative to it ("x.json",
  /// "app/.sig"): one of that name in the folder is replaced, else the entry is added in its
  /// sorted place. Each one's directory must be in the folder. `job submit` adds its signature
  /// files this way, so the job folder is neither copied nor written.
  std::map<std::string, std::string> files_in_memory;
  /// pack_zip syncs the zip to disk before it appears under its name; off for a zip that only
  /// travels or is synced by whoever keeps it (the submitter's upload; the run folder's zip, which
  /// the job store syncs as it takes it), where this sync would be a disk write for nothing.
  bool sync = true;
};

struct ZipEntryInfo {
  std::string name;  ///< as stored ("job/app/config/" for a directory)
  bool is_dir = false;
  uint64_t size = 0;  ///< declared size
};

/// Packs `folder` into `zip_out` (written atomically: a temp file in the same directory, then
/// rename). Entries are sorted by name bytes within each directory, directories before their
/// contents. Errors: NOT_FOUND (folder missing), INVALID_ARGUMENT (a link leaving the folder, a
/// link to a directory, a FIFO/socket/device inside it), INTERNAL / DATA_LOSS for I/O failures.
Status pack_zip(const fs::path& folder, const fs::path& zip_out, const PackOptions& options = {});

/// As pack_zip, into memory.
Result<std::string> pack_zip_to_string(const fs::path& folder, const PackOptions& options = {});

/// Extracts `zip` into `dest`, which must not exist or be an empty directory (its parent must
/// exist). On any error `dest` is left as it was and no temporary directory remains.
/// Errors: INVALID_ARGUMENT (a hostile or malformed entry; the message names the entry and the
/// rule), RESOURCE_EXHAUSTED (a size or count limit), ALREADY_EXISTS (dest is not empty),
/// NOT_FOUND (zip missing), DATA_LOSS (corrupt data), INTERNAL (filesystem failure).
Status unpack_zip(const fs::path& zip, const fs::path& dest, const ExtractLimits& limits = {});

/// The next bytes of a zip that arrives front to back: a view valid until the next call, an empty
/// view at the end, or an error (which ends the extraction with it).
using ZipStreamReader = std::function<Result<std::string_view>()>;

/// As unpack_zip, from a zip read once, front to back, as it arrives (a download): the zip itself
/// is never written. libarchive's streaming reader takes each entry from its local header and
/// checks its CRC-32; the central directory at the end is not read (read() may be left before its
/// end). Errors: as unpack_zip; the reader's own error, when it ends the extraction, unchanged.
Status unpack_zip_stream(const ZipStreamReader& read, const fs::path& dest, const ExtractLimits& limits = {});

/// As unpack_zip, from bytes in memory.
Status unpack_zip_from_memory(std::string_view bytes, const fs::path& dest,
                              const ExtractLimits& limits = {});

/// Lists the entries of a zip in stored order (no extraction). Errors: INVALID_ARGUMENT /
/// DATA_LOSS for a malformed archive.
Result<std::vector<ZipEntryInfo>> list_zip_from_memory(std::string_view bytes);

}  // namespace nvf::job
