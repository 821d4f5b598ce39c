// `nvflare simulator` as a user runs it: exact results, real trainers, failures that end cleanly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <utility>

#include "base/files.h"
#include "base/process.h"
#include "base/strings.h"
#include "config/value.h"
#include "e2e_util.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"

namespace nvf::e2e {
namespace {
namespace fs = std::filesystem;

// Runs /usr/bin/python3 `script` args...; nullopt when python3 cannot import torch.
std::optional<std::pair<int, std::string>> run_python_torch(const fs::path& script,
                                                            const std::vector<std::string>& args) {
  base::SpawnOptions py;
  py.argv = {"/usr/bin/python3", script.string()};
  py.argv.insert(py.argv.end(), args.begin(), args.end());
  py.capture_output = true;
  auto child = base::spawn(py);
  if (!child.ok()) return std::nullopt;
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child->output_fd(), buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  auto exit = child->wait(std::chrono::seconds(120));
  if (!exit.ok() || out.find("No module named 'torch'") != std::string::npos) return std::nullopt;
  return std::pair{exit->exit_code, out};
}

class SimulatorTest : public E2eTest {
 protected:
  // A numpy-style job (fedavg_np) whose trainer command and executor args are replaced.
  fs::path np_job(const std::string& name, const std::string& command, const config::Value& executor_args) {
    fs::path job = work_.path() / name;
    auto r = run({"job", "create", "-j", job.string(), "-w", "fedavg_np", "-force"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    fs::path client = job / "app" / "config" / "config_fed_client.json";
    config::Value cfg = load(client);
    for (auto& c : cfg["components"]) {
      if (c["id"] == "launcher") c["args"]["script"] = command;
    }
    for (auto& [k, v] : executor_args.items()) cfg["executors"][0]["executor"]["args"][k] = v;
    save(client, cfg);
    return job;
  }
  // A job whose sites run `bad_command` use their own app "app_bad" (the rest run `command`).
  fs::path mixed_job(const std::string& name, const std::string& command, const std::string& bad_command,
                     const std::vector<std::string>& good_sites, const std::vector<std::string>& bad_sites) {
    fs::path job = np_job(name, command, config::Value::object());
    fs::copy(job / "app", job / "app_bad", fs::copy_options::recursive);
    fs::path bad = job / "app_bad" / "config" / "config_fed_client.json";
    config::Value cfg = load(bad);
    cfg["components"][0]["args"]["script"] = bad_command;
    save(bad, cfg);
    config::Value meta = load(job / "meta.json");
    config::Value good = config::Value::array();
    good.push_back("server");
    for (const auto& s : good_sites) good.push_back(s);
    config::Value bads = config::Value::array();
    for (const auto& s : bad_sites) bads.push_back(s);
    meta["deploy_map"] = {{"app", good}, {"app_bad", bads}};
    meta["min_clients"] = 2;
    save(job / "meta.json", meta);
    return job;
  }
  // hello-numpy copied, with filter chains (JSON objects holding task_data_filters /
  // task_result_filters) put into its client and server configs.
  fs::path filtered_numpy_job(const std::string& name, const std::string& client_filters,
                              const std::string& server_filters) {
    fs::path job = work_.path() / name;
    fs::copy(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", job, fs::copy_options::recursive);
    for (auto [file, filters] : {std::pair{"config_fed_client.json", client_filters},
                                 std::pair{"config_fed_server.json", server_filters}}) {
      fs::path p = job / "app" / "config" / file;
      config::Value cfg = load(p);
      const config::Value chains = config::Value::parse(filters);
      for (auto& [k, v] : chains.items()) cfg[k] = v;
      save(p, cfg);
    }
    return job;
  }
  // Python checks app/FL_global_model.pt: its zip CRCs, torch.load, and every tensor's bytes
  // against FL_global_model.safetensors; prints "same <count>".
  RunResult pt_matches_its_twin(const fs::path& app) {
    return run_program({"/usr/bin/python3", "-c",
                        "import sys, torch, struct, json, zipfile\n"
                        "assert zipfile.ZipFile(sys.argv[1]).testzip() is None\n"
                        "m = torch.load(sys.argv[1])['model']\n"
                        "raw = open(sys.argv[2], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]\n"
                        "h = json.loads(raw[8:8+n]); h.pop('__metadata__', None)\n"
                        "assert sorted(h) == sorted(m.keys()), (sorted(h), sorted(m))\n"
                        "for k, info in h.items():\n"
                        "  b, e = info['data_offsets']\n"
                        "  assert m[k].contiguous().numpy().tobytes() == raw[8+n+b:8+n+e], k\n"
                        "print('same', len(h))\n",
                        (app / "FL_global_model.pt").string(), (app / "FL_global_model.safetensors").string()},
                       work_.path(), {}, std::chrono::seconds(120));
  }
  std::vector<double> server_weights() {
    auto npy = tensor::read_npy(work_.path() / "ws" / "server" / "simulate_job" / "models" / "server.npy");
    EXPECT_TRUE(npy.ok()) << npy.status().to_string();
    return npy.ok() ? npy->to_doubles() : std::vector<double>{};
  }
  std::vector<double> round_accuracies(const std::string& out) {
    std::vector<double> acc;
    std::regex re(R"((?:^|\n)round \d+/\d+: .*accuracy ([0-9.]+))");  // not the summary line
    for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it) {
      acc.push_back(std::stod((*it)[1]));
    }
    return acc;
  }
};

TEST_F(SimulatorTest, HelloNumpyGivesFlaresExactWeights) {
  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", "-w", ws.string(), "-n", "2", "-t",
                "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/2 clients"), std::string::npos) << r.out;
  auto npy = tensor::read_npy(ws / "server" / "simulate_job" / "models" / "server.npy");
  ASSERT_TRUE(npy.ok()) << npy.status().to_string();
  EXPECT_EQ(npy->shape(), (tensor::Shape{3, 3}));
  EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  auto st = tensor::SafetensorsReader::open(ws / "server" / "simulate_job" / "models" / "server.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  auto t = st->tensor("numpy_key");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->to_doubles(), npy->to_doubles());
  // FLARE's layout: per-site apps, meta with the clients, a log per site, the marker file.
  EXPECT_TRUE(fs::exists(ws / "site-1" / "simulate_job" / "app_site-1" / "config" / "config_fed_client.json"));
  EXPECT_TRUE(fs::exists(ws / "site-2" / "log.txt"));
  EXPECT_TRUE(fs::exists(ws / ".nvflare_simulator_workspace"));
  config::Value meta = load(ws / "server" / "simulate_job" / "meta.json");
  EXPECT_EQ(meta["job_clients"].size(), 2u);
}

// Proves: with --relays the clients run behind in-process relays (each with its download cache)
// and the job gives the same exact result; the client cells are named below their relays.
TEST_F(SimulatorTest, HelloNumpyBehindTwoRelaysGivesTheSameExactWeights) {
  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", "-w", ws.string(), "-n", "4", "-t",
                "2", "--relays", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 4/4 clients"), std::string::npos) << r.out;
  EXPECT_EQ(server_weights(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  auto log = base::read_file(ws / "site-3" / "log.txt");
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  EXPECT_NE(log->find("relay-1.site-3"), std::string::npos) << *log;
  auto bad = run({"simulator", fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", "-w", ws.string(), "--relays", "-1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
}

TEST_F(SimulatorTest, HelloPtLearnsAndItsPtFileMatchesTheSafetensors) {
  NVF_SKIP_WITHOUT_LIBTORCH();
  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-pt", "-w", ws.string(), "-n", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto acc = round_accuracies(r.out);
  ASSERT_EQ(acc.size(), 2u) << r.out;
  EXPECT_LE(acc.front(), 0.6) << r.out;
  EXPECT_GE(acc.back(), acc.front() + 0.15) << r.out;
  fs::path app = ws / "server" / "simulate_job" / "app_server";
  ASSERT_TRUE(fs::exists(app / "FL_global_model.pt"));
  RunResult py = pt_matches_its_twin(app);
  if (py.out.find("No module named 'torch'") != std::string::npos) GTEST_SKIP() << "python3-torch is not installed";
  EXPECT_EQ(py.exit_code, 0) << py.out;
  EXPECT_NE(py.out.find("same 10"), std::string::npos) << py.out;
}

TEST_F(SimulatorTest, JobCreatedFromFedavgPtTemplateRuns) {
  NVF_SKIP_WITHOUT_LIBTORCH();
  fs::path job = work_.path() / "pt-job";
  ASSERT_EQ(run({"job", "create", "-j", job.string(), "-w", "fedavg_pt", "-f", "config_fed_server.conf", "num_rounds=1"})
                .exit_code,
            0);
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 1/1: 2/2 clients"), std::string::npos) << r.out;
}

// Proves: a model large enough to be saved off the round's path (64 MiB or more: direct writes,
// the .pt and its twin at once, each round's save overlapping the next round) ends the job with
// both files complete and exact: 3 DIFF rounds of `train --add 1` give the initial values + 3 in
// every tensor, torch.load reads the .pt (its CRCs checked) with the twin's bytes, each round
// logs its save, and no page-cache scratch file is left.
TEST_F(SimulatorTest, ALargeModelIsSavedWhileTheNextRoundRunsAndEndsExact) {
  // No LibTorch needed: `train --add` and a safetensors initial model (so it also runs in the
  // sanitizer builds, which exercise the saver thread in a real run).
  fs::path job = work_.path() / "large-job";
  ASSERT_EQ(run({"job", "create", "-j", job.string(), "-w", "fedavg_pt", "-f", "config_fed_server.json",
                 "num_rounds=3", "min_clients=2"})
                .exit_code,
            0);
  // 9 tensors, 80 MiB and 28 bytes: one tensor's size is not a multiple of a disk block.
  tensor::TensorDict init;
  constexpr int64_t kN = 10 * 1024 * 1024 / 4;
  std::vector<float> values(static_cast<size_t>(kN));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 100);
  for (int t = 0; t < 8; ++t) ASSERT_TRUE(init.insert("layer" + std::to_string(t), tensor::Tensor::from_vector<float>({kN}, values)).ok());
  ASSERT_TRUE(init.insert("odd", tensor::Tensor::from_vector<float>({7}, {1, 2, 3, 4, 5, 6, 7})).ok());
  const fs::path model = work_.path() / "initial.safetensors";
  ASSERT_TRUE(tensor::write_safetensors(model, init).ok());
  config::Value server = load(job / "app" / "config" / "config_fed_server.json");
  server.erase("model");
  for (auto& c : server["components"]) {
    if (c["id"] == "persistor") c["args"] = config::Value{{"source_ckpt_file_full_name", model.string()}};
  }
  save(job / "app" / "config" / "config_fed_server.json", server);
  config::Value client = load(job / "app" / "config" / "config_fed_client.json");
  for (auto& c : client["components"]) {
    if (c["id"] == "launcher") c["args"]["script"] = "{NVFLARE_BIN} train --add 1";
  }
  save(job / "app" / "config" / "config_fed_client.json", client);

  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", job.string(), "-w", ws.string(), "-n", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/2 clients"), std::string::npos) << r.out;
  fs::path app = ws / "server" / "simulate_job" / "app_server";
  auto log = base::read_file(ws / "server" / "log.txt");
  ASSERT_TRUE(log.ok());
  size_t saves = 0;
  for (size_t at = log->find("and its safetensors twin, 80.0 MiB each, in "); at != std::string::npos;
       at = log->find("and its safetensors twin, 80.0 MiB each, in ", at + 1)) {
    ++saves;
  }
  EXPECT_EQ(saves, 3u) << *log;
  for (const char* f : {".FL_global_model.pt.prev", ".FL_global_model.safetensors.prev"}) {
    EXPECT_FALSE(fs::exists(app / f)) << f;
  }
  auto reader = tensor::SafetensorsReader::open(app / "FL_global_model.safetensors");
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  ASSERT_EQ(reader->names().size(), 9u);
  EXPECT_EQ(reader->tensor("odd")->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10}));
  for (int t = 0; t < 8; ++t) {
    auto got = reader->tensor("layer" + std::to_string(t));
    ASSERT_TRUE(got.ok());
    auto v = got->view<float>();
    size_t wrong = 0;
    for (size_t i = 0; i < v.size(); ++i) wrong += v[i] != static_cast<float>(i % 100) + 3.0f;
    EXPECT_EQ(wrong, 0u) << "layer" << t;
  }
  RunResult py = pt_matches_its_twin(app);
  if (py.out.find("No module named 'torch'") != std::string::npos) GTEST_SKIP() << "python3-torch is not installed";
  EXPECT_EQ(py.exit_code, 0) << py.out;
  EXPECT_NE(py.out.find("same 9"), std::string::npos) << py.out;
}

TEST_F(SimulatorTest, CrashingTrainerEndsTheJobWithAClearMessage) {
  fs::path job = np_job("crash", "sh -c 'exit 3'", config::Value::object());
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("exited with code 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("below min_clients 2"), std::string::npos) << r.out;
}

TEST_F(SimulatorTest, TrainerThatNeverAsksForATaskTimesOut) {
  fs::path job = np_job("hang", "sleep 60", config::Value{{"external_pre_init_timeout", 1}});
  auto start = std::chrono::steady_clock::now();
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("external_pre_init_timeout"), std::string::npos) << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(SimulatorTest, OneTrainerThatNeverStartsDoesNotStopFedAvg) {
  fs::path job = np_job("three", "{NVFLARE_BIN} train --add 1", config::Value::object());
  // site-3 gets its own app whose trainer does not exist.
  fs::copy(job / "app", job / "app_bad", fs::copy_options::recursive);
  fs::path bad = job / "app_bad" / "config" / "config_fed_client.json";
  config::Value cfg = load(bad);
  cfg["components"][0]["args"]["script"] = "/nonexistent/nvflare-trainer";
  save(bad, cfg);
  config::Value meta = load(job / "meta.json");
  meta["deploy_map"] = {{"app", {"server", "site-1", "site-2"}}, {"app_bad", {"site-3"}}};
  meta["min_clients"] = 2;
  save(job / "meta.json", meta);
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-c", "site-1,site-2,site-3", "-t", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/3 clients"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("without site-3"), std::string::npos) << r.out;
  auto npy = tensor::read_npy(work_.path() / "ws" / "server" / "simulate_job" / "models" / "server.npy");
  ASSERT_TRUE(npy.ok());
  EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
}

TEST_F(SimulatorTest, TorchScriptInitialModelIsReadThroughTheTorchHelper) {
  NVF_SKIP_WITHOUT_LIBTORCH();
  // The server never loads LibTorch: nvflare-train --export-initial converts the scripted model.
  fs::path model = work_.path() / "net.pt";
  fs::path script = work_.path() / "make_model.py";  // torch.jit.script reads the class's source file
  ASSERT_TRUE(base::atomic_write(script,
      "import sys, torch\n"
      "class Net(torch.nn.Module):\n"
      "    def __init__(self):\n"
      "        super().__init__()\n"
      "        self.fc1 = torch.nn.Linear(3 * 32 * 32, 8)\n"
      "        self.head = torch.nn.Linear(8, 10)\n"
      "    def forward(self, x):\n"
      "        return self.head(torch.relu(self.fc1(torch.flatten(x, 1))))\n"
      "torch.manual_seed(0)\n"
      "torch.jit.script(Net()).save(sys.argv[1])\n").ok());
  auto made = run_python_torch(script, {model.string()});
  if (!made) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  ASSERT_EQ(made->first, 0) << made->second;
  fs::path job = work_.path() / "ts-job";
  auto c = run({"job", "create", "-j", job.string(), "-w", "fedavg_pt", "-f", "config_fed_server.conf",
                "model=" + model.string(), "num_rounds=1", "-f", "config_fed_client.conf",
                "train_args=--model " + model.string() + " --epochs 1 --max-samples 64"});
  ASSERT_EQ(c.exit_code, 0) << c.out;
  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", job.string(), "-w", ws.string(), "-n", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 1/1: 2/2 clients"), std::string::npos) << r.out;
  auto st = tensor::SafetensorsReader::open(ws / "server" / "simulate_job" / "app_server" /
                                            "FL_global_model.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  tensor::TensorDict params = st->tensors();
  EXPECT_EQ(params.names(), (std::vector<std::string>{"fc1.weight", "fc1.bias", "head.weight", "head.bias"}));
  ASSERT_NE(params.find("fc1.weight"), nullptr);
  EXPECT_EQ(params.find("fc1.weight")->shape(), (tensor::Shape{8, 3072}));
}

TEST_F(SimulatorTest, MalformedResultEndsTheJobNamingTheSiteAndTheTensor) {
  fs::path job = mixed_job("malformed", "{NVFLARE_BIN} train --add 1", BAD_TRAINER_BIN, {"site-1"}, {"site-2"});
  auto start = std::chrono::steady_clock::now();
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-c", "site-1,site-2", "-t", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("below min_clients 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("client 'site-2': tensor 'numpy_key' has shape [9] but the global model's has shape [3, 3]"),
            std::string::npos)
      << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(SimulatorTest, MalformedResultOfOneOfThreeClientsIsLeftOut) {
  fs::path job = mixed_job("malformed3", "{NVFLARE_BIN} train --add 1", BAD_TRAINER_BIN, {"site-1", "site-2"},
                           {"site-3"});
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-c", "site-1,site-2,site-3", "-t",
                "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/3 clients"), std::string::npos) << r.out;
  EXPECT_EQ(server_weights(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
}

TEST_F(SimulatorTest, TheDocsExampleTrainerIsThisFileAndRuns) {
  auto doc = base::read_file(fs::path(NVF_SOURCE_DIR) / "docs" / "client-api.md");
  auto src = base::read_file(fs::path(NVF_SOURCE_DIR) / "examples" / "trainer" / "example_trainer.cc");
  ASSERT_TRUE(doc.ok() && src.ok());
  // The block after the marker that names the file.
  size_t marker = doc->find("<!-- example: examples/trainer/example_trainer.cc -->");
  ASSERT_NE(marker, std::string::npos) << "docs/client-api.md lost its example marker";
  size_t open = doc->find("```cpp\n", marker);
  ASSERT_NE(open, std::string::npos);
  open += 7;
  size_t close = doc->find("```", open);
  ASSERT_NE(close, std::string::npos);
  EXPECT_EQ(base::trim(std::string_view(*doc).substr(open, close - open)), base::trim(*src))
      << "the example in docs/client-api.md and examples/trainer/example_trainer.cc differ";

  fs::path job = np_job("example", EXAMPLE_TRAINER_BIN, config::Value::object());
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/2 clients"), std::string::npos) << r.out;
  // [[1..9]] + 0.5 per round, 3 rounds.
  EXPECT_EQ(server_weights(), (std::vector<double>{2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5}));
}

// Proves: with reuse_model_memory (NVFLARE_REUSE_MODEL_MEMORY=1) every train task after the
// first lands in the memory of the previous one's tensors, with FULL and with DIFF results, and
// the job's result stays exact; without it, no memory is reused.
TEST_F(SimulatorTest, ReuseModelMemoryReceivesEachRoundIntoTheLastRoundsMemory) {
  for (const std::string transfer : {"FULL", "DIFF"}) {
    for (const bool reuse : {true, false}) {
      SCOPED_TRACE(transfer + (reuse ? " with reuse" : " without reuse"));
      const std::string name = "reuse-" + transfer + (reuse ? "-on" : "-off");
      fs::path job = np_job(name, std::string("env NVFLARE_REUSE_MODEL_MEMORY=") + (reuse ? "1 " : "0 ") +
                                      REUSE_TRAINER_BIN,
                            config::Value{{"params_transfer_type", transfer}});
      fs::path ws = work_.path() / (name + "-ws");
      auto r = run({"simulator", job.string(), "-w", ws.string(), "-n", "2", "-t", "2"});
      ASSERT_EQ(r.exit_code, 0) << r.out;
      auto log = base::read_file(ws / "site-1" / "log.txt");
      ASSERT_TRUE(log.ok());
      EXPECT_NE(log->find("round 0: reused 0 of 1"), std::string::npos) << *log;
      for (const char* later : {"round 1: reused", "round 2: reused"}) {
        const std::string want = std::string(later) + (reuse ? " 1 of 1" : " 0 of 1");
        EXPECT_NE(log->find(want), std::string::npos) << want << "\n" << *log;
      }
      auto npy = tensor::read_npy(ws / "server" / "simulate_job" / "models" / "server.npy");
      ASSERT_TRUE(npy.ok()) << npy.status().to_string();
      EXPECT_EQ(npy->to_doubles(), (std::vector<double>{2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5}));
    }
  }
}

// The Client API as a user gets it: installed into a fresh prefix, the docs' example trainer built
// outside the tree against it, once with CMake and once with pkg-config; each binary uses the
// installed shared library and trains in a simulator job to the exact result.
TEST_F(SimulatorTest, AnOutOfTreeTrainerBuildsAgainstTheInstalledClientApi) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  // The trainer built outside the tree is not instrumented, and a program without the sanitizer's
  // runtime cannot load the sanitized client library.
  GTEST_SKIP() << "an uninstrumented program cannot use a sanitizer build's libnvflare_client";
#endif
  const fs::path prefix = work_.path() / "prefix";
  const fs::path example = fs::path(NVF_SOURCE_DIR) / "examples" / "trainer";
  const std::map<std::string, std::string> env{{"HOME", home_.path().string()}};
  const auto minutes = std::chrono::seconds(180);
  RunResult r = run_program({"cmake", "--install", NVF_BINARY_DIR, "--component", "client", "--prefix",
                             prefix.string()}, work_.path(), env, minutes);
  ASSERT_EQ(r.exit_code, 0) << r.out;

  // The installed headers include the standard library, nlohmann-json and each other only.
  std::regex quoted_include(R"re(#include\s*"([^"]+)")re");
  for (const auto& e : fs::directory_iterator(prefix / "include" / "nvflare")) {
    auto text = base::read_file(e.path());
    ASSERT_TRUE(text.ok());
    for (std::sregex_iterator it(text->begin(), text->end(), quoted_include), end; it != end; ++it) {
      EXPECT_TRUE((*it)[1].str().starts_with("nvflare/")) << e.path() << " includes " << (*it)[1];
    }
  }
  fs::path pc_dir;
  for (const auto& e : fs::recursive_directory_iterator(prefix)) {
    if (e.path().filename() == "nvflare-client.pc") pc_dir = e.path().parent_path();
  }
  ASSERT_FALSE(pc_dir.empty()) << "no nvflare-client.pc under " << prefix;

  r = run_program({"cmake", "-S", example.string(), "-B", (work_.path() / "b").string(),
                   "-DCMAKE_PREFIX_PATH=" + prefix.string()}, work_.path(), env, minutes);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_program({"cmake", "--build", (work_.path() / "b").string()}, work_.path(), env, minutes);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const fs::path by_cmake = work_.path() / "b" / "example_trainer";

  const fs::path by_pkg_config = work_.path() / "example_trainer_pc";
  r = run_program({"/bin/sh", "-c",
                   "c++ -std=c++20 \"$0\" $(pkg-config --cflags --libs nvflare-client) "
                   "-Wl,-rpath,$(pkg-config --variable=libdir nvflare-client) -o \"$1\"",
                   (example / "example_trainer.cc").string(), by_pkg_config.string()},
                  work_.path(), {{"HOME", home_.path().string()}, {"PKG_CONFIG_PATH", pc_dir.string()}}, minutes);
  ASSERT_EQ(r.exit_code, 0) << r.out;

  for (const fs::path& trainer : {by_cmake, by_pkg_config}) {
    SCOPED_TRACE(trainer.string());
    r = run_program({"readelf", "-d", trainer.string()}, work_.path(), env, std::chrono::seconds(30));
    EXPECT_NE(r.out.find("Shared library: [libnvflare_client.so.0]"), std::string::npos) << r.out;
    fs::remove_all(work_.path() / "ws");
    fs::path job = np_job("installed_" + trainer.filename().string(), trainer.string(), config::Value::object());
    r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    // [[1..9]] + 0.5 per round, 3 rounds.
    EXPECT_EQ(server_weights(), (std::vector<double>{2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5}));
  }
}

TEST_F(SimulatorTest, RefusesAWorkspaceItDidNotMake) {
  fs::path ws = work_.path() / "precious";
  fs::create_directories(ws);
  ASSERT_TRUE(base::atomic_write(ws / "thesis.tex", "keep me").ok());
  auto r = run({"simulator", fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", "-w", ws.string(), "-n", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("was not made by the simulator"), std::string::npos) << r.out;
  EXPECT_EQ(*base::read_file(ws / "thesis.tex"), "keep me");
}

TEST_F(SimulatorTest, ReusesItsOwnWorkspaceKeepingStartupAndLocal) {
  fs::path ws = work_.path() / "ws";
  fs::path job = fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy";
  ASSERT_EQ(run({"simulator", job, "-w", ws.string(), "-n", "2", "-t", "2"}).exit_code, 0);
  fs::create_directories(ws / "local");
  ASSERT_TRUE(base::atomic_write(ws / "local" / "keep.json", "{}").ok());
  auto r = run({"simulator", job, "-w", ws.string(), "-n", "2", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(ws / "local" / "keep.json"));
}

TEST_F(SimulatorTest, BadOptionsAreSetupErrors) {
  fs::path job = fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy";
  auto many = run({"simulator", job, "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "3"});
  EXPECT_EQ(many.exit_code, 1);
  EXPECT_NE(many.out.find("threads (3) cannot exceed the number of clients (2)"), std::string::npos) << many.out;
  auto missing = run({"simulator", (work_.path() / "nope").string(), "-n", "2"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
}

TEST_F(SimulatorTest, CtrlCStopsEveryTrainer) {
  fs::path fifo = work_.path() / "started.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::path job = np_job("slow", "sh -c 'echo $$ > " + fifo.string() + "; exec sleep 60'",
                        config::Value{{"external_pre_init_timeout", 120}});
  base::SpawnOptions o;
  o.argv = {NVFLARE_BIN, "simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"};
  o.env_set = {{"HOME", home_.path().string()}};
  o.capture_output = true;
  auto sim = base::spawn(o);
  ASSERT_TRUE(sim.ok());
  int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  struct pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the trainer did not start";
  char buf[32] = {};
  ASSERT_GT(::read(fd, buf, sizeof(buf) - 1), 0);
  ::close(fd);
  pid_t trainer = static_cast<pid_t>(std::atol(buf));
  ASSERT_GT(trainer, 0);
  ::kill(sim->pid(), SIGINT);
  auto exit = sim->wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.ok()) << "the simulator did not stop";
  EXPECT_EQ(exit->exit_code, 130);
  // The trainer is gone (reaped by the simulator, or at most a zombie of init for an instant).
  std::string stat = base::read_file("/proc/" + std::to_string(trainer) + "/stat").value_or("");
  EXPECT_TRUE(stat.empty() || stat.find(") Z") != std::string::npos) << stat;
}

TEST_F(SimulatorTest, FiltersThatChangeNothingKeepHelloNumpysExactWeights) {
  // Client: data filters run in the trainer after it pulls the params, result filters before it
  // sends them. Server: data filters before the params are published; a result filter makes the
  // server buffer each client's result, filter it, then aggregate it.
  const std::string exclude = "nvflare.app_common.filters.exclude_vars.ExcludeVars";
  fs::path job = filtered_numpy_job(
      "filtered",
      R"({"task_data_filters": [{"tasks": ["*"], "filters": [{"path": ")" + exclude +
          R"(", "args": {"exclude_vars": "^absent$"}}]}],
          "task_result_filters": [{"tasks": ["train"], "filters": [{"path": ")" + exclude +
          R"(", "args": {"exclude_vars": ["absent"]}}]}]})",
      R"({"task_data_filters": [{"tasks": ["train"], "filters": [{"path": ")" + exclude +
          R"(", "args": {"exclude_vars": ["absent"]}}]}],
          "task_result_filters": [{"tasks": ["*"], "filters": [{"path": ")" + exclude +
          R"(", "args": {"exclude_vars": "zzz"}}, {"path": "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy",
          "args": {"percentile": 10, "gamma": 0.01}}]}]})");
  fs::path ws = work_.path() / "ws";
  auto r = run({"simulator", job.string(), "-w", ws.string(), "-n", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 3/3: 2/2 clients"), std::string::npos) << r.out;
  EXPECT_EQ(server_weights(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  // The client job handed the chains to its trainer, which ran them (its output is in the site log).
  config::Value handed = load(ws / "site-1" / "simulate_job" / "client_filters.json");
  EXPECT_EQ(handed["task_result_filters"][0]["filters"][0]["args"]["exclude_vars"][0], "absent");
  auto site_log = base::read_file(ws / "site-1" / "log.txt").value_or("");
  EXPECT_NE(site_log.find("ExcludeVars: excluded 0 of 1 tensors from task_result_filters of task 'train'"),
            std::string::npos)
      << site_log;
  EXPECT_NE(site_log.find("ExcludeVars: excluded 0 of 1 tensors from task_data_filters of task 'train'"),
            std::string::npos);
  auto server_log = base::read_file(ws / "server" / "log.txt").value_or("");
  EXPECT_NE(server_log.find("ExcludeVars: excluded 0 of 1 tensors from task_data_filters of task 'train'"),
            std::string::npos)
      << server_log;
  EXPECT_NE(server_log.find("ExcludeVars: excluded 0 of 1 tensors from task_result_filters of task 'train'"),
            std::string::npos);
}

TEST_F(SimulatorTest, AClientResultFilterThatDropsEveryTensorFailsTheRoundClearly) {
  fs::path job = filtered_numpy_job(
      "excluded",
      R"({"task_result_filters": [{"tasks": ["train"], "filters": [{"path": "nvflare.app_common.filters.exclude_vars.ExcludeVars",
          "args": {"exclude_vars": ["numpy_key"]}}]}]})",
      "{}");
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2", "-t", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("below min_clients 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result from client 'site-1' has params_type FULL but no params"), std::string::npos) << r.out;
}

TEST_F(SimulatorTest, AnUnknownFilterPathIsASetupErrorNamingTheField) {
  fs::path job = filtered_numpy_job(
      "unknown", R"({"task_result_filters": [{"tasks": ["train"], "filters": [{"path": "ExcludeVars"},
                    {"path": "my_privacy.Secret", "args": {}}]}]})",
      "{}");
  auto r = run({"simulator", job.string(), "-w", (work_.path() / "ws").string(), "-n", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("unknown component path 'my_privacy.Secret' in task_result_filters[0].filters[1]; available: "),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace nvf::e2e
