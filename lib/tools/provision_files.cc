// The contents of each startup-kit file, in FLARE 2.7.2's shapes (spec: cli-and-formats §3.2).
#include <algorithm>
#include <string>

#include "tools/provision_internal.h"

namespace nvf::tools::provision {
namespace {

using config::Value;

constexpr const char* kOverseer = "nvflare.ha.dummy_overseer_agent.DummyOverseerAgent";

// `connector` (a client connecting to the server at a host of its own) may override the host and port.
Value overseer(const Participant& server, const Participant* connector = nullptr) {
  const bool own = connector && connector->connect_to.empty();
  std::string host = own && !connector->connect_host.empty() ? connector->connect_host : server.default_host;
  int port = own && connector->connect_port ? connector->connect_port : server.fed_learn_port;
  std::string sp = host + ":" + std::to_string(port) + ":" + std::to_string(server.admin_port);
  return Value{{"path", kOverseer}, {"args", Value{{"sp_end_point", sp}}}};
}

Value component(const std::string& id, const std::string& path, Value args = Value::object()) {
  return Value{{"id", id}, {"path", path}, {"args", std::move(args)}};
}

// Finds nvflare on PATH, else at the path recorded when the kit was provisioned; says which
// places it looked when neither works.
std::string find_nvflare_block(const std::string& nvflare_bin) {
  return "RECORDED_NVFLARE=\"" + nvflare_bin +
         "\"\n"
         "if [ -n \"$NVFLARE_BIN\" ]; then NVFLARE=\"$NVFLARE_BIN\"\n"
         "elif command -v nvflare >/dev/null 2>&1; then NVFLARE=\"$(command -v nvflare)\"\n"
         "elif [ -x \"$RECORDED_NVFLARE\" ]; then NVFLARE=\"$RECORDED_NVFLARE\"\n"
         "else\n"
         "  echo \"nvflare was not found: it is not on PATH and not at $RECORDED_NVFLARE (recorded "
         "when this kit \"\\\n"
         "       \"was provisioned). Install nvflare, put it on PATH, or set NVFLARE_BIN.\" >&2\n"
         "  exit 1\n"
         "fi\n";
}

}  // namespace

Value fed_server_json(const Project& p) {
  const Participant& s = p.server();
  Value server = {
      {"name", p.name},
      {"identity", s.name},
      {"service",
       Value{{"target", s.name + ":" + std::to_string(s.fed_learn_port)}, {"scheme", p.scheme}}},
      {"admin_server", s.name},
      {"admin_port", s.admin_port},
      {"ssl_private_key", "server.key"},
      {"ssl_cert", "server.crt"},
      {"ssl_root_cert", "rootCA.pem"},
      {"connection_security", s.connection_security},
  };
  return Value{
      {"format_version", 2}, {"servers", Value::array({server})}, {"overseer_agent", overseer(s)}};
}

Value fed_client_json(const Project& p, const Participant& c) {
  const Participant& s = p.server();
  Value server = {{"name", p.name}, {"service", Value{{"scheme", p.scheme}}}, {"identity", s.name}};
  Value client = {
      {"ssl_private_key", "client.key"},
      {"ssl_cert", "client.crt"},
      {"ssl_root_cert", "rootCA.pem"},
      {"fqsn", c.name},
      {"is_leaf", true},
      {"connection_security", c.connection_security},
  };
  return Value{{"format_version", 2},
               {"servers", Value::array({server})},
               {"client", client},
               {"overseer_agent", overseer(s, &c)}};
}

Value fed_admin_json(const Project& p, const Participant& a) {
  const Participant& s = p.server();
  Value admin = {
      {"project_name", p.name},
      {"username", p.poc ? std::string() : a.name},
      {"server_identity", s.name},
      {"scheme", p.scheme},
      {"host", a.connect_host.empty() ? s.default_host : a.connect_host},
      {"port", a.connect_port ? a.connect_port : s.admin_port},
      {"connection_security", a.connection_security},
      {"uid_source", "cert"},
      {"with_file_transfer", true},
      {"upload_dir", "transfer"},
      {"download_dir", "transfer"},
      {"client_key", "client.key"},
      {"client_cert", "client.crt"},
      {"ca_cert", "rootCA.pem"},
  };
  return Value{{"format_version", 1}, {"admin", admin}};
}

namespace {

std::string listen_security_of(const Participant& p) {
  return p.listen_security.empty() ? p.connection_security : p.listen_security;
}

// Where `child` connects: {name, identity, fqcn, scheme, address, connection_security}.
Value parent_of(const Project& p, const Participant& child) {
  const Participant* relay = child.connect_to.empty() ? nullptr : p.find(child.connect_to);
  if (!relay) {
    const Participant& s = p.server();
    std::string host = child.connect_host.empty() ? s.default_host : child.connect_host;
    int port = child.connect_port ? child.connect_port : s.fed_learn_port;
    return Value{{"name", s.name},
                 {"identity", s.name},
                 {"fqcn", "server"},
                 {"scheme", p.scheme},
                 {"address", host + ":" + std::to_string(port)},
                 {"connection_security",
                  child.connect_security.empty() ? child.connection_security : child.connect_security}};
  }
  std::string host = child.connect_host.empty() ? relay->listen_host : child.connect_host;
  int port = child.connect_port ? child.connect_port : relay->listen_port;
  return Value{{"name", relay->name},
               {"identity", relay->name},
               {"fqcn", relay->fqcn},
               {"scheme", p.scheme},
               {"address", host + ":" + std::to_string(port)},
               {"connection_security",
                child.connect_security.empty() ? listen_security_of(*relay) : child.connect_security}};
}

}  // namespace

Value fed_relay_json(const Project& p, const Participant& r) {
  return Value{{"format_version", 2},
               {"project_name", p.name},
               {"identity", r.name},
               {"server_identity", p.server().name},
               {"fqcn", r.fqcn},
               {"ssl_private_key", "client.key"},
               {"ssl_cert", "client.crt"},
               {"ssl_root_cert", "rootCA.pem"},
               {"connection_security", r.connection_security},
               {"connect_to", parent_of(p, r)}};
}

Value comm_config_json(const Project& p, const Participant& part) {
  // A relay listens on the project's scheme (grpc, or tcp: TLS sockets) with its
  // listening_host's security; a client's internal listener is for its own job processes.
  Value resources = part.type == "relay"
                        ? Value{{"host", part.listen_host}, {"connection_security", listen_security_of(part)}}
                        : Value{{"host", "localhost"}, {"connection_security", "clear"}};
  if (part.type == "relay" && part.listen_port) resources["port"] = part.listen_port;
  const bool via_relay = part.type == "relay" || !part.connect_to.empty();
  return Value{{"allow_adhoc_conns", false},
               {"backbone_conn_gen", via_relay ? 1 : 2},
               {"internal", Value{{"scheme", part.type == "relay" ? p.scheme : std::string("tcp")},
                                  {"resources", resources}}}};
}

Value relay_resources_json(const Project& p, const Participant& client) {
  Value parent = parent_of(p, client);
  return Value{{"format_version", 2},
               {"relay_config", Value{{"scheme", parent["scheme"]},
                                      {"identity", parent["identity"]},
                                      {"address", parent["address"]},
                                      {"fqcn", parent["fqcn"]},
                                      {"connection_security", parent["connection_security"]}}}};
}

Value server_resources_json(const Project& p) {
  Value server = {{"admin_storage", "transfer"},
                  {"max_num_clients", 100},
                  {"heart_beat_timeout", 600},
                  {"download_job_url", p.download_job_url},
                  {"admin_timeout", 10.0}};
  Value storage =
      component("storage", "nvflare.app_common.storages.filesystem_storage.FilesystemStorage",
                Value{{"root_dir", "/tmp/nvflare/snapshot-storage"}, {"uri_root", "/"}});
  Value components = Value::array({
      component("job_scheduler",
                "nvflare.app_common.job_schedulers.job_scheduler.DefaultJobScheduler",
                Value{{"max_jobs", 4}}),
      component("job_manager", "nvflare.apis.impl.job_def_manager.SimpleJobDefManager",
                Value{{"uri_root", "/tmp/nvflare/jobs-storage"}, {"job_store_id", "job_store"}}),
      component("job_store", "nvflare.app_common.storages.filesystem_storage.FilesystemStorage"),
      component("process_launcher",
                "nvflare.app_common.job_launcher.server_process_launcher.ServerProcessJobLauncher"),
      component("log_receiver", "nvflare.app_common.logging.log_receiver.LogReceiver"),
  });
  return Value{
      {"format_version", 2},
      {"servers", Value::array({server})},
      {"snapshot_persistor",
       Value{{"path",
              "nvflare.app_common.state_persistors.storage_state_persistor.StorageStatePersistor"},
             {"args", Value{{"uri_root", "/"}, {"storage", storage}}}}},
      {"components", components}};
}

Value client_resources_json(const Participant& c) {
  Value components = Value::array({
      component(
          "resource_manager",
          "nvflare.app_common.resource_managers.gpu_resource_manager.GPUResourceManager",
          Value{{"num_of_gpus", c.num_of_gpus}, {"mem_per_gpu_in_GiB", c.mem_per_gpu_in_gib}}),
      component("resource_consumer",
                "nvflare.app_common.resource_consumers.gpu_resource_consumer.GPUResourceConsumer"),
      component("process_launcher",
                "nvflare.app_common.job_launcher.client_process_launcher.ClientProcessJobLauncher"),
  });
  if (c.allow_error_sending) {
    components.push_back(
        component("error_log_sender", "nvflare.app_common.logging.log_sender.ErrorLogSender"));
  }
  return Value{{"format_version", 2},
               {"client", Value{{"retry_timeout", 30}, {"compression", "Gzip"}}},
               {"components", components}};
}

Value admin_resources_json() {
  return Value{{"format_version", 1},
               {"admin", Value{{"idle_timeout", 900.0},
                               {"login_timeout", 10.0},
                               {"with_debug", false},
                               {"authenticate_msg_timeout", 2.0},
                               {"prompt", "> "}}}};
}

Value default_authorization_json() {
  Value org_admin = {
      {"submit_job", "none"},          {"clone_job", "none"}, {"manage_job", "o:submitter"},
      {"download_job", "o:submitter"}, {"view", "any"},       {"operate", "o:site"},
      {"shell_commands", "o:site"},    {"byoc", "none"}};
  Value lead = {{"submit_job", "any"},
                {"clone_job", "n:submitter"},
                {"manage_job", "n:submitter"},
                {"download_job", "n:submitter"},
                {"view", "any"},
                {"operate", "o:site"},
                {"shell_commands", "o:site"},
                {"byoc", "any"}};
  Value member = {{"view", "any"}};
  return Value{{"format_version", "1.0"},
               {"permissions", Value{{"project_admin", "any"},
                                     {"org_admin", org_admin},
                                     {"lead", lead},
                                     {"member", member}}}};
}

Value log_config_json() {
  auto rotating = [](const std::string& file, const std::string& level,
                     const std::string& formatter) {
    return Value{{"class", "logging.handlers.RotatingFileHandler"},
                 {"level", level},
                 {"formatter", formatter},
                 {"filename", file},
                 {"mode", "a"},
                 {"maxBytes", 20971520},
                 {"backupCount", 10}};
  };
  std::string fmt = "%(asctime)s - %(name)s - %(levelname)s - %(fl_ctx)s - %(message)s";
  Value formatters = {
      {"baseFormatter", Value{{"()", "nvflare.fuel.utils.log_utils.BaseFormatter"}, {"fmt", fmt}}},
      {"colorFormatter",
       Value{{"()", "nvflare.fuel.utils.log_utils.ColorFormatter"}, {"fmt", fmt}}},
      {"jsonFormatter", Value{{"()", "nvflare.fuel.utils.log_utils.JsonFormatter"}, {"fmt", fmt}}},
  };
  Value fl_file = rotating("log_fl.txt", "INFO", "baseFormatter");
  fl_file["filters"] = Value::array({"FLFilter"});
  fl_file["delay"] = true;
  Value handlers = {
      {"consoleHandler", Value{{"class", "logging.StreamHandler"},
                               {"level", "DEBUG"},
                               {"formatter", "colorFormatter"},
                               {"filters", Value::array({"FLFilter"})},
                               {"stream", "ext://sys.stdout"}}},
      {"logFileHandler", rotating("log.txt", "DEBUG", "baseFormatter")},
      {"errorFileHandler", rotating("log_error.txt", "ERROR", "baseFormatter")},
      {"jsonFileHandler", rotating("log.json", "DEBUG", "jsonFormatter")},
      {"FLFileHandler", fl_file},
  };
  Value filters = {
      {"FLFilter",
       Value{{"()", "nvflare.fuel.utils.log_utils.LoggerNameFilter"},
             {"logger_names", Value::array({"custom", "nvflare.app_common", "nvflare.app_opt"})}}}};
  Value root = {{"level", "INFO"},
                {"handlers", Value::array({"consoleHandler", "logFileHandler", "errorFileHandler",
                                           "jsonFileHandler", "FLFileHandler"})}};
  return Value{{"version", 1},
               {"disable_existing_loggers", false},
               {"formatters", formatters},
               {"filters", filters},
               {"handlers", handlers},
               {"loggers", Value{{"root", root}}}};
}

Value privacy_sample_json() {
  Value public_scope = {
      {"name", "public"},
      {"properties",
       Value{{"train_dataset", "/data/public/train"}, {"val_dataset", "/data/public/val"}}},
      {"task_result_filters",
       Value::array(
           {Value{{"path", "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy"},
                  {"args", Value{{"percentile", 10}, {"gamma", 0.01}}}}})},
      {"task_data_filters", Value::array()},
  };
  Value private_scope = {
      {"name", "private"},
      {"properties",
       Value{{"train_dataset", "/data/private/train"}, {"val_dataset", "/data/private/val"}}},
      {"task_result_filters",
       Value::array(
           {Value{{"path", "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy"},
                  {"args", Value{{"percentile", 10}, {"gamma", 0.01}}}}})},
      {"task_data_filters", Value::array()},
  };
  return Value{{"scopes", Value::array({public_scope, private_scope})},
               {"default_scope", "public"}};
}

std::string sub_start_sh(const Project& p, const Participant& part,
                         const std::string& nvflare_bin) {
  bool server = part.type == "server";
  std::string args =
      server ? "server -m \"$WS\" -s fed_server.json --set secure_train=true"
      : part.type == "relay"
          ? "relay -m \"$WS\" -s fed_relay.json --set secure_train=true"
          : "client -m \"$WS\" -s fed_client.json --set secure_train=true uid=" + part.name;
  args += " org=" + part.org + " config_folder=" + p.config_folder;
  return "#!/usr/bin/env bash\n"
         "# Starts this participant with a watchdog: restarts it when it exits, stops on "
         "../shutdown.fl.\n"
         "# --once runs it in the foreground without the watchdog.\n"
         "DIR=\"$( cd \"$( dirname \"${BASH_SOURCE[0]}\" )\" >/dev/null 2>&1 && pwd )\"\n"
         "WS=\"$( cd \"$DIR/..\" && pwd )\"\n"
         "echo \"WORKSPACE set to $WS\"\n"
         "mkdir -p \"$WS/transfer\"\n"
         // A relay only forwards: one heap arena keeps its memory to what is in flight.
         "export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-" + std::string(part.type == "relay" ? "1" : "4") + "}\n" +
         find_nvflare_block(nvflare_bin) + "run() { exec \"$NVFLARE\" " + args +
         "; }\n"
         "if [ \"$1\" = \"--once\" ]; then run; exit $?; fi\n"
         "if [ -f \"$WS/daemon_pid.fl\" ] && kill -0 \"$(cat \"$WS/daemon_pid.fl\")\" 2>/dev/null; "
         "then\n"
         "  echo \"There seems to be one instance, pid=$(cat \"$WS/daemon_pid.fl\"), running.\"\n"
         "  echo \"If you are sure it's not the case, please kill process $(cat "
         "\"$WS/daemon_pid.fl\") and then \"\\\n"
         "       \"remove daemon_pid.fl in $WS and try again.\"\n"
         "  exit 1\n"
         "fi\n"
         "echo $$ > \"$WS/daemon_pid.fl\"\n"
         "rm -f \"$WS/shutdown.fl\" \"$WS/restart.fl\"\n"
         "starts=()\n"
         "while true; do\n"
         "  now=$(date +%s); recent=(); for t in \"${starts[@]}\"; do [ $((now - t)) -lt 300 ] && "
         "recent+=(\"$t\"); done\n"
         "  starts=(\"${recent[@]}\")\n"
         "  if [ ${#starts[@]} -ge 5 ]; then echo \"System is in trouble and unable to start the "
         "task!!!!!\"; break; fi\n"
         "  starts+=(\"$now\")\n"
         "  run & echo $! > \"$WS/pid.fl\"\n"
         "  while kill -0 \"$(cat \"$WS/pid.fl\")\" 2>/dev/null; do\n"
         "    if [ -f \"$WS/restart.fl\" ]; then rm -f \"$WS/restart.fl\"; kill -9 \"$(cat "
         "\"$WS/pid.fl\")\"; fi\n"
         "    sleep 5\n"
         "  done\n"
         "  [ -f \"$WS/shutdown.fl\" ] && break\n"
         "done\n"
         "rm -f \"$WS/daemon_pid.fl\" \"$WS/pid.fl\" \"$WS/shutdown.fl\"\n";
}

std::string start_sh() {
  return "#!/usr/bin/env bash\n"
         "DIR=\"$( cd \"$( dirname \"${BASH_SOURCE[0]}\" )\" >/dev/null 2>&1 && pwd )\"\n"
         "\"$DIR/sub_start.sh\" \"$@\" &\n";
}

std::string stop_fl_sh() {
  return "#!/usr/bin/env bash\n"
         "DIR=\"$( cd \"$( dirname \"${BASH_SOURCE[0]}\" )\" >/dev/null 2>&1 && pwd )\"\n"
         "echo \"Please use FL admin console to issue shutdown client command to properly stop "
         "this client.\"\n"
         "echo \"This stop_fl.sh script can only be used as the last resort to stop this "
         "client.\"\n"
         "echo \"It will not properly deregister the client to the server.\"\n"
         "echo \"The client status on the server after this shell script will be incorrect.\"\n"
         "read -p \"Would you like to continue (y/N)? \" answer\n"
         "case \"$answer\" in\n"
         "  [Yy]*) echo \"Shutdown request created.  Wait for local FL process to shutdown.\"\n"
         "         touch \"$DIR/../shutdown.fl\" ;;\n"
         "  *) echo \"Not continue\" ;;\n"
         "esac\n";
}

std::string fl_admin_sh(const std::string& nvflare_bin) {
  return "#!/usr/bin/env bash\n"
         "DIR=\"$( cd \"$( dirname \"${BASH_SOURCE[0]}\" )\" >/dev/null 2>&1 && pwd )\"\n"
         "mkdir -p \"$DIR/../transfer\"\n" +
         find_nvflare_block(nvflare_bin) +
         "exec \"$NVFLARE\" admin -m \"$DIR/..\" -s fed_admin.json \"$@\"\n";
}

std::string start_all_sh(const Project& p) {
  std::string out =
      "#!/usr/bin/env bash\n"
      "DIR=\"$( cd \"$( dirname \"${BASH_SOURCE[0]}\" )\" >/dev/null 2>&1 && pwd )\"\n";
  out += "echo \"Starting server " + p.server().name + "\"\n";
  out += "\"$DIR/" + p.server().name + "/startup/start.sh\"\n";
  // Relays parents first (by the depth of their cell name), then the clients.
  std::vector<const Participant*> relays;
  for (const Participant& r : p.participants) {
    if (r.type == "relay") relays.push_back(&r);
  }
  auto depth = [](const Participant* r) { return std::count(r->fqcn.begin(), r->fqcn.end(), '.'); };
  std::stable_sort(relays.begin(), relays.end(),
                   [&](const Participant* a, const Participant* b) { return depth(a) < depth(b); });
  for (const Participant* r : relays) {
    out += "echo \"Starting relay " + r->name + "\"\n";
    out += "\"$DIR/" + r->name + "/startup/start.sh\"\n";
  }
  for (const Participant& c : p.participants) {
    if (c.type != "client") continue;
    out += "echo \"Starting client " + c.name + "\"\n";
    out += "\"$DIR/" + c.name + "/startup/start.sh\"\n";
  }
  return out;
}

std::string readme_txt(const Participant& part) {
  if (part.type == "admin") {
    return "*********************************\n"
           "Admin Client package\n"
           "*********************************\n"
           "The package includes at least the following files:\n"
           "readme.txt\n"
           "rootCA.pem\n"
           "client.crt\n"
           "client.key\n"
           "fl_admin.sh\n\n"
           "Please install the nvflare package by 'python3 -m pip nvflare.'  This will install a "
           "set of Python "
           "codes\nin your environment.  After installation, you can run the fl_admin.sh file to "
           "start "
           "communicating to the admin server.\n\n"
           "The rootCA.pem file is pointed by \"ca_cert\" in fl_admin.sh.  If you plan to "
           "move/copy it to a "
           "different place,\nyou will need to modify fl_admin.sh.  The same applies to the other "
           "two files, "
           "client.crt and client.key.\n\n"
           "The email in your submission to participate this Federated Learning project is "
           "embedded in the "
           "CN field of client\ncertificate, which uniquely identifies the participant.  As such, "
           "please "
           "safeguard its private key, client.key.\n";
  }
  std::string kind = part.type == "server" ? "server" : "client";
  return "*********************************\n"
         "Federated Learning " +
         kind +
         " package\n"
         "*********************************\n"
         "The package includes at least the following files:\n"
         "readme.txt\n"
         "rootCA.pem\n" +
         kind + ".crt\n" + kind +
         ".key\n"
         "fed_" +
         kind +
         ".json\n"
         "start.sh\n"
         "sub_start.sh\n"
         "stop_fl.sh\n\n"
         "Run start.sh to start the " +
         kind +
         ".\n\n"
         "The rootCA.pem file is pointed by \"ssl_root_cert\" in fed_" +
         kind +
         ".json.  If you plan to "
         "move/copy it to a different place,\nyou will need to modify fed_" +
         kind +
         ".json.  The same "
         "applies to the other two files, " +
         kind + ".crt and " + kind +
         ".key.\n\n"
         "The " +
         kind +
         " name in your submission to participate this Federated Learning project is "
         "embedded in the CN field of " +
         kind +
         "\ncertificate, which uniquely identifies the participant.  "
         "As such, please safeguard its private key, " +
         kind + ".key.\n";
}

}  // namespace nvf::tools::provision
