// The client-side components in the registry: the launcher executor and its launcher (FLARE's
// ClientAPILauncherExecutor / PTClientAPILauncherExecutor + SubprocessLauncher). FLARE's pipes,
// metric relay and external configurator are accepted and unused: the trainer talks to the
// client job's cell directly.
#include "runtime/register.h"

#include "runtime/launcher_executor.h"
#include "runtime/python_env.h"

namespace nvf::runtime {
namespace {

using fl::BuildContext;

class LauncherSpec : public fl::Component {
 public:
  std::vector<std::string> command;
  bool launch_once = true;
  double shutdown_timeout = 10;
};

std::chrono::milliseconds seconds(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); }

Result<std::unique_ptr<fl::Component>> make_launcher(const BuildContext& ctx) {
  auto spec = std::make_unique<LauncherSpec>();
  NVF_ASSIGN_OR_RETURN(std::string script, ctx.string_arg("script", ""));
  if (script.empty()) return ctx.arg_error("script", "the command to start the trainer is missing");
  auto argv = parse_command(script);
  if (!argv.ok()) return ctx.arg_error("script", argv.status().message());
  spec->command = std::move(*argv);
  NVF_ASSIGN_OR_RETURN(spec->launch_once, ctx.bool_arg("launch_once", true));
  NVF_ASSIGN_OR_RETURN(spec->shutdown_timeout, ctx.number_arg("shutdown_timeout", 10));
  return std::unique_ptr<fl::Component>(std::move(spec));
}

// The arguments every Client API executor shares (FLARE's ClientAPILauncherExecutor and
// InProcessClientAPIExecutor); `format` is the class's default params_exchange_format.
Status common_executor_args(const BuildContext& ctx, const char* format, LauncherOptions& o) {
  NVF_ASSIGN_OR_RETURN(o.params_exchange_format, ctx.string_arg("params_exchange_format", format));
  if (o.params_exchange_format != "numpy" && o.params_exchange_format != "pytorch" &&
      o.params_exchange_format != "raw") {
    return ctx.arg_error("params_exchange_format",
                         "must be numpy, pytorch or raw, not '" + o.params_exchange_format + "'");
  }
  NVF_ASSIGN_OR_RETURN(o.params_transfer_type, ctx.string_arg("params_transfer_type", "FULL"));
  if (o.params_transfer_type != "FULL" && o.params_transfer_type != "DIFF") {
    return ctx.arg_error("params_transfer_type", "must be FULL or DIFF, not '" + o.params_transfer_type + "'");
  }
  NVF_ASSIGN_OR_RETURN(int64_t gc, ctx.int_arg("memory_gc_rounds", 0));
  if (gc < 0) return ctx.arg_error("memory_gc_rounds", "must be >= 0");
  o.memory_gc_rounds = static_cast<int>(gc);
  return Status::OK();
}

Result<std::unique_ptr<fl::Component>> make_executor(const BuildContext& ctx, const char* format) {
  LauncherOptions o;
  NVF_ASSIGN_OR_RETURN(std::string lid, ctx.string_arg("launcher_id", "launcher"));
  NVF_ASSIGN_OR_RETURN(LauncherSpec * spec, ctx.component_as<LauncherSpec>("launcher_id", lid, "a launcher"));
  o.command = spec->command;
  o.launch_once = spec->launch_once;
  o.shutdown_grace = seconds(spec->shutdown_timeout > 0 ? spec->shutdown_timeout : 10);
  NVF_RETURN_IF_ERROR(common_executor_args(ctx, format, o));
  NVF_ASSIGN_OR_RETURN(double pre_init, ctx.number_arg("external_pre_init_timeout", 300));
  if (pre_init <= 0) return ctx.arg_error("external_pre_init_timeout", "must be > 0");
  o.external_pre_init_timeout = seconds(pre_init);
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("task_wait_timeout", 0));
  o.task_wait_timeout = seconds(wait);
  NVF_ASSIGN_OR_RETURN(double submit, ctx.number_arg("submit_result_timeout", 300));
  o.submit_result_timeout = seconds(submit);
  NVF_ASSIGN_OR_RETURN(int64_t resends, ctx.int_arg("max_resends", 3));
  o.max_resends = static_cast<int>(resends);
  NVF_ASSIGN_OR_RETURN(double dl, ctx.number_arg("download_complete_timeout", 1800));
  o.download_complete_timeout = seconds(dl);
  return std::unique_ptr<fl::Component>(new LauncherExecutor(std::move(o)));
}

