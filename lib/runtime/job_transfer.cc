#include "runtime/job_transfer.h"

#include "base/files.h"
#include "cellnet/downloader.h"
#include "cellnet/downloadable.h"
#include "runtime/deploy_protocol.h"

namespace nvf::runtime {

namespace fs = std::filesystem;

Result<JobZipOffer> offer_job_zip(cellnet::DownloadService& service, const fs::path& zip, size_t receivers,
                                  std::chrono::milliseconds idle_timeout) {
  NVF_ASSIGN_OR_RETURN(auto file, cellnet::FileDownloadable::open(zip.parent_path(), zip.filename().string()));
  cellnet::TransactionOptions tx;
  tx.num_receivers = receivers;
  tx.idle_timeout = idle_timeout;
  JobZipOffer offer;
  offer.tx_id = service.new_transaction(std::move(tx));
  auto ref = service.add(offer.tx_id, std::move(file));
  if (!ref.ok()) {
    service.delete_transaction(offer.tx_id).ignore();
    return ref.status();
  }
  NVF_ASSIGN_OR_RETURN(cellnet::Manifest manifest, service.manifest(*ref));
  offer.header = manifest.encode();
  return offer;
}

Status receive_job_zip(cellnet::Cell& cell, const cellnet::Message& message, const std::string& sender,
                       const fs::path& dest, uint64_t max_bytes) {
  auto header = message.headers.get(deploy::kHdrJobZip);
  if (!header) {
    if (message.payload.size() > max_bytes) {
      return ResourceExhaustedError("the job zip has " + std::to_string(message.payload.size()) +
                                    " bytes, more than the " + std::to_string(max_bytes) + " allowed");
    }
    base::AtomicFileWriter out;
    NVF_RETURN_IF_ERROR(out.open(dest));
    for (const cellnet::Slice& s : message.payload.slices()) NVF_RETURN_IF_ERROR(out.write(s.data, s.size));
    return out.commit();
  }
  auto manifest = cellnet::Manifest::decode(*header);
  if (!manifest.ok()) {
    return InvalidArgumentError("the job zip offer (header " + std::string(deploy::kHdrJobZip) +
                                ") is malformed: " + manifest.status().message());
  }
  if (manifest->source != sender) {
    return PermissionDeniedError("the job zip is offered from '" + manifest->source + "', not by its sender '" +
                                 sender + "'");
  }
  if (manifest->items.size() != 1 || manifest->items[0].dtype) {
    return InvalidArgumentError("the job zip offer must name exactly one file");
  }
  if (manifest->total_bytes() > max_bytes) {
    return ResourceExhaustedError("the job zip has " + std::to_string(manifest->total_bytes()) +
                                  " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  }
  cellnet::DownloadOptions options;
  options.per_request_timeout = std::chrono::seconds(60);
  options.initial_backoff = std::chrono::milliseconds(500);
  return cellnet::download_file(cell, *manifest, options, dest).with_context("pulling the job zip from " + sender);
}

}  // namespace nvf::runtime
