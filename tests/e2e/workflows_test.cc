// The workflow library in `nvflare simulator`, each with exact numbers: `nvflare train --add`
// trainers make every result predictable (FedAvg with +1 per round gives FLARE's hello-numpy
// weights), and the logistic regression is checked against a centralized Newton fit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "base/files.h"
#include "config/value.h"
#include "e2e_util.h"
#include "tensor/npy.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

// hello-numpy copied to `dir` with the server's workflows (and extra components) replaced and the
// trainer command, the tasks it takes and its transfer type set.
fs::path numpy_job(const fs::path& dir, const std::string& workflows, const std::string& command,
                   const std::string& components = "[]", const std::string& tasks = R"(["*"])",
                   const std::string& transfer = "FULL") {
  fs::copy(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", dir, fs::copy_options::recursive);
  auto edit = [](const fs::path& p, const std::function<void(config::Value&)>& f) {
    auto v = config::load_file(p);
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    f(*v);
    ASSERT_TRUE(base::atomic_write(p, config::to_pretty_json(*v)).ok());
  };
  edit(dir / "app" / "config" / "config_fed_server.json", [&](config::Value& s) {
    s["workflows"] = config::Value::parse(workflows);
    for (const auto& c : config::Value::parse(components)) s["components"].push_back(c);
  });
  edit(dir / "app" / "config" / "config_fed_client.json", [&](config::Value& c) {
    c["trainer_command"] = command;
    c["executors"][0]["tasks"] = config::Value::parse(tasks);
    c["executors"][0]["executor"]["args"]["params_transfer_type"] = transfer;
  });
  return dir;
}

class WorkflowsTest : public E2eTest {
 protected:
  fs::path job(const std::string& name, const std::string& workflows, const std::string& command,
               const std::string& components = "[]", const std::string& tasks = R"(["*"])",
               const std::string& transfer = "FULL") {
    return numpy_job(work_.path() / name, workflows, command, components, tasks, transfer);
  }
  // Copies the job's app to `app` whose executor takes only `tasks`, and sets the deploy_map.
  void split_app(const fs::path& dir, const std::string& app, const std::string& tasks, const std::string& deploy_map) {
    fs::copy(dir / "app", dir / app, fs::copy_options::recursive);
    config::Value c = load(dir / app / "config" / "config_fed_client.json");
    c["executors"][0]["tasks"] = config::Value::parse(tasks);
    save(dir / app / "config" / "config_fed_client.json", c);
    config::Value meta = load(dir / "meta.json");
    meta["deploy_map"] = config::Value::parse(deploy_map);
    save(dir / "meta.json", meta);
  }
  RunResult simulate(const fs::path& dir, int clients) {
    return run({"simulator", dir.string(), "-w", ws().string(), "-n", std::to_string(clients), "-t", "2"});
  }
  fs::path ws() { return work_.path() / "ws"; }
  fs::path run_dir() { return ws() / "server" / "simulate_job"; }
  std::vector<double> npy(const std::string& file) {
    auto t = tensor::read_npy(run_dir() / "models" / file);
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return t.ok() ? t->to_doubles() : std::vector<double>{};
  }
  std::string site_log(const std::string& site) {
    auto text = base::read_file(ws() / site / "log.txt");
    return text.ok() ? *text : "";
  }
};

std::vector<double> plus(double d) {
  std::vector<double> v;
  for (int i = 1; i <= 9; ++i) v.push_back(i + d);
  return v;
}

TEST_F(WorkflowsTest, CyclicOverThreeSitesAndTwoRoundsAddsSix) {
  auto r = simulate(job("cyclic", R"([{"id": "cyclic", "path": "nvflare.app_common.workflows.cyclic_ctl.CyclicController",
                                       "args": {"num_rounds": 2, "persistor_id": "persistor"}}])",
                        "{NVFLARE_BIN} train --add 1"),
                    3);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 2/2: site-1 -> site-2 -> site-3"), std::string::npos) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(6));
}

TEST_F(WorkflowsTest, CyclicSkipsASiteThatCannotTrainAndNamesIt) {
  // site-2 has no executor for "train": it answers with an error and the model passes it by.
  fs::path dir = job("cyclic-skip", R"([{"id": "cyclic", "path": "CyclicController",
                                         "args": {"num_rounds": 1, "persistor_id": "persistor"}}])",
                     "{NVFLARE_BIN} train --add 1");
  split_app(dir, "app_eval", R"(["validate"])", R"({"app": ["server", "site-1", "site-3"], "app_eval": ["site-2"]})");
  auto r = simulate(dir, 3);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("round 1/1: site-1 -> site-3 (skipped site-2)"), std::string::npos) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(2));
}

