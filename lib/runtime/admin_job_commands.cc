// The admin commands about jobs (list, meta, abort, delete, clone, components, stats and errors,
// job log levels, app commands) and the job upload and download topics.
#include "runtime/admin_service_internal.h"

#include <limits>

#include "base/strings.h"
#include "runtime/job_transfer.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using namespace admin_detail;

// show_stats / show_errors / reset_errors <job_id> server|client [clients]|all: the job must be
// running; its job processes answer (job_query).
config::Value ServerParent::cmd_job_info(const AdminCall& call) {
  const std::vector<std::string>& argv = call.argv;
  const std::string& cmd = argv[0];
  const std::string& id = argv[1];
  if (!runner_->is_running(id)) return error_reply("job_not_running", "Job_id: " + id + " is not running.");
  return job_query(cmd, id, argv[2], {argv.begin() + 3, argv.end()});
}

// show_stats / show_errors / reset_errors of a running job: the server job's answer (target server
// or all), then every client job's by client (client or all; the job's clients unless named).
// show_stats shows FLARE's stats dicts; show_errors the last lines of each job process's
// log_error.txt since its last reset_errors.
config::Value ServerParent::job_query(const std::string& cmd, const std::string& id, const std::string& target,
                                      const std::vector<std::string>& names) {
  const std::string_view topic = cmd == "show_stats"    ? deploy::kTopicShowStats
                                 : cmd == "show_errors" ? deploy::kTopicShowErrors
                                                        : deploy::kTopicResetErrors;
  // One job process's answer as the console shows it.
  auto shown = [&](const config::Value& answer) -> config::Value {
    if (cmd == "reset_errors") return "errors reset";
    if (cmd == "show_errors" && answer.is_array() && answer.empty()) return "no errors";
    return answer;
  };
  config::Value items = config::Value::array();
  if (target != "client") {
    auto r = cell_->request("server." + id, std::string(deploy::kChannelJobCommand), std::string(topic),
                            cellnet::Message{}, opt_.admin_timeout);
    if (!r.ok()) return error_reply("error", "no answer from the server job of " + id + ": " + r.status().message());
    config::Value answer;
    try {
      answer = config::Value::parse(r->payload.to_string());
    } catch (const std::exception& e) {
      return error_reply("error", std::string("bad answer from the server job of ") + id + ": " + e.what());
    }
    if (cmd == "show_stats") {
      items.push_back({{"type", "dict"}, {"data", answer}});
    } else {
      items.push_back({{"type", "dict"}, {"data", {{"server", shown(answer)}}}});
    }
  }
  if (target != "server") {
    std::vector<std::string> targets = names;
    if (targets.empty()) targets = runner_->clients_of(id);
    cellnet::Message order;
    order.headers.set(deploy::kHdrJobId, id);
    std::string bad;
    auto replies = ask_clients(targets, topic, order, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (replies.empty()) return error_reply("no_clients", "no responses from clients");
    config::Value by_client = config::Value::object();
    for (const auto& [c, r] : replies) {
      if (!r.ok()) {
        by_client[c] = "failed: " + r.status().message();
        continue;
      }
      try {
        by_client[c] = shown(config::Value::parse(r->payload.to_string()));
      } catch (const std::exception& e) {
        by_client[c] = std::string("failed: bad answer: ") + e.what();
      }
    }
    items.push_back({{"type", "dict"}, {"data", by_client}});
  }
  return reply("ok", items);
}

config::Value ServerParent::cmd_list_jobs(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  bool detailed = false, reverse = false, mine = false;
  std::string name_prefix, id_prefix;
  long max = -1;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-d") {
      detailed = true;
    } else if (a == "-r") {
      reverse = true;
    } else if (a == "-u") {
      mine = true;
    } else if ((a == "-n" || a == "-m") && i + 1 < argv.size()) {
      if (a == "-n") {
        name_prefix = argv[++i];
      } else {
        auto m = base::parse_int(argv[++i], std::numeric_limits<long>::min(), std::numeric_limits<long>::max());
        if (!m) return error_reply("syntax_error", "list_jobs: -m needs a number");
        max = static_cast<long>(*m);
      }
    } else if (!a.empty() && a[0] == '-') {
      return error_reply("syntax_error",
                         "Usage: list_jobs [-n name_prefix] [-d] [-u] [-r] [-m num_of_jobs] [job_id_prefix]");
    } else {
      id_prefix = a;
    }
  }
  std::vector<config::Value> jobs;
  for (auto& meta : store_->list()) {
    if (!name_prefix.empty() && str_of(meta, "name").rfind(name_prefix, 0) != 0) continue;
    if (!id_prefix.empty() && str_of(meta, "job_id").rfind(id_prefix, 0) != 0) continue;
    if (mine && str_of(meta, "submitter_name") != who.name) continue;
    jobs.push_back(std::move(meta));
  }
  if (max >= 0 && static_cast<long>(jobs.size()) > max) jobs.erase(jobs.begin(), jobs.end() - max);
  if (reverse) std::reverse(jobs.begin(), jobs.end());
  if (jobs.empty()) {
    bool filtered = !name_prefix.empty() || !id_prefix.empty() || mine;
    return ok_string(filtered ? "No jobs matching the specified criteria." : "No jobs found.");
  }
  config::Value items = config::Value::array();
  if (detailed) {
    for (const auto& j : jobs) items.push_back({{"type", "dict"}, {"data", j}});
    return reply("ok", items);
  }
  std::vector<std::vector<std::string>> rows{{"Job ID", "Name", "Status", "Submit Time", "Run Duration"}};
  for (const auto& j : jobs) {
    rows.push_back({str_of(j, "job_id"), str_of(j, "name"), str_of(j, "status"),
                    str_of(j, "submit_time_iso").empty() ? fmt_time(j.value("submit_time", 0.0))
                                                         : str_of(j, "submit_time_iso"),
                    duration_of(j)});
  }
  items.push_back(table(rows));
  add_unsaved_warnings(items, *store_);
  return reply("ok", items);
}

