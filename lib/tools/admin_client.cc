#include "tools/admin_client.h"

#include <stdlib.h>

#include <thread>

#include "base/files.h"
#include "base/strings.h"
#include "cellnet/socket_driver.h"
#include "job/archive.h"
#include "runtime/deploy_protocol.h"
#include "runtime/job_transfer.h"
#include "runtime/registration.h"
#include "security/job_signature.h"

namespace nvf::tools {
namespace fs = std::filesystem;
namespace deploy = runtime::deploy;

namespace {

Result<config::Value> parse_reply(const std::string& text) {
  try {
    return config::Value::parse(text);
  } catch (const std::exception& e) {
    return InternalError(std::string("the server's reply is not JSON: ") + e.what());
  }
}

config::Value simple(const std::string& status, const std::string& type, const std::string& text) {
  return config::Value{{"status", status}, {"data", config::Value::array({{{"type", type}, {"data", text}}})}};
}

// Whether `folder` holds a symbolic link anywhere (an unreadable folder counts: the copy reports it).
bool has_symlinks(const fs::path& folder) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_symlink(ec)) return true;
  }
  return static_cast<bool>(ec);
}

}  // namespace

Result<std::unique_ptr<AdminClient>> AdminClient::connect(const runtime::AdminKit& kit,
                                                          const runtime::DriverFactory& external_driver,
                                                          std::chrono::milliseconds timeout) {
  std::unique_ptr<AdminClient> c(new AdminClient());
  c->kit_ = kit;
  c->timeout_ = timeout;
  c->drivers_ = std::make_unique<cellnet::DriverRegistry>();
  cellnet::DriverOptions dopt;
  dopt.tls = runtime::tls_config(kit, true);
  c->drivers_->add(external_driver(dopt));
  cellnet::CellOptions co;
  co.fqcn = "admin_" + base::random_hex(6);
  co.drivers = c->drivers_.get();
  co.connect_timeout = timeout;
  c->cell_ = std::make_unique<cellnet::Cell>(co);
  NVF_RETURN_IF_ERROR(c->cell_->start());
  const std::string url = runtime::server_url(kit, kit.server);
  {
    // One direct connection first: a refused port or a failed TLS handshake is reported at once
    // and precisely (the cell would only keep retrying in the background).
    struct NullHandler : cellnet::ConnectionHandler {
      void on_connected(const std::shared_ptr<cellnet::Connection>&) override {}
      void on_frame(const std::shared_ptr<cellnet::Connection>&, cellnet::Frame) override {}
      void on_closed(const std::shared_ptr<cellnet::Connection>&, const Status&) override {}
    } handler;
    auto probe = external_driver(dopt);
    auto conn = probe->connect(url, &handler, timeout);
    if (conn.ok()) (*conn)->close(Status::OK());
    probe->stop();
    if (!conn.ok()) {
      return Status(conn.status().code(), conn.status().message() + " (admin kit " + kit.root.string() +
                                              "; is the server running, and is the kit from its project?)");
    }
  }
  NVF_RETURN_IF_ERROR(c->cell_->connect(url));
  if (!c->cell_->wait_for_peer("server", timeout).ok()) {
    return UnavailableError("cannot reach the server at " + url + " within " + std::to_string(timeout.count() / 1000) +
                            " s: is it running, and is this kit (" + kit.root.string() + ") from its project?");
  }
  NVF_ASSIGN_OR_RETURN(auto creds, runtime::register_with_server(*c->cell_, kit, "admin", timeout));
  c->cell_->set_auth_headers(runtime::auth_headers(creds));
  c->ssid_ = creds.ssid;
  return c;
}

std::string AdminClient::server_address() const { return kit_.server.host + ":" + std::to_string(kit_.server.port); }

void AdminClient::logout() {
  if (logged_out_) return;
  logged_out_ = true;
  cell_->request("server", std::string(deploy::kChannelAdmin), std::string(deploy::kTopicCommand),
                 cellnet::Message::of(config::Value{{"command", "_logout"}}.dump()),
                 std::min(timeout_, std::chrono::milliseconds(3000)))
      .status()
      .ignore();
}

AdminClient::~AdminClient() {
  if (downloads_) downloads_->stop();
  if (cell_) cell_->stop();
  if (drivers_) drivers_->stop_all();
}

Result<config::Value> AdminClient::command(const std::string& line) {
  NVF_ASSIGN_OR_RETURN(cellnet::Message r,
                       cell_->request("server", std::string(deploy::kChannelAdmin), std::string(deploy::kTopicCommand),
                                      cellnet::Message::of(config::Value{{"command", line}}.dump()), timeout_));
  return parse_reply(r.payload.to_string());
}