TEST_F(WorkflowsTest, FedOptWithSgdLrOneAndNoMomentumEqualsFedAvg) {
  auto r = simulate(job("fedopt-sgd", R"([{"id": "fedopt", "path": "nvflare.app_opt.pt.fedopt_ctl.FedOpt",
      "args": {"num_clients": 2, "num_rounds": 3, "persistor_id": "persistor",
               "optimizer_args": {"path": "torch.optim.SGD", "args": {"lr": 1.0}}, "lr_scheduler_args": null}}])",
                        "{NVFLARE_BIN} train --add 1", "[]", R"(["*"])", "DIFF"),
                    2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(3));  // FLARE's hello-numpy result
}

TEST_F(WorkflowsTest, FedOptAdamAfterOneRoundEqualsTheHandComputation) {
  // Every diff is +1, so g = −1: m̂ = −1, v̂ = 1 and w −= 0.1·(−1)/(1 + 1e-8).
  auto r = simulate(job("fedopt-adam", R"([{"id": "fedopt", "path": "FedOpt",
      "args": {"num_clients": 2, "num_rounds": 1, "persistor_id": "persistor",
               "optimizer_args": {"path": "torch.optim.Adam", "args": {"lr": 0.1}}, "lr_scheduler_args": null}}])",
                        "{NVFLARE_BIN} train --add 1", "[]", R"(["*"])", "DIFF"),
                    2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto got = npy("server.npy");
  ASSERT_EQ(got.size(), 9u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], (i + 1) + 0.1 / (1 + 1e-8), 1e-6) << i;
}

TEST_F(WorkflowsTest, FedOptRefusesFullResultsNamingTheTransferType) {
  auto r = simulate(job("fedopt-full", R"([{"id": "fedopt", "path": "FedOpt",
      "args": {"num_clients": 2, "num_rounds": 1, "persistor_id": "persistor"}}])",
                        "{NVFLARE_BIN} train --add 1"),
                    2);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("FULL"), std::string::npos) << r.out;
}

TEST_F(WorkflowsTest, ScaffoldControlVariatesAfterEachRound) {
  // Round 1: c = 0, w = w_g + 1, Δc = (w_g − w)/1 − 0 = −1, so the server's c becomes −1.
  // Round 2: the correction c − c_local is 0, w = w_g + 1 again and Δc = −1 − (−1) = 0.
  auto r = simulate(job("scaffold", R"([{"id": "scaffold", "path": "nvflare.app_common.workflows.scaffold.Scaffold",
                                         "args": {"num_clients": 2, "num_rounds": 2, "persistor_id": "persistor"}}])",
                        "{NVFLARE_BIN} train --add 1 --algorithm scaffold"),
                    2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(2));
  for (const char* site : {"site-1", "site-2"}) {
    const std::string log = site_log(site);
    EXPECT_NE(log.find(std::string(site) + ": round 0: scaffold control-variate change mean -1"), std::string::npos) << log;
    EXPECT_NE(log.find(std::string(site) + ": round 1: scaffold control-variate change mean 0"), std::string::npos) << log;
  }
  // Trainers that do not run SCAFFOLD: the job ends saying what to run.
  fs::remove_all(ws());
  auto plain = simulate(job("scaffold-plain", R"([{"id": "scaffold", "path": "Scaffold",
                                                   "args": {"num_clients": 2, "num_rounds": 1}}])",
                            "{NVFLARE_BIN} train --add 1"),
                        2);
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("--algorithm scaffold"), std::string::npos) << plain.out;
}

