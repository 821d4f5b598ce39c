// The messages between the processes of a deployment (DESIGN §2): client and admin registration
// with the server parent (FLARE's challenge / register / token scheme, spec runtime §1.2),
// heartbeats, the server parent's orders to client parents (deploy, start, abort, shutdown,
// restart, site reports, log levels),
// job processes reporting to their parents, and admin commands. FLARE's channel, topic and
// header names where FLARE has them. Names only; no state.
#pragma once

#include <string_view>

namespace nvf::runtime::deploy {

// Registration and heartbeats: client parent / admin → server parent.
inline constexpr std::string_view kChannelTask = "task";
inline constexpr std::string_view kTopicChallenge = "challenge";
inline constexpr std::string_view kTopicRegister = "register";
inline constexpr std::string_view kTopicHeartbeat = "heart_beat";
// A client parent that stops in order says so; the server forgets it at once (FLARE 2.7.2 sends
// nothing, and a stopped client stays registered until heart_beat_timeout, 600 s).
inline constexpr std::string_view kTopicQuit = "quit";

// Auth headers every message carries after registration (FLARE's names).
inline constexpr std::string_view kHdrClientName = "client_name";
inline constexpr std::string_view kHdrToken = "__token__";
inline constexpr std::string_view kHdrTokenSignature = "__token_signature__";
inline constexpr std::string_view kHdrSsid = "ssid";

// Server parent → client parent.
inline constexpr std::string_view kChannelAdmin = "admin";
inline constexpr std::string_view kTopicDeploy = "train.deploy";
inline constexpr std::string_view kTopicStartJob = "train.start_job";
inline constexpr std::string_view kTopicAbortJob = "train.abort";
inline constexpr std::string_view kTopicShutdown = "shutdown";
inline constexpr std::string_view kTopicClientStatus = "check_status";
// Admin commands answered by the client parent (FLARE's TrainingTopic / SysCommandTopic names):
// restart (the parent exits without shutdown.fl so that its watchdog starts it again), its
// resources, environment and scopes (JSON replies), its log level (body: the config argument)
// and a client job's log level (kHdrJobId; the order goes on to the client job).
inline constexpr std::string_view kTopicRestart = "restart";
inline constexpr std::string_view kTopicReportResources = "report_resources";
inline constexpr std::string_view kTopicReportEnv = "report_env";
inline constexpr std::string_view kTopicGetScopes = "get_scopes";
inline constexpr std::string_view kTopicConfigureSiteLog = "configure_site_log";
inline constexpr std::string_view kTopicConfigureJobLog = "configure_job_log";
// The workspace shell commands (payload: JSON array, the command name and its arguments without the
// target; reply: the text) and sys_info (reply: JSON array of [name, value]) on a client, each
// authorized by the client's own policy for the admin named in the kHdrUser* headers.
inline constexpr std::string_view kTopicShell = "sys.shell";
inline constexpr std::string_view kTopicSysInfo = "sys.info";
inline constexpr std::string_view kHdrUserName = "user_name";
inline constexpr std::string_view kHdrUserOrg = "user_org";
inline constexpr std::string_view kHdrUserRole = "user_role";
inline constexpr std::string_view kHdrJobId = "job_id";
inline constexpr std::string_view kHdrAppName = "app_name";
inline constexpr std::string_view kHdrSubmitterName = "submitter_name";
inline constexpr std::string_view kHdrSubmitterOrg = "submitter_org";
inline constexpr std::string_view kHdrSubmitterRole = "submitter_role";
inline constexpr std::string_view kHdrJobFolderName = "job_folder_name";

// Job processes → their parent.
inline constexpr std::string_view kChannelParent = "server_parent_listener";
inline constexpr std::string_view kTopicRunStatus = "update_run_status";
// Parent → job process.
inline constexpr std::string_view kChannelJobCommand = "job_command";
inline constexpr std::string_view kTopicAbort = "abort";
// Parent → job process: set the job's log level (body: the config argument); reply "OK".
inline constexpr std::string_view kTopicConfigureLog = "configure_log";
// show_stats: server parent → server job, server parent → client parent (kHdrJobId) → client job.
// The job process answers with FLARE's stats dict (JSON): the server job {"ServerRunner": {job_id,
// status, workflow}, <workflow class>: {phase, current_round, num_rounds}}, a client job
// {"ClientRunner": {job_id, current_tasks}}.
inline constexpr std::string_view kTopicShowStats = "show_stats";
// Server parent → server job: a client of the job quit (its name in kHdrLeftClient); its client
// job is gone, so the job stops waiting for it (fire-and-forget).
inline constexpr std::string_view kTopicClientLeft = "client_left";
inline constexpr std::string_view kHdrLeftClient = "left_client";
// show_errors / reset_errors, the same way: a job process answers show_errors with the JSON array
// of the last lines of its log_error.txt written since its last reset_errors (at most 20), and
// reset_errors by moving that mark to the end of the file (the file itself is kept).
inline constexpr std::string_view kTopicShowErrors = "show_errors";
inline constexpr std::string_view kTopicResetErrors = "reset_errors";

// Admin → server parent: one console command (JSON {"command": line}), a job upload (its folder
// name in kHdrJobFolderName; the zip offered for download in kHdrJobZip, or as the payload), a
// job download (the reply offers a zip in kHdrJobZip; download_job_components sends it as the
// payload).
inline constexpr std::string_view kTopicCommand = "command";
inline constexpr std::string_view kTopicSubmitJob = "submit_job";
inline constexpr std::string_view kTopicDownloadJob = "download_job";
// On a download request: "true" asks for the job's extra components (download_job_components).
inline constexpr std::string_view kHdrComponents = "components";
// On a job upload (admin → server parent), a deploy order (server parent → client parent) and a
// job download's reply (server parent → admin): the job's zip offered by the sender for download,
// as an encoded cellnet::Manifest of one item. The receiver pulls it from disk to disk in bounded
// ranges (no copy of the job in memory) from the sender that sent the message, and from nobody
// else. Absent: the zip is the message's payload.
inline constexpr std::string_view kHdrJobZip = "job_zip";

// Job process exit codes (FLARE's ProcessExitCode).
inline constexpr int kExitOk = 0;
inline constexpr int kExitExecutionError = 1;
inline constexpr int kExitConfigError = 103;

}  // namespace nvf::runtime::deploy