config::Value ServerParent::cmd_get_job_meta(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  (void)argv;
  return reply("ok", config::Value::array({config::Value{{"type", "dict"}, {"data", *call.job_meta}}}));
}

config::Value ServerParent::cmd_abort_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  std::string message;
  if (Status s = runner_->abort(argv[1], "aborted by " + who.name, &message); !s.ok()) {
    return error_reply("error", s.message());
  }
  return ok_success(message);
}

config::Value ServerParent::cmd_delete_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  if (runner_->is_running(argv[1])) {
    return error_reply("job_running", "job " + argv[1] + " is running: abort it before deleting it");
  }
  if (Status s = store_->remove(argv[1]); !s.ok()) return error_reply("error", s.message());
  return ok_success("Job " + argv[1] + " deleted.");
}

config::Value ServerParent::cmd_clone_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const config::Value* meta = call.job_meta;
  config::Value m = config::Value::object();
  for (const char* k : {"name", "job_folder_name", "deploy_map", "resource_spec", "min_clients", "mandatory_clients",
                        "data_storage_format"}) {
    if (meta->contains(k)) m[k] = (*meta)[k];
  }
  m["submitter_name"] = who.person.name;
  m["submitter_org"] = who.person.org;
  m["submitter_role"] = who.person.role;
  m["cloned_from"] = argv[1];
  auto id = store_->create(m, store_->data_path(argv[1]));
  if (!id.ok()) return error_reply("error", id.status().message());
  cv_.notify_all();
  return ok_success("Cloned job " + argv[1] + " as: " + *id);
}

// list_job job_id (list_job_components is accepted too): the job's stored components other than
// FLARE's data, meta, workspace and scheduled, e.g. ERRORLOG_site-1.
config::Value ServerParent::cmd_list_job_components(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  auto stored = store_->components(id);
  if (!stored.ok()) return error_reply("invalid_job_id", "job " + id + " does not exist");
  auto extra = extra_job_components(*stored);
  if (extra.empty()) return error_reply("no_job_compoents", "No additional job components found.");
  return ok_string(joined(extra, ", "));
}