TEST_F(WorkflowsTest, CrossSiteEvaluationHasEveryPairAndASiteThatCannotValidateAppearsWithItsError) {
  fs::path dir = job("cse", R"([{"id": "fedavg", "path": "FedAvg", "args": {"num_clients": 3, "num_rounds": 1}},
      {"id": "cse", "path": "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval",
       "args": {"model_locator_id": "locator", "validation_timeout": 60, "submit_model_timeout": 60}}])",
                     "{NVFLARE_BIN} train --add 1",
                     R"([{"id": "locator", "path": "nvflare.app_common.np.np_model_locator.NPModelLocator", "args": {}}])");
  split_app(dir, "app_novalidate", R"(["train", "submit_model"])",
            R"({"app": ["server", "site-1", "site-2"], "app_novalidate": ["site-3"]})");
  auto r = simulate(dir, 3);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  config::Value res = load(run_dir() / "cross_site_val" / "cross_val_results.json");
  ASSERT_EQ(res.size(), 3u) << res.dump();
  for (const char* site : {"site-1", "site-2"}) {
    ASSERT_EQ(res[site].size(), 4u) << res.dump();  // SRV_server and the three sites' models
    for (const char* owner : {"SRV_server", "site-1", "site-2", "site-3"}) {
      EXPECT_EQ(res[site][owner]["weight_mean"], 6.0) << site << " " << owner << " " << res.dump();
    }
  }
  for (const char* owner : {"SRV_server", "site-1", "site-2", "site-3"}) {
    ASSERT_TRUE(res["site-3"][owner].contains("error")) << res.dump();
  }
  EXPECT_TRUE(fs::exists(run_dir() / "cross_site_val" / "model_shareables" / "site-2.safetensors"));
  EXPECT_TRUE(fs::exists(run_dir() / "cross_site_val" / "result_shareables" / "site-1_SRV_server.json"));
}

TEST_F(WorkflowsTest, HelloNumpyCrossValInBothOfFlaresModes) {
  auto r = simulate(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-cross-val-pretrained", 2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  config::Value res = load(run_dir() / "cross_site_val" / "cross_val_results.json");
  EXPECT_EQ(res, config::Value::parse(R"({"site-1": {"SRV_server_model_1": {"weight_mean": 5.0},
                                                    "SRV_server_model_2": {"weight_mean": 6.0}},
                                         "site-2": {"SRV_server_model_1": {"weight_mean": 5.0},
                                                    "SRV_server_model_2": {"weight_mean": 6.0}}})"));
  fs::remove_all(ws());
  r = simulate(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-cross-val", 2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  res = load(run_dir() / "cross_site_val" / "cross_val_results.json");
  const config::Value one = config::Value::parse(R"({"weight_mean": 1.0})");
  EXPECT_EQ(res, (config::Value{{"site-1", {{"SRV_server", one}, {"site-1", one}, {"site-2", one}}},
                                {"site-2", {{"SRV_server", one}, {"site-1", one}, {"site-2", one}}}}));
}

TEST_F(WorkflowsTest, FedEvalWritesEachSitesMetrics) {
  auto r = simulate(job("eval", R"([{"id": "eval", "path": "EvalController", "args": {"persistor_id": "persistor"}}])",
                        "{NVFLARE_BIN} train --add 1", "[]", R"(["validate"])"),
                    2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(load(run_dir() / "eval_results.json"),
            config::Value::parse(R"({"site-1": {"weight_mean": 5.0}, "site-2": {"weight_mean": 5.0}})"));
}

// ---- logistic regression: the federated fit equals a centralized Newton fit on the union

struct Rows {
  std::vector<std::vector<double>> x;  // with the intercept column first
  std::vector<double> y;
};

Rows make_rows(int n, int d, double shift, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const std::vector<double> truth = {0.3, 1.0, -0.7, 0.4};
  Rows r;
  for (int i = 0; i < n; ++i) {
    std::vector<double> row = {1.0};
    double z = truth[0];
    for (int j = 0; j < d; ++j) {
      row.push_back(g(rng) + shift);
      z += truth[static_cast<size_t>(j) + 1] * row.back();
    }
    r.y.push_back(u(rng) < 1 / (1 + std::exp(-z)) ? 1 : 0);
    r.x.push_back(row);
  }
  return r;
}

// θ after `rounds` damped Newton steps θ += damping·(H + εI)⁻¹ g on all the rows.
std::vector<double> centralized_newton(const Rows& all, int rounds, double damping, double eps) {
  const size_t k = all.x[0].size();
  std::vector<double> theta(k, 0.0);
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> g(k, 0.0), h(k * k, 0.0);
    for (size_t i = 0; i < all.x.size(); ++i) {
      double z = 0;
      for (size_t j = 0; j < k; ++j) z += theta[j] * all.x[i][j];
      const double p = 1 / (1 + std::exp(-z));
      for (size_t a = 0; a < k; ++a) {
        g[a] += all.x[i][a] * (all.y[i] - p);
        for (size_t b = 0; b < k; ++b) h[a * k + b] += p * (1 - p) * all.x[i][a] * all.x[i][b];
      }
    }
    for (size_t a = 0; a < k; ++a) h[a * k + a] += eps;
    // Cholesky: H is symmetric positive definite.
    std::vector<double> l(k * k, 0.0);
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j <= i; ++j) {
        double s = h[i * k + j];
        for (size_t m = 0; m < j; ++m) s -= l[i * k + m] * l[j * k + m];
        l[i * k + j] = i == j ? std::sqrt(s) : s / l[j * k + j];
      }
    }
    std::vector<double> y(k), d(k);
    for (size_t i = 0; i < k; ++i) {
      double s = g[i];
      for (size_t m = 0; m < i; ++m) s -= l[i * k + m] * y[m];
      y[i] = s / l[i * k + i];
    }
    for (size_t i = k; i-- > 0;) {
      double s = y[i];
      for (size_t m = i + 1; m < k; ++m) s -= l[m * k + i] * d[m];
      d[i] = s / l[i * k + i];
    }
    for (size_t j = 0; j < k; ++j) theta[j] += damping * d[j];
  }
  return theta;
}