Result<config::Value> AdminClient::submit_job(const fs::path& job_folder) {
  std::error_code ec;
  fs::path folder = job_folder;
  if (folder.is_relative() && !fs::exists(folder, ec)) folder = kit_.upload_dir / folder;  // FLARE's upload dir
  if (!fs::is_directory(folder, ec)) return NotFoundError("job folder " + job_folder.string() + " does not exist");
  folder = fs::canonical(folder, ec);
  const std::string name = folder.filename().string();
  NVF_ASSIGN_OR_RETURN(fs::path tmp, base::make_temp_dir("nvflare-submit"));
  base::ScopedRemove cleanup(tmp);
  NVF_ASSIGN_OR_RETURN(std::string key, runtime::read_text(kit_.key));
  NVF_ASSIGN_OR_RETURN(std::string cert, runtime::read_text(kit_.cert));
  // The zip is written to disk and offered for download: the server pulls it in bounded ranges,
  // so neither side holds the job in memory. The signature files go into the zip from memory
  // beside the folder's own files: the job is read twice (signed, packed) and written once. A
  // folder with symbolic links is copied first: the copy holds the files they point to.
  const fs::path zip = tmp / "job.zip";
  job::PackOptions pack{name, {}};
  pack.sync = false;  // deleted once the server has it
  fs::path source = folder;
  if (has_symlinks(folder)) {
    source = tmp / name;
    fs::copy(folder, source, fs::copy_options::recursive, ec);
    if (ec) return base::errno_status(ec.value(), "cannot copy the job folder", folder);
  }
  NVF_ASSIGN_OR_RETURN(pack.files_in_memory, security::job_signature_files(source, key, cert));
  NVF_RETURN_IF_ERROR(job::pack_zip(source, zip, pack));
  if (!downloads_) {
    auto service = std::make_unique<cellnet::DownloadService>(*cell_);
    NVF_RETURN_IF_ERROR(service->start());
    downloads_ = std::move(service);
  }
  const auto wait = std::max(timeout_, std::chrono::milliseconds(60000));
  NVF_ASSIGN_OR_RETURN(runtime::JobZipOffer offer, runtime::offer_job_zip(*downloads_, zip, 1, wait));
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobFolderName, name);
  m.headers.set(deploy::kHdrJobZip, offer.header);
  auto r = cell_->request("server", std::string(deploy::kChannelAdmin), std::string(deploy::kTopicSubmitJob),
                          std::move(m), wait);
  downloads_->delete_transaction(offer.tx_id).ignore();
  if (!r.ok()) return r.status();
  return parse_reply(r->payload.to_string());
}

namespace {

// `dest/id`, or `dest/id__N` when that exists (FLARE's rule).
fs::path unique_target(const fs::path& dest, const std::string& id) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  fs::path target = dest / id;
  for (int i = 1; fs::exists(target, ec); ++i) target = dest / (id + "__" + std::to_string(i));
  return target;
}

// Moves a finished download into place (copies across file systems).
Status place(const fs::path& from, const fs::path& target) {
  std::error_code ec;
  fs::rename(from, target, ec);
  if (!ec) return Status::OK();
  ec.clear();
  fs::copy(from, target, fs::copy_options::recursive, ec);
  if (ec) return base::errno_status(ec.value(), "cannot write the download to", target);
  return Status::OK();
}

}  // namespace

Result<config::Value> AdminClient::fetch(const std::string& id, bool components, const fs::path& zip) {
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobId, id);
  if (components) m.headers.set(deploy::kHdrComponents, "true");
  NVF_ASSIGN_OR_RETURN(cellnet::Message r,
                       cell_->request("server", std::string(deploy::kChannelAdmin),
                                      std::string(deploy::kTopicDownloadJob), std::move(m),
                                      std::max(timeout_, std::chrono::milliseconds(300000))));
  NVF_ASSIGN_OR_RETURN(config::Value reply, parse_reply(r.headers.get_or("reply", "{}")));
  if (reply.value("status", "") != "ok") return reply;
  // The zip is offered for download (pulled to disk in ranges) or, from an older server, sent.
  NVF_RETURN_IF_ERROR(runtime::receive_job_zip(*cell_, r, "server", zip, runtime::kMaxJobZipBytes)
                          .with_context("downloading job " + id));
  return reply;
}

