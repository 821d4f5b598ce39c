// The client-side components in the registry: the launcher executor and its launcher (FLARE's
// ClientAPILauncherExecutor / PTClientAPILauncherExecutor + SubprocessLauncher). FLARE's pipes,
// metric relay and external configurator are accepted and unused: the trainer talks to the
// client job's cell directly.
#include "runtime/register.h"

#include "runtime/launcher_executor.h"

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

Result<std::unique_ptr<fl::Component>> make_executor(const BuildContext& ctx) {
  LauncherOptions o;
  NVF_ASSIGN_OR_RETURN(std::string lid, ctx.string_arg("launcher_id", "launcher"));
  NVF_ASSIGN_OR_RETURN(LauncherSpec * spec, ctx.component_as<LauncherSpec>("launcher_id", lid, "a launcher"));
  o.command = spec->command;
  o.launch_once = spec->launch_once;
  o.shutdown_grace = seconds(spec->shutdown_timeout > 0 ? spec->shutdown_timeout : 10);
  NVF_ASSIGN_OR_RETURN(double pre_init, ctx.number_arg("external_pre_init_timeout", 300));
  if (pre_init <= 0) return ctx.arg_error("external_pre_init_timeout", "must be > 0");
  o.external_pre_init_timeout = seconds(pre_init);
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("task_wait_timeout", 0));
  o.task_wait_timeout = seconds(wait);
  NVF_ASSIGN_OR_RETURN(o.params_transfer_type, ctx.string_arg("params_transfer_type", "FULL"));
  if (o.params_transfer_type != "FULL" && o.params_transfer_type != "DIFF") {
    return ctx.arg_error("params_transfer_type", "must be FULL or DIFF, not '" + o.params_transfer_type + "'");
  }
  NVF_ASSIGN_OR_RETURN(double submit, ctx.number_arg("submit_result_timeout", 300));
  o.submit_result_timeout = seconds(submit);
  NVF_ASSIGN_OR_RETURN(int64_t resends, ctx.int_arg("max_resends", 3));
  o.max_resends = static_cast<int>(resends);
  NVF_ASSIGN_OR_RETURN(double dl, ctx.number_arg("download_complete_timeout", 1800));
  o.download_complete_timeout = seconds(dl);
  NVF_ASSIGN_OR_RETURN(int64_t gc, ctx.int_arg("memory_gc_rounds", 0));
  if (gc < 0) return ctx.arg_error("memory_gc_rounds", "must be >= 0");
  o.memory_gc_rounds = static_cast<int>(gc);
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
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "ClientAPILauncherExecutor",
      {"nvflare.app_common.executors.client_api_launcher_executor.ClientAPILauncherExecutor",
       "nvflare.app_opt.pt.client_api_launcher_executor.PTClientAPILauncherExecutor", "PTClientAPILauncherExecutor",
       "nvflare.app_common.executors.launcher_executor.LauncherExecutor"},
      fl::ComponentKind::kExecutor,
      {"launcher_id", "pipe_id", "launch_timeout", "task_wait_timeout", "last_result_transfer_timeout",
       "external_pre_init_timeout", "peer_read_timeout", "monitor_interval", "read_interval", "heartbeat_interval",
       "heartbeat_timeout", "workers", "train_with_evaluation", "train_task_name", "evaluate_task_name",
       "submit_model_task_name", "from_nvflare_converter_id", "to_nvflare_converter_id", "params_exchange_format",
       "params_transfer_type", "config_file_name", "server_expected_format", "memory_gc_rounds", "cuda_empty_cache",
       "submit_result_timeout", "max_resends", "download_complete_timeout"},
      make_executor}));
  for (auto [name, alias] : {std::pair{"CellPipe", "nvflare.fuel.utils.pipe.cell_pipe.CellPipe"},
                             {"FilePipe", "nvflare.fuel.utils.pipe.file_pipe.FilePipe"},
                             {"MetricRelay", "nvflare.app_common.widgets.metric_relay.MetricRelay"},
                             {"ExternalConfigurator", "nvflare.app_common.widgets.external_configurator.ExternalConfigurator"}}) {
    NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{name, {alias}, fl::ComponentKind::kOther, {}, make_noop}));
  }
  return Status::OK();
}

}  // namespace nvf::runtime