TEST_F(WorkflowsTest, NewtonLogisticRegressionMatchesTheCentralizedFitOnTheUnionOfTheData) {
  std::mt19937_64 rng(2024);
  Rows site1 = make_rows(120, 3, 0.5, rng), site2 = make_rows(70, 3, -0.4, rng);
  fs::path dir = job("lr", R"([{"id": "lr", "path": "nvflare.app_common.workflows.lr.fedavg.FedAvgLR",
      "args": {"num_clients": 2, "num_rounds": 5, "damping_factor": 0.8, "epsilon": 1.0, "n_features": 3}}])",
                     "{NVFLARE_BIN} train --model lr --data {APP_DIR}/custom/{SITE_NAME}.csv");
  fs::create_directories(dir / "app" / "custom");
  for (auto [name, rows] : {std::pair{"site-1", &site1}, std::pair{"site-2", &site2}}) {
    std::ofstream out(dir / "app" / "custom" / (std::string(name) + ".csv"));
    out.precision(17);
    out << "a,b,c,label\n";
    for (size_t i = 0; i < rows->x.size(); ++i) {
      out << rows->x[i][1] << "," << rows->x[i][2] << "," << rows->x[i][3] << "," << rows->y[i] << "\n";
    }
  }
  auto r = simulate(dir, 2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Rows all = site1;
  all.x.insert(all.x.end(), site2.x.begin(), site2.x.end());
  all.y.insert(all.y.end(), site2.y.begin(), site2.y.end());
  const std::vector<double> want = centralized_newton(all, 5, 0.8, 1.0);
  const std::vector<double> got = npy("weights.npy");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "θ[" << i << "]";
  EXPECT_GT(std::fabs(want[1]), 0.3);  // the fit moved: this is not a comparison of zeros
}

TEST_F(WorkflowsTest, HelloLrRunsAndItsAccuracyRises) {
  auto r = simulate(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-lr", 2);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<double> acc;
  std::regex re(R"((?:^|\n)round \d+/5: 2/2 clients, accuracy ([0-9.]+))");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), re), end; it != end; ++it) acc.push_back(std::stod((*it)[1]));
  ASSERT_EQ(acc.size(), 5u) << r.out;
  EXPECT_GT(acc.back(), acc.front() + 0.1) << r.out;  // the sites' accuracy of the model they received
  EXPECT_EQ(npy("weights.npy").size(), 14u);
}

// ---- recipes in the simulator, and what `job validate` refuses

