// Job zips between processes without a copy of the job in memory (deploy_protocol.h kHdrJobZip):
// the sender offers the zip file in a download transaction and sends its manifest; the receiver
// pulls it from disk to disk in bounded ranges. A job with a large checkpoint in custom/ then
// costs each process a few ranges of memory, not the job's size.
//
// Stateless functions; any thread (the receiver's pull may run in a cell request handler).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"

namespace nvf::runtime {

/// The largest job zip a process accepts (the extractor's limit on a job's inflated size).
inline constexpr uint64_t kMaxJobZipBytes = uint64_t{8} << 30;

/// What offer_job_zip() returns: the header value to send (kHdrJobZip) and the transaction to
/// delete once every receiver answered.
struct JobZipOffer {
  std::string header;
  std::string tx_id;
};

/// Offers the file `zip` to `receivers` receivers (the transaction ends when each has pulled it,
/// after `idle_timeout` without a request, or at delete_transaction(tx_id)).
/// Errors: the file cannot be opened (naming it).
Result<JobZipOffer> offer_job_zip(cellnet::DownloadService& service, const std::filesystem::path& zip,
                                  size_t receivers, std::chrono::milliseconds idle_timeout);

/// Writes the job zip that `message` brings to `dest` (atomically): pulled from `sender` when the
/// message offers it, else the message's payload. An offer whose source is not `sender` (the cell
/// the message came from), or a zip over `max_bytes`, is refused before anything is pulled.
/// Errors: INVALID_ARGUMENT (a malformed offer, naming the header), PERMISSION_DENIED (another
/// source), RESOURCE_EXHAUSTED (too large), the download's errors, write errors naming `dest`.
Status receive_job_zip(cellnet::Cell& cell, const cellnet::Message& message, const std::string& sender,
                       const std::filesystem::path& dest, uint64_t max_bytes);

/// As receive_job_zip, but the zip is extracted into the folder `dest` (job::unpack_zip's safe
/// extraction and limits) as its ranges arrive, and written only when `zip_copy` names a file to
/// keep it in (atomically, in the same pass): a deploy writes the job's bytes once, a submit
/// (which stores the zip) twice without reading them back. At most a few ranges are held between
/// the pull and the extraction, which runs on a thread of its own. Errors: as receive_job_zip,
/// and the extraction's (job::unpack_zip_stream), the first cause first; nothing is left in
/// `dest` or `zip_copy` on any error.
Status receive_and_unpack_job_zip(cellnet::Cell& cell, const cellnet::Message& message, const std::string& sender,
                                  const std::filesystem::path& dest, uint64_t max_bytes,
                                  const std::filesystem::path& zip_copy = {});

}  // namespace nvf::runtime