Result<config::Value> AdminClient::download(const std::string& id, const fs::path& dest, bool components) {
  NVF_ASSIGN_OR_RETURN(fs::path tmp, base::make_temp_dir("nvflare-download"));
  base::ScopedRemove cleanup(tmp);
  NVF_ASSIGN_OR_RETURN(config::Value reply, fetch(id, components, tmp / "download.zip"));
  if (reply.value("status", "") != "ok") return reply;
  const fs::path target = unique_target(dest, id);
  NVF_RETURN_IF_ERROR(job::unpack_zip(tmp / "download.zip", tmp / "x"));
  const fs::path content = tmp / "x" / id;
  if (components) {
    NVF_RETURN_IF_ERROR(place(content, target));
  } else {
    // The server sends meta.json, job.zip and workspace.zip; the user gets them unpacked.
    std::error_code ec;
    const fs::path staged = tmp / "out";
    fs::create_directories(staged, ec);
    fs::copy_file(content / "meta.json", staged / "meta.json", ec);
    NVF_RETURN_IF_ERROR(job::unpack_zip(content / "job.zip", staged / "job"));
    if (fs::exists(content / "workspace.zip", ec)) {
      NVF_RETURN_IF_ERROR(job::unpack_zip(content / "workspace.zip", staged / "ws"));
      fs::rename(staged / "ws" / "workspace", staged / "workspace", ec);
      fs::remove_all(staged / "ws", ec);
    }
    NVF_RETURN_IF_ERROR(place(staged, target));
  }
  return simple("ok", "string", "content downloaded to " + target.string());
}

Result<config::Value> AdminClient::download_job(const std::string& id, const fs::path& dest) {
  return download(id, dest, false);
}

Result<config::Value> AdminClient::download_job_components(const std::string& id, const fs::path& dest) {
  return download(id, dest, true);
}

Result<std::string> AdminClient::wait_for_job(const std::string& id, std::chrono::milliseconds timeout,
                                              const std::function<void(const std::string&)>& progress) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  for (;;) {
    NVF_ASSIGN_OR_RETURN(config::Value r, command("get_job_meta " + id));
    if (r.value("status", "") != "ok") {
      std::string msg = "job " + id + " not found";
      if (r.contains("data") && !r["data"].empty()) msg = r["data"][0].value("data", msg);
      return NotFoundError(msg);
    }
    const config::Value& meta = r["data"][0]["data"];
    std::string status = meta.value("status", "");
    if (status != last) {
      last = status;
      if (progress) progress(status);
    }
    if (status.rfind("FINISHED", 0) == 0) return status;
    if (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("job " + id + " is still " + status + " after " +
                                   std::to_string(timeout.count() / 1000) + " s");
    }
    // The server has no job-status push yet; the console polls as FLARE's monitor_job does.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Result<config::Value> run_admin_command(AdminClient& client, const std::string& line) {
  NVF_ASSIGN_OR_RETURN(auto argv, base::shell_split(line));
  if (argv.empty()) return simple("syntax_error", "error", "empty command");
  const std::string& cmd = argv[0];
  if (cmd == "submit_job") {
    if (argv.size() != 2) return simple("syntax_error", "error", "Usage: submit_job job_folder");
    return client.submit_job(argv[1]);
  }
  if (cmd == "download_job") {
    if (argv.size() < 2 || argv.size() > 3) return simple("syntax_error", "error", "Usage: download_job job_id [destination]");
    return client.download_job(argv[1], argv.size() == 3 ? fs::path(argv[2]) : client.kit().download_dir);
  }
  if (cmd == "download_job_components") {
    if (argv.size() != 2) return simple("syntax_error", "error", "Usage: download_job_components job_id");
    return client.download_job_components(argv[1], client.kit().download_dir);
  }
  if (cmd == "monitor_job") {
    if (argv.size() < 2 || argv.size() > 3) return simple("syntax_error", "error", "Usage: monitor_job job_id [timeout]");
    long secs = 0;
    if (argv.size() == 3) {
      auto t = base::parse_int(argv[2], 0, 10LL * 365 * 24 * 3600);
      if (!t) return simple("syntax_error", "error", "monitor_job: the timeout must be a number of seconds (0 to wait for good)");
      secs = static_cast<long>(*t);
    }
    auto status = client.wait_for_job(argv[1], std::chrono::seconds(secs), nullptr);
    if (!status.ok()) {
      return simple(status.status().code() == StatusCode::kNotFound ? "invalid_job_id" : "error", "error",
                    status.status().message());
    }
    return simple("ok", "string", "Job " + argv[1] + " finished: " + *status);
  }
  return client.command(line);
}

}  // namespace nvf::tools