// configure_job_log job_id server|client <client-name>...|all config: the job must be RUNNING.
config::Value ServerParent::cmd_configure_job_log(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  const std::string& target = argv[2];
  const std::string& config = argv.back();
  const config::Value* meta = call.job_meta;
  const std::string status = str_of(*meta, "status");
  if (status != job::run_status::kRunning) {
    return error_reply("job_not_running", "Job " + id + " must be running but is " + status);
  }
  auto level = parse_log_config(config);
  if (!level.ok()) return error_reply("syntax_error", level.status().message());
  config::Value items = config::Value::array();
  if (target != "client") {
    auto r = cell_->request("server." + id, std::string(deploy::kChannelJobCommand),
                            std::string(deploy::kTopicConfigureLog), cellnet::Message::of(config),
                            std::chrono::milliseconds(5000));
    if (!r.ok()) return error_reply("error", "cannot configure the log of server job " + id + ": " + r.status().message());
    items.push_back({{"type", "string"}, {"data", "successfully configured server job " + id + " log"}});
  }
  if (target != "server") {
    std::vector<std::string> names(argv.begin() + 3, argv.end() - 1);
    if (names.empty()) names = runner_->clients_of(id);
    cellnet::Message order = cellnet::Message::of(config);
    order.headers.set(deploy::kHdrJobId, id);
    std::string bad;
    auto replies = ask_clients(names, deploy::kTopicConfigureJobLog, order, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (!replies.empty()) items.push_back(replies_table(replies));
  }
  return reply("ok", items);
}

// app_command job_id topic # cmd_data: the job must be running; no app of this build registers
// app command handlers, and the answer says so.
config::Value ServerParent::cmd_app_command(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  if (!runner_->is_running(id)) return error_reply("job_not_running", "Job_id: " + id + " is not running.");
  return error_reply("error", "command execution error: no app command handler for topic '" + argv[2] +
                                  "': no app command handlers exist in this build");
}

void ServerParent::handle_submit(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  if (!who.ok() || who->kind != "admin") {
    return respond(cellnet::Message::of(error_reply("not_authenticated", "not logged in").dump()));
  }
  auto answer = [&](const config::Value& r) {
    log_->info("admin {}: submit_job -> {}", who->name, r.value("status", "?"));
    respond(cellnet::Message::of(r.dump()));
  };
  if (Status s = authorize(*who, "submit_job", nullptr); !s.ok()) return answer(error_reply("not_authorized", s.message()));
  const std::string folder = request.headers.get_or(deploy::kHdrJobFolderName, "");
  if (folder.empty() || folder.find('/') != std::string::npos || folder == "." || folder == "..") {
    return answer(error_reply("invalid_job_def", "submit_job: missing or bad job folder name"));
  }
  // The upload is extracted into a scratch folder with the safe extractor and checked before it
  // is stored; nothing is kept when any check fails. With the store and the run folders on one
  // file system the scratch folder is in the store: the zip and the checked extraction then move
  // into it, and the job's deploy starts from that extraction.
  auto scratch_dir = keep_upload_extraction_ ? store_->make_upload_dir() : base::make_owned_temp_dir("nvflare-upload");
  if (!scratch_dir.ok()) return answer(error_reply("internal_error", scratch_dir.status().message()));
  const fs::path scratch = *scratch_dir;
  base::ScopedRemove cleanup(scratch);
  // The zip goes from the submitter's disk to ours in bounded ranges (or comes as the payload),
  // extracted as it arrives, in the same pass.
  const fs::path zip = scratch / "job.zip";
  if (Status s = receive_and_unpack_job_zip(*cell_, request, who->fqcn, scratch / "x", kMaxJobZipBytes, zip);
      !s.ok()) {
    return answer(error_reply("invalid_job_def", "the uploaded job zip was refused: " + s.message()));
  }
  const fs::path job_dir = scratch / "x" / folder;
  std::error_code ec;
  if (!fs::is_directory(job_dir, ec)) {
    return answer(error_reply("invalid_job_def", "the uploaded zip has no folder '" + folder + "'"));
  }
  if (opt_.secure) {
    auto signer = security::verify_job_folder(job_dir, root_ca_pem_);
    if (!signer.ok()) return answer(error_reply("invalid_job_def", signer.status().message()));
    if (*signer != who->name) {
      return answer(error_reply("invalid_job_def", "the job is signed by '" + *signer + "', not by " + who->name));
    }
  }
  // meta.json, or FLARE's meta.conf (HOCON) / meta.yml.
  auto meta_file = config::find_config(job_dir, "meta");
  auto meta = meta_file.ok() ? config::load_file(*meta_file) : Result<config::Value>(meta_file.status());
  if (!meta.ok() || !meta->is_object()) {
    return answer(error_reply("invalid_job_def", "the job has no valid meta.json: " +
                                                     (meta.ok() ? std::string("not an object") : meta.status().message())));
  }
  if (fs::exists(job_dir, ec)) {
    for (auto it = fs::recursive_directory_iterator(job_dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == "custom" && !fs::is_empty(it->path(), ec)) {
        if (Status s = authorize(*who, "byoc", nullptr); !s.ok()) {
          return answer(error_reply("not_authorized", "the job has custom code: " + s.message()));
        }
        break;
      }
    }
  }
  config::Value m = *meta;
  if (!m.contains("name")) m["name"] = folder;
  m["job_folder_name"] = folder;
  m["submitter_name"] = who->person.name;
  m["submitter_org"] = who->person.org;
  m["submitter_role"] = who->person.role;
  auto id = store_->create_by_moving(m, zip, keep_upload_extraction_ ? scratch / "x" : fs::path());
  if (!id.ok()) return answer(error_reply("internal_error", id.status().message()));
  cv_.notify_all();
  config::Value r = ok_success("Submitted job: " + *id);
  r["meta"] = {{"job_id", *id}};
  answer(r);
}

void ServerParent::handle_download(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  auto fail = [&](const std::string& status, const std::string& text) {
    cellnet::Message m = cellnet::Message::of("");
    m.headers.set("reply", error_reply(status, text).dump());
    respond(std::move(m));
  };
  if (!who.ok() || who->kind != "admin") return fail("not_authenticated", "not logged in");
  const std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  auto meta = store_->meta(id);
  if (!meta.ok()) return fail("invalid_job_id", "Job with ID " + id + " doesn't exist");
  if (Status s = authorize(*who, "download_job", &*meta); !s.ok()) return fail("not_authorized", s.message());
  if (request.headers.get_or(deploy::kHdrComponents, "") == "true") {
    // download_job_components: the job's extra components, each as a file in the zip.
    auto stored = store_->components(id);
    auto extra = stored.ok() ? extra_job_components(*stored) : std::vector<std::string>{};
    if (extra.empty()) return fail("no_job_compoents", "No additional job components found.");
    auto dir = base::make_owned_temp_dir("nvflare-download");
    if (!dir.ok()) return fail("internal_error", dir.status().message());
    base::ScopedRemove remove(*dir);
    std::error_code ec;
    fs::create_directories(*dir / id, ec);
    for (const auto& c : extra) fs::copy_file(store_->component_path(id, c), *dir / id / c, ec);
    auto bytes = job::pack_zip_to_string(*dir / id);
    if (!bytes.ok()) return fail("internal_error", bytes.status().message());
    cellnet::Message m = cellnet::Message::of(std::move(*bytes));
    m.headers.set("reply", ok_string("components of job " + id + ": " + joined(extra, ", ")).dump());
    return respond(std::move(m));
  }
  // One zip: meta.json, the job as submitted (job.zip) and, once finished, its workspace.
  auto scratch_dir = base::make_owned_temp_dir("nvflare-download");
  if (!scratch_dir.ok()) return fail("internal_error", scratch_dir.status().message());
  const fs::path scratch = *scratch_dir;
  base::ScopedRemove cleanup(scratch);
  std::error_code ec;
  fs::path content = scratch / id;
  fs::create_directories(content, ec);
  base::atomic_write(content / "meta.json", config::to_pretty_json(*meta)).ignore();
  fs::copy_file(store_->data_path(id), content / "job.zip", ec);
  if (auto ws = store_->workspace_path(id)) fs::copy_file(*ws, content / "workspace.zip", ec);
  // The zip is offered for the admin to pull from disk (its open file outlives the scratch
  // folder); a job with a large model never sits in this process's memory.
  const fs::path zip = scratch / "download.zip";
  if (Status s = job::pack_zip(content, zip); !s.ok()) return fail("internal_error", s.message());
  auto offer = offer_job_zip(*downloads_, zip, 1, std::chrono::minutes(5));
  if (!offer.ok()) return fail("internal_error", offer.status().message());
  cellnet::Message m;
  m.headers.set(deploy::kHdrJobZip, offer->header);
  m.headers.set("reply", ok_string("content of job " + id).dump());
  respond(std::move(m));
}

}  // namespace nvf::runtime
