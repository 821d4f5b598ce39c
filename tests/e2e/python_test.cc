// Python training scripts in FLARE's style (`import nvflare.client as flare`) run by `nvflare
// simulator` through the Python package over the native Client API: each call of the API, exact
// numbers for NumPy FULL and DIFF, a torch state_dict bit for bit, metrics read back from the
// TensorBoard files by an independent reader, and the errors a script author meets.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "base/files.h"
#include "base/strings.h"
#include "config/value.h"
#include "e2e_util.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"

namespace nvf::e2e {
namespace {
namespace fs = std::filesystem;

class PythonClientTest : public E2eTest {
 protected:
  // A copy of jobs/hello-numpy-py whose client.py is `script`, with executor args replaced.
  fs::path job_with(const std::string& name, const std::string& script, const config::Value& executor_args = {}) {
    fs::path job = work_.path() / name;
    fs::copy(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-py", job, fs::copy_options::recursive);
    EXPECT_TRUE(base::atomic_write(job / "app" / "custom" / "client.py", script).ok());
    if (executor_args.is_object()) {
      fs::path client = job / "app" / "config" / "config_fed_client.json";
      config::Value cfg = load(client);
      for (auto& [k, v] : executor_args.items()) cfg["executors"][0]["executor"]["args"][k] = v;
      save(client, cfg);
    }
    return job;
  }
  RunResult simulate(const fs::path& job, int clients = 2) {
    return run({"simulator", job.string(), "-n", std::to_string(clients), "-t", std::to_string(clients), "-w",
                (work_.path() / ("ws-" + job.filename().string())).string()});
  }
  fs::path server_run(const fs::path& job) { return work_.path() / ("ws-" + job.filename().string()) / "server" / "simulate_job"; }
  std::string site_log(const fs::path& job, const std::string& site) {
    auto text = base::read_file(work_.path() / ("ws-" + job.filename().string()) / site / "log.txt");
    return text.ok() ? *text : "";
  }
  std::vector<double> server_npy(const fs::path& job) {
    auto npy = tensor::read_npy(server_run(job) / "models" / "server.npy");
    EXPECT_TRUE(npy.ok()) << npy.status().to_string();
    return npy.ok() ? npy->to_doubles() : std::vector<double>{};
  }
};

// Every call of the API a FLARE script uses, checked inside the script: it prints CHECK lines
// the test reads back, and fails (exit 1) on any surprise.
constexpr const char* kApiScript = R"PY(
import sys
import numpy as np
import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

def check(cond, what):
    if not cond:
        print(f"CHECK FAILED: {what}", flush=True)
        sys.exit(1)

try:
    flare.send(flare.FLModel(metrics={"a": 1}))
    check(False, "send before init raised")
except RuntimeError as e:
    check("init" in str(e), f"send before init: {e}")

flare.init()
flare.init()  # a second call is ignored
info = flare.system_info()
check(info["site_name"] == flare.get_site_name() and info["site_name"].startswith("site-"), f"system_info {info}")
check(info["job_id"] == flare.get_job_id() and info["job_id"], f"job id {info}")
cfg = flare.get_config()
check(cfg["SITE_NAME"] == info["site_name"], f"config {cfg}")
check(cfg["TASK_EXCHANGE"]["exchange_format"] == "numpy", f"exchange {cfg}")
transfer = cfg["TASK_EXCHANGE"]["transfer_type"]
try:
    flare.send(flare.FLModel(metrics={"a": 1}))
    check(False, "send before receive raised")
except RuntimeError as e:
    check("receive" in str(e), f"send before receive: {e}")
rounds = 0
while flare.is_running():
    model = flare.receive()
    check(model is flare.receive(), "receive twice gives the same task")
    check(flare.is_train() and not flare.is_evaluate() and not flare.is_submit_model(), "task predicates")
    check(flare.get_task_name() == "train", "task name")
    check(model.current_round == rounds and model.total_rounds == 3, f"rounds {model.current_round}/{model.total_rounds}")
    w = model.params["numpy_key"]
    check(isinstance(w, np.ndarray) and w.dtype == np.float32 and w.shape == (3, 3), f"params {w!r}")
    try:
        w[0, 0] = 5
        check(False, "received arrays are read-only")
    except ValueError:
        pass
    try:
        flare.send(flare.FLModel(params={"numpy_key": w}, metrics={"loss": "high"}))
        check(False, "a non-number metric raised")
    except TypeError as e:
        check("loss" in str(e), f"metric error {e}")
    print(f"CHECK round {rounds} {transfer} received {w.ravel().tolist()}", flush=True)
    out = FLModel(params={"numpy_key": w + 1}, params_type=ParamsType.FULL, metrics={"loss": np.float32(0.5)},
                  meta={"NUM_STEPS_CURRENT_ROUND": np.int64(2)})
    flare.send(out)
    rounds += 1
check(rounds == 3, f"{rounds} rounds")
check(flare.receive() is None, "receive after the end")
print("CHECK all calls behaved", flush=True)
)PY";

TEST_F(PythonClientTest, EveryApiCallBehavesAndFullAndDiffGiveTheExactModel) {
  for (const char* transfer : {"FULL", "DIFF"}) {
    SCOPED_TRACE(transfer);
    fs::path job = job_with(std::string("api-") + transfer, kApiScript, config::Value{{"params_transfer_type", transfer}});
    RunResult r = simulate(job);
    ASSERT_EQ(r.exit_code, 0) << r.out << site_log(job, "site-1");
    for (const char* site : {"site-1", "site-2"}) {
      const std::string log = site_log(job, site);
      EXPECT_NE(log.find("CHECK all calls behaved"), std::string::npos) << log;
      EXPECT_EQ(log.find("CHECK FAILED"), std::string::npos) << log;
      // The rounds saw exactly the models FedAvg made: +1 per round.
      EXPECT_NE(log.find(std::string("CHECK round 2 ") + transfer + " received [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]"),
                std::string::npos)
          << log;
    }
    EXPECT_EQ(server_npy(job), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  }
}

// A torch state_dict of several dtypes and shapes goes to the server and comes back bit for bit
// (one client: the weighted mean of one result is that result).
constexpr const char* kTorchScript = R"PY(
import sys
import torch
import nvflare.client as flare

flare.init()
torch.manual_seed(7)
sent = None
while flare.is_running():
    model = flare.receive()
    if sent is None:
        for k, v in model.params.items():
            if not isinstance(v, torch.Tensor):
                print(f"CHECK FAILED: {k} is {type(v)}", flush=True); sys.exit(1)
        sent = {
            "numpy_key": model.params["numpy_key"].clone() * 3,
            "conv.weight": torch.randn(4, 3, 2, 2),
            "fc.bias": torch.randn(5, dtype=torch.float64),
            "half": torch.randn(2, 3).half(),
            "bf": torch.randn(6).bfloat16(),
        }
        flare.send(flare.FLModel(params=sent))
    else:
        got = model.params
        bad = [k for k in sent if k not in got or got[k].dtype != sent[k].dtype or not torch.equal(got[k], sent[k])]
        print(f"CHECK round trip: {'bit-exact' if not bad else 'differs in ' + str(bad)}", flush=True)
        flare.send(flare.FLModel(params={k: v.clone() for k, v in got.items()}))
)PY";

TEST_F(PythonClientTest, ATorchStateDictComesBackBitForBit) {
  fs::path job = job_with("torch", kTorchScript, config::Value{{"params_exchange_format", "pytorch"}});
  config::Value server = load(job / "app" / "config" / "config_fed_server.json");
  server["workflows"][0]["args"]["num_clients"] = 1;
  server["workflows"][0]["args"]["num_rounds"] = 2;
  save(job / "app" / "config" / "config_fed_server.json", server);
  config::Value meta = load(job / "meta.json");
  meta["min_clients"] = 1;
  save(job / "meta.json", meta);
  RunResult r = simulate(job, 1);
  const std::string log = site_log(job, "site-1");
  if (log.find("No module named 'torch'") != std::string::npos) GTEST_SKIP() << "python3 has no torch";
  ASSERT_EQ(r.exit_code, 0) << r.out << log;
  EXPECT_NE(log.find("CHECK round trip: bit-exact"), std::string::npos) << log;
  // The server's model holds every tensor with its dtype and shape.
  auto st = tensor::SafetensorsReader::open(server_run(job) / "models" / "server.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  auto conv = st->tensor("conv.weight");
  ASSERT_TRUE(conv.ok()) << conv.status().to_string();
  EXPECT_EQ(conv->shape(), (tensor::Shape{4, 3, 2, 2}));
  EXPECT_EQ(st->tensor("fc.bias")->dtype(), tensor::DType::kF64);
  EXPECT_EQ(st->tensor("half")->dtype(), tensor::DType::kF16);
  EXPECT_EQ(st->tensor("bf")->dtype(), tensor::DType::kBF16);
}

// hello-numpy-py as shipped: FLARE's recipe-export layout (InProcessClientAPIExecutor,
// task_script_path, ValidationJsonGenerator, IntimeModelSelector, TBAnalyticsReceiver) and a
// FLARE-style script; its SummaryWriter metrics are read back from the event files by Python's
// struct and google.protobuf, with a reader generated from our .proto.
TEST_F(PythonClientTest, HelloNumpyPyRunsAndItsMetricsAreInTensorBoardFiles) {
  fs::path job = fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-py";
  RunResult r = run({"simulator", job.string(), "-n", "2", "-t", "2", "-w", (work_.path() / "ws").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const fs::path tb = work_.path() / "ws" / "server" / "simulate_job" / "tb_events";
  EXPECT_NE(r.out.find(tb.string()), std::string::npos) << r.out;  // the simulator says where they are
  auto npy = tensor::read_npy(work_.path() / "ws" / "server" / "simulate_job" / "models" / "server.npy");
  ASSERT_TRUE(npy.ok());
  EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  // FLARE's ValidationJsonGenerator leaves an empty result when no cross-site evaluation ran.
  auto cross = base::read_file(work_.path() / "ws" / "server" / "simulate_job" / "cross_site_val" / "cross_val_results.json");
  ASSERT_TRUE(cross.ok()) << cross.status().to_string();
  EXPECT_EQ(base::trim(*cross), "{}");

  const fs::path gen = work_.path() / "pb";
  fs::create_directories(gen);
  RunResult protoc = run_program({"protoc", "--proto_path=" + std::string(NVF_SOURCE_DIR) + "/lib/workflows",
                                  "--python_out=" + gen.string(), "tb_event.proto"},
                                 work_.path(), {}, std::chrono::seconds(60));
  ASSERT_EQ(protoc.exit_code, 0) << protoc.out;
  const std::string reader = R"PY(
import glob, os, struct, sys
sys.path.insert(0, sys.argv[1])
import tb_event_pb2
for site in ("site-1", "site-2"):
    (path,) = glob.glob(os.path.join(sys.argv[2], site, "events.out.tfevents.*"))
    data = open(path, "rb").read()
    at, events = 0, []
    while at < len(data):
        (length,) = struct.unpack_from("<Q", data, at)
        at += 12  # length and its checksum
        e = tb_event_pb2.Event()
        e.ParseFromString(data[at:at + length])
        at += length + 4
        events.append(e)
    assert events[0].file_version == "brain.Event:2", events[0]
    for e in events[1:]:
        for v in e.summary.value:
            print(f"{site} {v.tag} step {e.step} = {v.simple_value:g}")
)PY";
  ASSERT_TRUE(base::atomic_write(work_.path() / "read_tb.py", reader).ok());
  RunResult read = run_program({"/usr/bin/python3", (work_.path() / "read_tb.py").string(), gen.string(), tb.string()},
                               work_.path(), {}, std::chrono::seconds(60));
  if (read.out.find("No module named 'google'") != std::string::npos) GTEST_SKIP() << "no python3-protobuf";
  ASSERT_EQ(read.exit_code, 0) << read.out;
  for (const char* site : {"site-1", "site-2"}) {
    // The mean weight each round received: 5, 6, 7.
    for (int step = 0; step < 3; ++step) {
      const std::string line = std::string(site) + " weight_mean step " + std::to_string(step) + " = " +
                               std::to_string(5 + step);
      EXPECT_NE(read.out.find(line), std::string::npos) << line << "\n" << read.out;
    }
  }
}

TEST_F(PythonClientTest, AScriptThatFailsOrIsMissingEndsTheJobWithItsError) {
  // A script that raises: the simulator fails and the site log holds the Python traceback.
  fs::path bad = job_with("raises", "import nvflare.client as flare\nflare.init()\nraise ValueError('bad data in shard 3')\n");
  RunResult r = simulate(bad);
  EXPECT_NE(r.exit_code, 0) << r.out;
  const std::string log = site_log(bad, "site-1");
  EXPECT_NE(log.find("ValueError: bad data in shard 3"), std::string::npos) << log;
  EXPECT_NE(log.find("exited with code 1"), std::string::npos) << log;

  // task_script_path naming no file: refused before anything runs, naming the field and places.
  fs::path missing = job_with("missing", "", config::Value{{"task_script_path", "train_me.py"}});
  r = simulate(missing);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("task_script_path"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train_me.py"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("custom"), std::string::npos) << r.out;

  // An exchange format we do not know.
  fs::path fmt = job_with("fmt", "", config::Value{{"params_exchange_format", "keras"}});
  r = simulate(fmt);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("params_exchange_format"), std::string::npos) << r.out;
}

// FLARE exports jobs with the path the script had where it was exported; it is found in custom/.
TEST_F(PythonClientTest, AnExportedAbsoluteScriptPathIsFoundInCustom) {
  fs::path job = job_with("abs", base::read_file(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-py" / "app" / "custom" / "client.py").value(),
                          config::Value{{"task_script_path", "/local/custom/client.py"}});
  RunResult r = simulate(job);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(server_npy(job), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
}


// The global accuracy a site's script printed for `round` ("site-1: round 3: global model accuracy 0.938").
double global_accuracy(const std::string& log, const std::string& site, int round) {
  std::smatch m;
  std::regex re(site + ": round " + std::to_string(round) + R"(: global model accuracy ([0-9.]+))");
  return std::regex_search(log, m, re) ? std::stod(m[1].str()) : -1;
}

// hello-pt-py as shipped: HOCON configs as `job create` writes them, PTClientAPILauncherExecutor
// with DIFF, and the job's own model class (custom/model.py), whose initial weights Python builds
// on the server. The model learns, and FL_global_model.pt loads into that class in torch.
TEST_F(PythonClientTest, HelloPtPyLearnsAndItsModelLoadsIntoTheJobsClass) {
  fs::path job = fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-pt-py";
  const fs::path ws = work_.path() / "ws";
  RunResult r = run({"simulator", job.string(), "-n", "2", "-t", "2", "-w", ws.string()});
  auto log1 = base::read_file(ws / "site-1" / "log.txt").value_or("");
  if (log1.find("No module named 'torch'") != std::string::npos) GTEST_SKIP() << "python3 has no torch";
  ASSERT_EQ(r.exit_code, 0) << r.out << log1;
  auto server_log = base::read_file(ws / "server" / "log.txt").value_or("");
  EXPECT_NE(server_log.find("building the initial model of class model.SimpleNetwork"), std::string::npos) << server_log;
  for (const char* site : {"site-1", "site-2"}) {
    const std::string log = base::read_file(ws / site / "log.txt").value_or("");
    const double first = global_accuracy(log, site, 0), last = global_accuracy(log, site, 3);
    ASSERT_GE(first, 0) << log;
    ASSERT_GE(last, 0) << log;
    EXPECT_GT(last, first + 0.2) << site << ": " << first << " -> " << last;
    EXPECT_GE(last, 0.85) << site;
  }
  const fs::path pt = ws / "server" / "simulate_job" / "app_server" / "FL_global_model.pt";
  ASSERT_TRUE(fs::exists(pt)) << pt;
  const std::string check = R"PY(
import sys, torch
sys.path.insert(0, sys.argv[1])
from model import SimpleNetwork
net = SimpleNetwork(hidden=32)
state = torch.load(sys.argv[2])["model"]
net.load_state_dict(state)
print("LOADED", sorted(state))
)PY";
  ASSERT_TRUE(base::atomic_write(work_.path() / "check.py", check).ok());
  RunResult loaded = run_program({"/usr/bin/python3", (work_.path() / "check.py").string(),
                                  (job / "app" / "custom").string(), pt.string()},
                                 work_.path(), {}, std::chrono::seconds(120));
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out;
  EXPECT_NE(loaded.out.find("LOADED ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']"), std::string::npos)
      << loaded.out;
  // Metrics of both sites in TensorBoard files.
  for (const char* site : {"site-1", "site-2"}) {
    EXPECT_TRUE(fs::is_directory(ws / "server" / "simulate_job" / "tb_events" / site)) << site;
  }
}

// Without torch (here: an interpreter that cannot import it) the job stops with the class named
// and the way out.
TEST_F(PythonClientTest, AModelClassWithoutTorchIsAnErrorThatSaysWhatToDo) {
  const fs::path fake = work_.path() / "python-without-torch";
  ASSERT_TRUE(base::atomic_write(fake, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n").ok());
  fs::permissions(fake, fs::perms::owner_all);
  fs::path job = fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-pt-py";
  RunResult r = run_nvflare({"simulator", job.string(), "-n", "2", "-w", (work_.path() / "ws").string()},
                            work_.path(), {{"HOME", home_.path().string()}, {"NVFLARE_PYTHON", fake.string()}},
                            std::chrono::seconds(120));
  EXPECT_NE(r.exit_code, 0) << r.out;
  const std::string all = r.out + base::read_file(work_.path() / "ws" / "server" / "log.txt").value_or("");
  EXPECT_NE(all.find("model.SimpleNetwork"), std::string::npos) << all;
  EXPECT_NE(all.find("No module named 'torch'"), std::string::npos) << all;
  EXPECT_NE(all.find("source_ckpt_file_full_name"), std::string::npos) << all;
}

// `cmake --install` puts the package on python3's path for the prefix, and the installed module
// finds the installed libnvflare_client.
TEST_F(PythonClientTest, TheInstalledPackageImports) {
  const fs::path prefix = work_.path() / "prefix";
  const std::map<std::string, std::string> env{{"HOME", home_.path().string()}};
  for (const char* component : {"client", "python"}) {
    RunResult r = run_program({"cmake", "--install", NVF_BINARY_DIR, "--component", component, "--prefix",
                               prefix.string()},
                              work_.path(), env, std::chrono::seconds(120));
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  const fs::path site = prefix / NVF_PYTHON_INSTALL_DIR;
  ASSERT_TRUE(fs::exists(site / "nvflare" / "client" / "__init__.py")) << site;
  RunResult r = run_program({"/usr/bin/python3", "-c",
                             "import sys; sys.path.insert(0, sys.argv[1]); import nvflare.client, nvflare._native as n; "
                             "print('FROM', n.__file__); print('DTYPES', n.safetensors_dtypes())",
                             site.string()},
                            work_.path(), env, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("FROM " + site.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'BF16'"), std::string::npos) << r.out;
  // With the configured prefix, the same folder is on python3's own path.
  r = run_program({"/usr/bin/python3", "-c", "import sys; print(sys.path)"}, work_.path(), env, std::chrono::seconds(60));
  EXPECT_NE(r.out.find("'" + (fs::path(NVF_INSTALL_PREFIX) / NVF_PYTHON_INSTALL_DIR).string() + "'"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace nvf::e2e