TEST_F(WorkflowsTest, EveryRecipeOfTheLibraryIsListedShownAndItsExampleRunsInTheSimulator) {
  auto list = run({"recipe", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  for (const char* r : {"fedavg", "fedprox", "fedopt", "scaffold", "cyclic", "numpy_cross_site_eval", "fedeval",
                        "lr_fedavg"}) {
    EXPECT_NE(list.out.find(std::string(r) + " "), std::string::npos) << r << "\n" << list.out;
    auto show = run({"recipe", "show", r});
    EXPECT_EQ(show.exit_code, 0) << show.out;
    EXPECT_NE(show.out.find("min_clients (int)"), std::string::npos) << show.out;
  }
  // The numpy examples, with exact results.
  const fs::path recipes = fs::path(NVF_SOURCE_DIR) / "recipes";
  auto r = run({"recipe", "run", (recipes / "hello-numpy.toml").string(), "-w", ws().string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Job Status is: FINISHED:COMPLETED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result can be found in : " + run_dir().string()), std::string::npos) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(3));
  fs::remove_all(ws());
  r = run({"recipe", "run", (recipes / "hello-numpy-cross-val.toml").string(), "-w", ws().string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(load(run_dir() / "cross_site_val" / "cross_val_results.json")["site-2"]["SRV_server_model_2"]["weight_mean"],
            6.0);
  fs::remove_all(ws());
  r = run({"recipe", "run", (recipes / "hello-fedeval.toml").string(), "-w", ws().string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(load(run_dir() / "eval_results.json")["site-1"]["weight_mean"], 5.0);
  fs::remove_all(ws());
  r = run({"recipe", "run", (recipes / "hello-lr.toml").string(), "-w", ws().string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("weights.npy").size(), 14u);
  // Every example exports to a job folder that validates.
  for (const auto& e : fs::directory_iterator(recipes)) {
    auto x = run({"recipe", "export", e.path().string(), "-j", (work_.path() / "exported").string()});
    EXPECT_EQ(x.exit_code, 0) << e.path() << "\n" << x.out;
  }
  for (const auto& e : fs::directory_iterator(work_.path() / "exported")) {
    auto v = run({"job", "validate", "-j", e.path().string()});
    EXPECT_EQ(v.exit_code, 0) << e.path() << "\n" << v.out;
  }
}

TEST_F(WorkflowsTest, RecipesForEachAlgorithmRunWithExactNumbers) {
  auto recipe = [&](const std::string& name, const std::string& text) {
    fs::path f = work_.path() / (name + ".toml");
    EXPECT_TRUE(base::atomic_write(f, text).ok());
    fs::remove_all(ws());
    return run({"recipe", "run", f.string(), "-w", ws().string()});
  };
  const std::string np = "min_clients = 2\nframework = \"numpy\"\n";
  auto r = recipe("cyclic", "recipe = \"cyclic\"\nnum_rounds = 2\n" + np);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(4));
  r = recipe("fedopt", "recipe = \"fedopt\"\nnum_rounds = 2\n" + np);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(2));
  r = recipe("scaffold", "recipe = \"scaffold\"\nnum_rounds = 2\n" + np);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(2));
  r = recipe("cse", "recipe = \"fedavg\"\nnum_rounds = 1\ncross_site_eval = true\n" + np);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(load(run_dir() / "cross_site_val" / "cross_val_results.json")["site-1"]["site-2"]["weight_mean"], 6.0);
}

// The four training algorithms on the LibTorch trainer's non-IID synthetic data: the sites'
// accuracy of the global model rises (the numbers per round: scripts/bench/algorithms.sh).
TEST_F(WorkflowsTest, FedAvgFedProxFedOptAndScaffoldLearn) {
  NVF_SKIP_WITHOUT_LIBTORCH();
  for (const char* file : {"hello-pt.toml", "hello-fedprox.toml", "hello-fedopt.toml", "hello-scaffold.toml"}) {
    fs::remove_all(ws());
    auto r = run({"recipe", "run", (fs::path(NVF_SOURCE_DIR) / "recipes" / file).string(), "-w", ws().string()});
    ASSERT_EQ(r.exit_code, 0) << file << "\n" << r.out;
    std::vector<double> acc;
    std::regex re(R"((?:^|\n)round \d+/\d+: \d+/\d+ clients, accuracy ([0-9.]+))");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), re), end; it != end; ++it) acc.push_back(std::stod((*it)[1]));
    ASSERT_GE(acc.size(), 2u) << file << "\n" << r.out;
    EXPECT_GT(acc.back(), acc.front() + 0.1) << file << "\n" << r.out;
  }
}

TEST_F(WorkflowsTest, BadRecipesAreRefusedNamingTheKeyAndNothingRuns) {
  auto bad = [&](const std::string& text, const std::string& expected) {
    fs::path f = work_.path() / "bad.toml";
    ASSERT_TRUE(base::atomic_write(f, text).ok());
    auto r = run({"recipe", "run", f.string(), "-w", ws().string()});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << text << "\n" << r.out;
    EXPECT_FALSE(fs::exists(ws())) << text;
  };
  bad("recipe = \"fedavg\"\nmin_clients = \"two\"\n", "bad.toml: min_clients: must be an int but is a str");
  bad("recipe = \"fedavg\"\nmin_clients = 2\nnum_round = 3\n", "num_round: not a parameter of recipe 'fedavg'");
  bad("recipe = \"fedavg\"\nnum_rounds = 3\n", "min_clients: required by recipe 'fedavg'");
  bad("recipe = \"fedavg\"\nmin_clients = 2\nnum_rounds = -5\n", "num_rounds: must be between 1 and");
  bad("recipe = \"cyclic\"\nmin_clients = 1\n", "min_clients: must be between 2 and");
  bad("recipe = \"fedavgx\"\n", "there is no recipe 'fedavgx'");
  bad("min_clients = 2\n", "recipe: missing");
  bad("recipe = \"fedavg\"\nmin_clients = 2\nparams_transfer_type = \"HALF\"\n", "must be FULL or DIFF");
  bad("recipe = \"fedopt\"\nmin_clients = 2\n[optimizer_args]\npath = \"torch.optim.RMSprop\"\n",
      "unknown optimizer 'rmsprop'");
  bad("recipe = \"fedavg\"\nmin_clients = 2\nname = \"../escape\"\n", "name: '../escape' must be a plain folder name");
  bad("recipe = \"fedavg\"\nmin_clients = 1\n[per_site_config.\"x/../../y\"]\ntrain_args = \"\"\n",
      "per_site_config.x/../../y: is not a site name");
  bad("recipe = \"fedavg\"\nmin_clients = 3\n[per_site_config.a]\ntrain_args = \"\"\n",
      "per_site_config: names 1 site(s) but min_clients is 3");
  bad("recipe = \"fedavg\"\nmin_clients = 2\nframework = \"pytorch\"\nmodel = [1, 2]\n", "model: with framework");
  bad("recipe = \"cyclic\"\nmin_clients = 2\ntask_assignment_timeout = inf\n",
      "task_assignment_timeout: must be a number between 0 and 10000000");
  bad("recipe = \"lr_fedavg\"\nmin_clients = 2\nnum_features = 100000\n", "num_features: must be between 1 and 4096");
  bad("recipe = \"numpy_cross_site_eval\"\nmodel_dir = \"m\"\nmodel_name = { a = \"../x.npy\" }\n",
      "model_name.a: must be a file name in model_dir");
  bad("recipe = \"fedopt\"\nmin_clients = 2\n[lr_scheduler_args]\npath = \"StepLR\"\nargs = { stepsize = 2 }\n",
      "lr_scheduler_args.args.stepsize: not an argument of steplr");
  // A failed export leaves nothing behind, and an earlier export stays.
  fs::path out = work_.path() / "out";
  ASSERT_TRUE(base::atomic_write(work_.path() / "ok.toml", "recipe = \"fedavg\"\nname = \"j\"\nmin_clients = 2\n").ok());
  ASSERT_EQ(run({"recipe", "export", (work_.path() / "ok.toml").string(), "-j", out.string()}).exit_code, 0);
  ASSERT_TRUE(base::atomic_write(work_.path() / "missing.toml",
                                 "recipe = \"numpy_cross_site_eval\"\nname = \"j\"\nmodel_dir = \"nowhere\"\n").ok());
  auto missing = run({"recipe", "export", (work_.path() / "missing.toml").string(), "-j", out.string()});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(out)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"j"});
  EXPECT_TRUE(fs::exists(out / "j" / "app" / "config" / "config_fed_server.json"));
  auto env = run({"recipe", "run", (fs::path(NVF_SOURCE_DIR) / "recipes" / "hello-numpy.toml").string(), "--env", "cloud"});
  EXPECT_EQ(env.exit_code, 2) << env.out;
  EXPECT_NE(env.out.find("--env 'cloud': use sim, poc or prod"), std::string::npos) << env.out;
}

TEST_F(WorkflowsTest, PerSiteConfigNamesTheSitesAndKeepsTheAlgorithmsFlags) {
  // Sites of their own names, one with its own trainer arguments: SCAFFOLD's flag stays on both.
  ASSERT_TRUE(base::atomic_write(work_.path() / "sites.toml",
                                 "recipe = \"scaffold\"\nname = \"sites\"\nmin_clients = 2\nnum_rounds = 2\n"
                                 "framework = \"numpy\"\n[per_site_config.hospital-a]\ntrain_args = \"\"\n"
                                 "[per_site_config.hospital-b]\ntrain_script = \"{NVFLARE_BIN} train --add 1\"\n")
                  .ok());
  auto r = run({"recipe", "run", (work_.path() / "sites.toml").string(), "-w", ws().string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("hospital-a"), std::string::npos) << r.out;
  EXPECT_EQ(npy("server.npy"), plus(2));
  ASSERT_EQ(run({"recipe", "export", (work_.path() / "sites.toml").string(), "-j", (work_.path() / "x").string()}).exit_code,
            0);
  for (const char* site : {"hospital-a", "hospital-b"}) {
    config::Value c = load(work_.path() / "x" / "sites" / (std::string("app_") + site) / "config" / "config_fed_client.json");
    EXPECT_NE(c["components"][0]["args"]["script"].get<std::string>().find("--algorithm scaffold"), std::string::npos)
        << c.dump();
  }
}

TEST_F(WorkflowsTest, JobValidateBuildsEveryComponentSoAValidJobStarts) {
  auto with_rounds = [&](const std::string& name, const std::string& rounds) {
    fs::path dir = work_.path() / name;
    fs::copy(fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy", dir, fs::copy_options::recursive);
    auto text = base::read_file(dir / "app" / "config" / "config_fed_server.json");
    std::string t = *text;
    replace_all(t, "\"num_rounds\": 3", "\"num_rounds\": " + rounds);
    EXPECT_TRUE(base::atomic_write(dir / "app" / "config" / "config_fed_server.json", t).ok());
    return run({"job", "validate", "-j", dir.string()});
  };
  auto abc = with_rounds("abc", "\"abc\"");
  EXPECT_EQ(abc.exit_code, 1) << abc.out;
  EXPECT_NE(abc.out.find("app/config/config_fed_server.json: workflows[0].args.num_rounds: must be an int but got str"),
            std::string::npos)
      << abc.out;
  auto negative = with_rounds("negative", "-5");
  EXPECT_EQ(negative.exit_code, 1) << negative.out;
  EXPECT_NE(negative.out.find("workflows[0].args.num_rounds: must be"), std::string::npos) << negative.out;
  // A reference to a component that does not exist, and a task no executor takes.
  fs::path dangling = job("dangling", R"([{"id": "fedavg", "path": "FedAvg", "args": {"persistor_id": "nope"}}])",
                          "{NVFLARE_BIN} train --add 1");
  auto d = run({"job", "validate", "-j", dangling.string()});
  EXPECT_EQ(d.exit_code, 1) << d.out;
  EXPECT_NE(d.out.find("persistor_id"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("nope"), std::string::npos) << d.out;
  fs::path untaken = job("untaken", R"([{"id": "eval", "path": "EvalController", "args": {}}])",
                         "{NVFLARE_BIN} train --add 1", "[]", R"(["train"])");
  auto u = run({"job", "validate", "-j", untaken.string()});
  EXPECT_EQ(u.exit_code, 1) << u.out;
  EXPECT_NE(u.out.find("workflow 'eval' sends task 'validate' but no client app has an executor for it"),
            std::string::npos)
      << u.out;
  // job submit runs the same check: nothing is sent (no kit is even looked for).
  auto sub = run({"job", "submit", "-j", (work_.path() / "abc").string()});
  EXPECT_EQ(sub.exit_code, 1) << sub.out;
  EXPECT_NE(sub.out.find("the job was not submitted"), std::string::npos) << sub.out;
}

// ---- the same workflows and the recipes on a POC system: real daemons over mTLS

class WorkflowsPocTest : public PocE2eTest {
 protected:
  void SetUp() override {
    // A project that names no host (FLARE's POC sets the server's default_host to localhost).
    prepare_poc(3, "", /*without_localhost=*/true);
    auto start = nv({"poc", "start", "-ex", "admin@nvidia.com"});
    ASSERT_EQ(start.exit_code, 0) << start.out;
  }
  std::vector<double> npy(const fs::path& file) {
    auto t = tensor::read_npy(file);
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return t.ok() ? t->to_doubles() : std::vector<double>{};
  }
};

// Each recipe of the library with --env poc, and the same file in the simulator: numpy trainers
// give exact numbers; FedProx trains a LibTorch model.
TEST_F(WorkflowsPocTest, EveryRecipeRunsUnchangedOnThePocSystemAndInTheSimulator) {
  auto poc_run = [&](const std::string& name, const std::string& text) -> fs::path {
    const fs::path file = work_.path() / (name + ".toml");
    EXPECT_TRUE(base::atomic_write(file, text).ok());
    auto r = run_env({"recipe", "run", file.string(), "--env", "poc", "--timeout", "180", "--result_dir",
                      (work_.path() / "results").string()},
                     ws(), std::chrono::seconds(240));
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out;
    EXPECT_NE(r.out.find("Job Status is: FINISHED:COMPLETED"), std::string::npos) << name << "\n" << r.out;
    auto at = r.out.find("Result can be found in : ");
    if (at == std::string::npos) return {};
    return fs::path(r.out.substr(at + 25, r.out.find('\n', at) - at - 25)) / "workspace";
  };
  const std::string np = "min_clients = 3\nframework = \"numpy\"\n";
  EXPECT_EQ(npy(poc_run("fedavg", "recipe = \"fedavg\"\nnum_rounds = 3\n" + np) / "models" / "server.npy"), plus(3));
  EXPECT_EQ(npy(poc_run("cyclic", "recipe = \"cyclic\"\nnum_rounds = 2\n" + np) / "models" / "server.npy"), plus(6));
  EXPECT_EQ(npy(poc_run("fedopt", "recipe = \"fedopt\"\nnum_rounds = 2\n" + np) / "models" / "server.npy"), plus(2));
  EXPECT_EQ(npy(poc_run("scaffold", "recipe = \"scaffold\"\nnum_rounds = 2\n" + np) / "models" / "server.npy"),
            plus(2));
  fs::path out = poc_run("cse", "recipe = \"fedavg\"\nnum_rounds = 1\ncross_site_eval = true\n" + np);
  auto res = config::load_file(out / "cross_site_val" / "cross_val_results.json");
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  for (const char* site : {"site-1", "site-2", "site-3"}) {
    for (const char* owner : {"SRV_server", "site-1", "site-2", "site-3"}) {
      EXPECT_EQ((*res)[site][owner]["weight_mean"], 6.0) << res->dump();
    }
  }
  const std::string models = (fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy-cross-val-pretrained" / "app" /
                              "custom" / "pretrained").string();
  out = poc_run("pretrained", "recipe = \"numpy_cross_site_eval\"\nmin_clients = 3\nmodel_dir = \"" + models +
                                  "\"\nmodel_name = { m1 = \"server_1.npy\" }\n");
  res = config::load_file(out / "cross_site_val" / "cross_val_results.json");
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  EXPECT_EQ((*res)["site-3"]["SRV_m1"]["weight_mean"], 5.0) << res->dump();
  out = poc_run("fedeval", "recipe = \"fedeval\"\n" + np + "eval_ckpt = \"" + models +
                               "/server_2.npy\"\neval_script = \"{NVFLARE_BIN} train --add 0\"\n");
  auto eval = config::load_file(out / "eval_results.json");
  ASSERT_TRUE(eval.ok()) << eval.status().to_string();
  EXPECT_EQ(*eval, config::Value::parse(R"({"site-1": {"weight_mean": 6.0}, "site-2": {"weight_mean": 6.0},
                                            "site-3": {"weight_mean": 6.0}})"));
  EXPECT_EQ(npy(poc_run("lr", "recipe = \"lr_fedavg\"\nmin_clients = 3\nnum_rounds = 3\n") / "models" / "weights.npy").size(),
            14u);
  if (kWithLibTorch) {  // FedProx trains with the LibTorch trainer
    out = poc_run("fedprox", "recipe = \"fedprox\"\nmin_clients = 3\nnum_rounds = 1\ntrain_args = \"--epochs 1 --max-samples 200\"\n");
    EXPECT_TRUE(fs::exists(out / "app_server" / "FL_global_model.pt")) << out;
  }
  // The same file in the simulator.
  auto sim = run_env({"recipe", "run", (work_.path() / "fedavg.toml").string(), "-w", (work_.path() / "sim").string()},
                     ws());
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  EXPECT_EQ(npy(work_.path() / "sim" / "server" / "simulate_job" / "models" / "server.npy"), plus(3));
}

}  // namespace
}  // namespace nvf::e2e
