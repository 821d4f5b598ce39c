// Filters: the built-in filters' math on small tensors (expected values worked out by hand), chain
// selection by task name and direction, and configuration errors.
#include "fl/filter.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nvf::fl {
namespace {

using config::Value;
using tensor::DType;
using tensor::Tensor;

Value parse(const char* json) { return Value::parse(json); }

void add_params(FLModel&) {}
template <typename... Rest>
void add_params(FLModel& m, const char* name, Tensor t, Rest&&... rest) {
  EXPECT_TRUE(m.params.insert(name, std::move(t)).ok());
  add_params(m, std::forward<Rest>(rest)...);
}
// model_of(type, "a", tensor_a, "b", tensor_b, ...)
template <typename... Rest>
FLModel model_of(ParamsType type, Rest&&... rest) {
  FLModel m;
  m.params_type = type;
  add_params(m, std::forward<Rest>(rest)...);
  return m;
}

Tensor vec(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_doubles(DType::kF64, {n}, v);
}

// Builds the filters of a config with the built-in registry.
FilterChains chains(const char* json, bool is_server) {
  auto c = build_filter_chains(parse(json), ComponentRegistry::builtin(), "config_fed_server.json", {}, is_server);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : FilterChains();
}

// Runs a single-filter result chain (client side, OUT) on `m`.
Status run_filter(const std::string& filter_json, FLModel& m) {
  std::string cfg = R"({"task_result_filters": [{"tasks": ["*"], "filters": [)" + filter_json + "]}]}";
  auto c = build_filter_chains(parse(cfg.c_str()), ComponentRegistry::builtin(), "f.json", {}, false);
  if (!c.ok()) return c.status();
  FilterContext ctx;
  ctx.task_name = "train";
  ctx.kind = FilterKind::kTaskResult;
  ctx.direction = FilterDirection::kOut;
  EXPECT_TRUE(c->has(FilterKind::kTaskResult, "train", FilterDirection::kOut));
  return c->apply(m, ctx);
}

TEST(ExcludeVarsTest, ListRemovesExactlyTheNamedTensors) {
  FLModel m = model_of(ParamsType::kFull, "a", vec({1, 2}), "b", vec({3}), "c", vec({4}));
  ASSERT_TRUE(run_filter(R"({"path": "nvflare.app_common.filters.exclude_vars.ExcludeVars",
                             "args": {"exclude_vars": ["b", "zzz"]}})", m).ok());
  EXPECT_EQ(m.params.names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(m.params.find("a")->to_doubles(), (std::vector<double>{1, 2}));
  EXPECT_EQ(m.params.find("c")->to_doubles(), (std::vector<double>{4}));
}

TEST(ExcludeVarsTest, RegexIsSearchedInEachName) {
  FLModel m = model_of(ParamsType::kDiff, "conv1.weight", vec({1}), "fc.bias", vec({2}), "fc.conv", vec({3}),
                       "fc.weight", vec({4}));
  ASSERT_TRUE(run_filter(R"({"path": "ExcludeVars", "args": {"exclude_vars": "^conv|bias"}})", m).ok());
  EXPECT_EQ(m.params.names(), (std::vector<std::string>{"fc.conv", "fc.weight"}));
}

TEST(ExcludeVarsTest, NoneMalformedOrOtherDataKindsPassThrough) {
  for (const char* args : {R"({})", R"({"exclude_vars": null})", R"({"exclude_vars": 3})", R"({"exclude_vars": [1]})"}) {
    FLModel m = model_of(ParamsType::kFull, "a", vec({1}));
    ASSERT_TRUE(run_filter(std::string(R"({"path": "ExcludeVars", "args": )") + args + "}", m).ok()) << args;
    EXPECT_EQ(m.params.size(), 1u) << args;
  }
  FLModel metrics_only = model_of(ParamsType::kNone, "a", vec({1}));
  ASSERT_TRUE(run_filter(R"({"path": "ExcludeVars", "args": {"exclude_vars": ["a"]}})", metrics_only).ok());
  EXPECT_EQ(metrics_only.params.size(), 1u);
  FLModel diff = model_of(ParamsType::kDiff, "a", vec({1}));
  ASSERT_TRUE(run_filter(R"({"path": "ExcludeVars", "args": {"exclude_vars": ["a"], "data_kinds": ["WEIGHTS"]}})",
                         diff).ok());
  EXPECT_EQ(diff.params.size(), 1u);
  auto bad = run_filter(R"({"path": "ExcludeVars", "args": {"exclude_vars": "("}})", diff);
  EXPECT_NE(bad.message().find("task_result_filters[0].filters[0].args.exclude_vars: '(' is not a valid regex"),
            std::string::npos)
      << bad.to_string();
}

TEST(PercentilePrivacyTest, ZeroesSmallDiffsClipsToGammaAndKeepsScalars) {
  // Δ/NUM_STEPS(2): w = [.001, -.002, .015, -.025, .003, 0], s = .05; |Δ| sorted over all 7
  // entries: [0, .001, .002, .003, .015, .025, .05]; the 50th percentile is the 4th = .003.
  // |Δ| < .003 → 0; clip to ±.01; ×2 → [0, 0, .02, -.02, .006, 0]; the scalar stays .1.
  FLModel m = model_of(ParamsType::kDiff,  //
                       "w", Tensor::from_doubles(DType::kF64, {2, 3}, {0.002, -0.004, 0.03, -0.05, 0.006, 0.0}),
                       "s", Tensor::from_doubles(DType::kF64, {}, {0.1}));
  m.meta[std::string(kMetaNumStepsCurrentRound)] = 2;
  ASSERT_TRUE(run_filter(R"({"path": "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy",
                             "args": {"percentile": 50, "gamma": 0.01}})", m).ok());
  const Tensor* w = m.params.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape(), (tensor::Shape{2, 3}));
  const std::vector<double> want{0, 0, 0.02, -0.02, 0.006, 0};
  auto got = w->to_doubles();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15) << i;
  EXPECT_NEAR(m.params.find("s")->to_doubles()[0], 0.1, 1e-15);
}

TEST(PercentilePrivacyTest, KeepsF32AndNeverWritesIntoItsInput) {
  Tensor source = Tensor::from_doubles(DType::kF32, {4}, {0.5, -0.25, 0.001, 0.0});
  FLModel m = model_of(ParamsType::kDiff, "w", source.share());
  // Defaults: percentile 10, gamma .01. |Δ| = [.5, .25, .001, 0]: cutoff = 0 + .3·(.001 − 0) = .0003.
  ASSERT_TRUE(run_filter(R"({"path": "PercentilePrivacy"})", m).ok());
  EXPECT_EQ(m.params.find("w")->dtype(), DType::kF32);
  auto got = m.params.find("w")->to_doubles();
  EXPECT_NEAR(got[0], 0.01, 1e-7);
  EXPECT_NEAR(got[1], -0.01, 1e-7);
  EXPECT_NEAR(got[2], 0.001, 1e-7);
  EXPECT_EQ(got[3], 0.0);
  EXPECT_NEAR(source.to_doubles()[0], 0.5, 1e-7);  // the viewed tensor is untouched
}

TEST(PercentilePrivacyTest, FullWeightsAndBadSettingsPassThrough) {
  FLModel full = model_of(ParamsType::kFull, "w", vec({0.5, 0.0}));
  ASSERT_TRUE(run_filter(R"({"path": "PercentilePrivacy"})", full).ok());
  EXPECT_EQ(full.params.find("w")->to_doubles(), (std::vector<double>{0.5, 0.0}));
  FLModel diff = model_of(ParamsType::kDiff, "w", vec({0.5, 0.0}));
  ASSERT_TRUE(run_filter(R"({"path": "PercentilePrivacy", "args": {"gamma": 0}})", diff).ok());
  EXPECT_EQ(diff.params.find("w")->to_doubles(), (std::vector<double>{0.5, 0.0}));
}

TEST(PercentileTest, MatchesNumpysLinearInterpolation) {
  std::vector<double> v{4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile_linear(v, 10), 1.3);  // np.percentile([1,2,3,4], 10)
  EXPECT_DOUBLE_EQ(percentile_linear(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile_linear(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile_linear(v, 100), 4);
  std::vector<double> none;
  EXPECT_EQ(percentile_linear(none, 50), 0);
}

TEST(SVTPrivacyTest, ReleasesAtMostAFractionClippedToGamma) {
  std::vector<double> ones(100, 1.0);
  FLModel m = model_of(ParamsType::kDiff, "b", Tensor::from_doubles(DType::kF32, {10, 10}, ones), "a", vec({1, 1}));
  m.meta[std::string(kMetaNumStepsCurrentRound)] = 4;
  ASSERT_TRUE(run_filter(R"({"path": "nvflare.app_common.filters.svt_privacy.SVTPrivacy",
                             "args": {"fraction": 0.1, "gamma": 0.001, "epsilon": 1.0, "noise_var": 1.0}})", m).ok());
  EXPECT_EQ(m.params.find("b")->shape(), (tensor::Shape{10, 10}));
  EXPECT_EQ(m.params.find("b")->dtype(), DType::kF32);
  size_t nonzero = 0;
  for (const char* name : {"a", "b"}) {
    for (double x : m.params.find(name)->to_doubles()) {
      if (x != 0) ++nonzero;
      EXPECT_LE(std::fabs(x), 0.001 * 4 + 1e-9);
    }
  }
  EXPECT_LE(nonzero, 11u);  // ceil(102 · 0.1) draws, with replacement
  EXPECT_GE(nonzero, 1u);
}

TEST(FilterChainsTest, SelectsByTaskNameThenWildcardAndByDirection) {
  const char* cfg = R"({
    "task_data_filters": [
      {"tasks": ["*"], "filters": [{"path": "ExcludeVars", "args": {"exclude_vars": ["b"]}}]},
      {"tasks": ["train"], "filters": [{"path": "ExcludeVars", "args": {"exclude_vars": ["a"]}},
                                       {"path": "ExcludeVars", "disabled": true}]}],
    "task_result_filters": [
      {"tasks": ["validate"], "direction": "OUT", "filters": [{"path": "PercentilePrivacy"}]}]})";
  FilterChains server = chains(cfg, true);
  EXPECT_EQ(server.select(FilterKind::kTaskData, "train", FilterDirection::kOut).size(), 1u);
  EXPECT_EQ(server.select(FilterKind::kTaskData, "validate", FilterDirection::kOut).size(), 1u);
  EXPECT_FALSE(server.has(FilterKind::kTaskData, "train", FilterDirection::kIn));
  EXPECT_FALSE(server.has(FilterKind::kTaskResult, "validate", FilterDirection::kIn));
  EXPECT_TRUE(server.has(FilterKind::kTaskResult, "validate", FilterDirection::kOut));
  EXPECT_FALSE(server.has(FilterKind::kTaskResult, "train", FilterDirection::kOut));

  FilterContext ctx{"train", "server", "", FilterKind::kTaskData, FilterDirection::kOut, nullptr};
  FLModel m = model_of(ParamsType::kFull, "a", vec({1}), "b", vec({2}));
  ASSERT_TRUE(server.apply(m, ctx).ok());
  EXPECT_EQ(m.params.names(), (std::vector<std::string>{"b"}));  // the "train" chain, not "*"
  ctx.task_name = "validate";
  FLModel m2 = model_of(ParamsType::kFull, "a", vec({1}), "b", vec({2}));
  ASSERT_TRUE(server.apply(m2, ctx).ok());
  EXPECT_EQ(m2.params.names(), (std::vector<std::string>{"a"}));

  // The same config on a client: data chains run IN, the result chain (explicitly OUT) still OUT.
  FilterChains client = chains(cfg, false);
  EXPECT_TRUE(client.has(FilterKind::kTaskData, "train", FilterDirection::kIn));
  EXPECT_FALSE(client.has(FilterKind::kTaskData, "train", FilterDirection::kOut));
  EXPECT_TRUE(client.has(FilterKind::kTaskResult, "validate", FilterDirection::kOut));
  FilterChains both = chains(R"({"task_result_filters": [{"tasks": ["t"], "direction": "inout",
                                  "filters": [{"path": "ExcludeVars"}]}]})", true);
  EXPECT_TRUE(both.has(FilterKind::kTaskResult, "t", FilterDirection::kIn));
  EXPECT_TRUE(both.has(FilterKind::kTaskResult, "t", FilterDirection::kOut));
  EXPECT_TRUE(chains(R"({"task_data_filters": [], "task_result_filters": []})", true).empty());
}