// FLARE's InProcessClientAPIExecutor runs task_script_path inside the client job's Python; here
// the client job is native, so the script runs as a trainer process, once for the job
// (`python3 -u <script> <task_script_args>`, with the package on PYTHONPATH): the script itself
// does not change.
Result<std::unique_ptr<fl::Component>> make_in_process_executor(const BuildContext& ctx, const char* format) {
  LauncherOptions o;
  NVF_ASSIGN_OR_RETURN(std::string script, ctx.string_arg("task_script_path", ""));
  if (script.empty()) return ctx.arg_error("task_script_path", "the training script is missing");
  auto resolved = resolve_task_script(ctx.env().app_dir, script);
  if (!resolved.ok()) return ctx.arg_error("task_script_path", resolved.status().message());
  NVF_ASSIGN_OR_RETURN(std::string args, ctx.string_arg("task_script_args", ""));
  auto argv = parse_command(args.empty() ? std::string("x") : "x " + args);
  if (!argv.ok()) return ctx.arg_error("task_script_args", argv.status().message());
  o.command = {"python3", "-u", *resolved};
  o.command.insert(o.command.end(), argv->begin() + 1, argv->end());
  o.launch_once = true;
  NVF_RETURN_IF_ERROR(common_executor_args(ctx, format, o));
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("task_wait_time", 0));
  o.task_wait_timeout = seconds(wait > 0 ? wait : 0);
  return std::unique_ptr<fl::Component>(new LauncherExecutor(std::move(o)));
}

Result<std::unique_ptr<fl::Component>> make_noop(const BuildContext&) {
  return std::unique_ptr<fl::Component>(new fl::NoOpComponent());
}

}  // namespace

Status register_runtime_components(fl::ComponentRegistry& registry) {
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "SubprocessLauncher",
      {"nvflare.app_common.launchers.subprocess_launcher.SubprocessLauncher"},
      fl::ComponentKind::kLauncher,
      {"script", "launch_once", "shutdown_timeout", "clean_up_script"},
      make_launcher}));
  const std::vector<std::string> launcher_args = {
      "launcher_id", "pipe_id", "launch_timeout", "task_wait_timeout", "last_result_transfer_timeout",
      "external_pre_init_timeout", "peer_read_timeout", "monitor_interval", "read_interval", "heartbeat_interval",
      "heartbeat_timeout", "workers", "train_with_evaluation", "train_task_name", "evaluate_task_name",
      "submit_model_task_name", "from_nvflare_converter_id", "to_nvflare_converter_id", "params_exchange_format",
      "params_transfer_type", "config_file_name", "server_expected_format", "memory_gc_rounds", "cuda_empty_cache",
      "submit_result_timeout", "max_resends", "download_complete_timeout"};
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "ClientAPILauncherExecutor",
      {"nvflare.app_common.executors.client_api_launcher_executor.ClientAPILauncherExecutor",
       "nvflare.app_common.executors.launcher_executor.LauncherExecutor"},
      fl::ComponentKind::kExecutor, launcher_args,
      [](const BuildContext& ctx) { return make_executor(ctx, "numpy"); }}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "PTClientAPILauncherExecutor",
      {"nvflare.app_opt.pt.client_api_launcher_executor.PTClientAPILauncherExecutor"},
      fl::ComponentKind::kExecutor, launcher_args,
      [](const BuildContext& ctx) { return make_executor(ctx, "pytorch"); }}));
  const std::vector<std::string> in_process_args = {
      "task_script_path", "task_script_args", "task_wait_time", "result_pull_interval", "log_pull_interval",
      "params_exchange_format", "params_transfer_type", "from_nvflare_converter_id", "to_nvflare_converter_id",
      "train_with_evaluation", "train_task_name", "evaluate_task_name", "submit_model_task_name",
      "server_expected_format", "memory_gc_rounds", "cuda_empty_cache"};
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "InProcessClientAPIExecutor",
      {"nvflare.app_common.executors.in_process_client_api_executor.InProcessClientAPIExecutor"},
      fl::ComponentKind::kExecutor, in_process_args,
      [](const BuildContext& ctx) { return make_in_process_executor(ctx, "numpy"); }}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "PTInProcessClientAPIExecutor",
      {"nvflare.app_opt.pt.in_process_client_api_executor.PTInProcessClientAPIExecutor"},
      fl::ComponentKind::kExecutor, in_process_args,
      [](const BuildContext& ctx) { return make_in_process_executor(ctx, "pytorch"); }}));
  for (auto [name, alias] : {std::pair{"CellPipe", "nvflare.fuel.utils.pipe.cell_pipe.CellPipe"},
                             {"FilePipe", "nvflare.fuel.utils.pipe.file_pipe.FilePipe"},
                             {"MetricRelay", "nvflare.app_common.widgets.metric_relay.MetricRelay"},
                             {"ExternalConfigurator", "nvflare.app_common.widgets.external_configurator.ExternalConfigurator"}}) {
    NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{name, {alias}, fl::ComponentKind::kOther, {}, make_noop}));
  }
  return Status::OK();
}

}  // namespace nvf::runtime
