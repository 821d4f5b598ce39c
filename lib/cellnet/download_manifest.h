// Manifest: what a message carries instead of downloadable data — the source cell's FQCN, the ref
// id and the items (name, size, and dtype/shape for tensors) — FLARE's `{"fqcn", "ref_id"}` datum
// made self-contained. A receiver that does not need the data hands the manifest on untouched
// (PASS_THROUGH, DESIGN §4.6) and the final receiver pulls from the original source through the
// routing; nothing in between materializes the data.
//
// A value type; not synchronized. Encoded as JSON text:
//   {"version":1,"source":"server.job","ref":"R1f…","chunk_size":2097152,
//    "items":[{"name":"w","size":24,"dtype":"F32","shape":[2,3]},{"name":"data","size":10}]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cellnet/downloadable.h"

namespace nvf::cellnet {

struct Manifest {
  std::string source;       // FQCN of the cell whose DownloadService holds the ref
  std::string ref_id;       // "R…"
  uint64_t chunk_size = 0;  // the source's preferred range size; 0 = the receiver's default
  std::vector<DownloadItem> items;

  /// The manifest of `object` as served by `source` under `ref_id`.
  static Manifest of(const Downloadable& object, std::string source, std::string ref_id,
                     uint64_t chunk_size);

  uint64_t total_bytes() const;
  /// True when every item has a dtype (the ref can be received as a TensorDict).
  bool all_tensors() const;

  /// JSON text (compact).
  std::string encode() const;
  /// Parses and validates. Errors: INVALID_ARGUMENT naming the field path ("items[2].dtype") and
  /// what was wrong (not JSON, a missing or mistyped field, an unknown dtype, a size that does
  /// not match dtype × shape, a bad FQCN or ref id, duplicate item names).
  static Result<Manifest> decode(std::string_view json);
  /// The checks decode() applies. Errors: as decode().
  Status validate() const;

  bool operator==(const Manifest&) const = default;
};

/// True for ids made of [A-Za-z0-9_-], 1..128 characters (what new ref and transaction ids are).
bool is_valid_download_id(std::string_view id);

}  // namespace nvf::cellnet