TEST(FilterChainsTest, ErrorsNameTheFileAndTheField) {
  // The filters, plus one component that is not a filter (as a server registry would hold).
  ComponentRegistry registry = ComponentRegistry::builtin();
  ASSERT_TRUE(registry
                  .add({"NotAFilter", {"my.NotAFilter"}, ComponentKind::kOther, {},
                        [](const BuildContext&) -> Result<std::unique_ptr<Component>> {
                          return std::unique_ptr<Component>(new NoOpComponent());
                        }})
                  .ok());
  auto build = [&registry](const char* json) {
    return build_filter_chains(parse(json), registry, "config_fed_client.json", {}, false).status();
  };
  Status unknown = build(R"({"task_result_filters": [{"tasks": ["train"], "filters": [
      {"path": "ExcludeVars"}, {"path": "my_filters.Secret", "args": {}}]}]})");
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("config_fed_client.json: unknown component path 'my_filters.Secret' in "
                                   "task_result_filters[0].filters[1]; available: "),
            std::string::npos)
      << unknown.to_string();
  EXPECT_NE(unknown.message().find("PercentilePrivacy"), std::string::npos);
  Status direction = build(R"({"task_data_filters": [{"tasks": ["t"], "direction": "up",
                               "filters": [{"path": "ExcludeVars"}]}]})");
  EXPECT_NE(direction.message().find("task_data_filters[0].direction: \"direction\" must be"), std::string::npos)
      << direction.to_string();
  Status not_filter = build(R"({"task_data_filters": [{"tasks": ["t"], "filters": [
      {"path": "my.NotAFilter"}]}]})");
  EXPECT_NE(not_filter.message().find("task_data_filters[0].filters[0]: the component is not a filter"),
            std::string::npos)
      << not_filter.to_string();
  Status empty = build(R"({"task_data_filters": [{"tasks": [], "filters": [{"path": "ExcludeVars"}]}]})");
  EXPECT_NE(empty.message().find("task_data_filters[0].tasks: \"tasks\" must be a non-empty list"), std::string::npos);
  Status bad_arg = build(R"({"task_data_filters": [{"tasks": ["t"], "filters": [
      {"path": "PercentilePrivacy", "args": {"percentile": 10, "gama": 1}}]}]})");
  EXPECT_NE(bad_arg.message().find("task_data_filters[0].filters[0].args.gama: unknown argument 'gama'"),
            std::string::npos)
      << bad_arg.to_string();
}

TEST(FilterChainsTest, FilterConfigOfKeepsOnlyNonEmptyChains) {
  Value cfg = parse(R"({"format_version": 2, "executors": [], "task_data_filters": [],
                        "task_result_filters": [{"tasks": ["*"], "filters": [{"path": "ExcludeVars"}]}]})");
  Value f = filter_config_of(cfg);
  EXPECT_FALSE(f.contains("task_data_filters"));
  EXPECT_FALSE(f.contains("executors"));
  EXPECT_EQ(f["task_result_filters"], cfg["task_result_filters"]);
}

}  // namespace
}  // namespace nvf::fl
