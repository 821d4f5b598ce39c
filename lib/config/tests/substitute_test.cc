#include "config/substitute.h"

#include <gtest/gtest.h>

namespace nvf::config {
namespace {

Value parse_json(const char* text) { return Value::parse(text); }

Result<Value> resolve(const char* json, const VarMap& system = {}, const EnvMap& env = {}) {
  return resolve_config(parse_json(json), system, env, "config_fed_client.json");
}

TEST(ConfigSubstitute, WholeStringRefKeepsTheType) {
  auto r = resolve(R"({
    "num_rounds": 5, "lr": 0.01, "flag": true, "model": {"path": "net.Net"}, "ids": [1, 2],
    "args": {"a": "{num_rounds}", "b": "{lr}", "c": " {flag} ", "d": "{model}", "e": "{ids}"}
  })");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Value& args = (*r)["args"];
  EXPECT_EQ(args["a"], 5);
  EXPECT_TRUE(args["a"].is_number_integer());
  EXPECT_DOUBLE_EQ(args["b"].get<double>(), 0.01);
  EXPECT_EQ(args["c"], true);
  EXPECT_EQ(args["d"], parse_json(R"({"path": "net.Net"})"));
  EXPECT_EQ(args["e"], parse_json("[1, 2]"));
}

TEST(ConfigSubstitute, EmbeddedRefsFormatLikePython) {
  auto r = resolve(R"({
    "app_script": "cifar10.py", "app_config": "", "n": 3, "lr": 1e-05, "ok": false,
    "script": "python3 -u custom/{app_script}  {app_config} ",
    "mixed": "n={n} lr={lr} ok={ok} {{literal}}",
    "list": ["x-{n}", "{n}"]
  })");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["script"], "python3 -u custom/cifar10.py   ");
  // The literal braces become "{literal}" after round 1; that name is unknown, so it stays.
  EXPECT_EQ((*r)["mixed"], "n=3 lr=1e-05 ok=False {literal}");
  EXPECT_EQ((*r)["list"], parse_json(R"(["x-3", 3])"));
}

TEST(ConfigSubstitute, UnknownNameLeavesTheStringUnchanged) {
  auto r = resolve(R"({"n": 1, "a": "{missing}", "b": "x {missing} {n}", "c": "{}", "d": "{n:03d}-{n}"})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["a"], "{missing}");
  EXPECT_EQ((*r)["b"], "x {missing} {n}");
  EXPECT_EQ((*r)["c"], "{}");
  EXPECT_EQ((*r)["d"], "{n:03d}-{n}");
}

TEST(ConfigSubstitute, EnvironmentIsReadWithDollarPrefix) {
  auto r = resolve(R"({"home": "{$HOME}", "p": "dir={$DATA_ROOT}/x", "plain": "{HOME}"})", {},
                   {{"HOME", "/users/u"}, {"DATA_ROOT", "/data"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["home"], "/users/u");
  EXPECT_EQ((*r)["p"], "dir=/data/x");
  EXPECT_EQ((*r)["plain"], "{HOME}");
}

TEST(ConfigSubstitute, SystemVarsBeatConfigKeysWhichBeatEnvironment) {
  auto r = resolve(R"({"SITE_NAME": "from-config", "$USER": "cfg-user",
                       "site": "{SITE_NAME}", "user": "{$USER}", "secure": "{SECURE_MODE}",
                       "root": "{WORKSPACE}/{JOB_ID}/{SITE_NAME}"})",
                   {{"SITE_NAME", "site-1"}, {"SECURE_MODE", true}, {"WORKSPACE", "/ws"},
                    {"JOB_ID", "j1"}},
                   {{"USER", "env-user"}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["site"], "site-1");
  EXPECT_EQ((*r)["user"], "cfg-user");
  EXPECT_EQ((*r)["secure"], true);
  EXPECT_EQ((*r)["root"], "/ws/j1/site-1");
}

TEST(ConfigSubstitute, ChainedRefsResolveOverRounds) {
  auto r = resolve(R"({"a": "{b}", "b": "{c}", "c": 7, "x": {"y": "{a}"}})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["x"]["y"], 7);
  EXPECT_EQ((*r)["a"], 7);
}

TEST(ConfigSubstitute, CyclicRefsFailAfterTwentyRoundsNamingTheField) {
  auto r = resolve(R"({"components": [{"id": "p", "args": {"num_rounds": "{a}"}}],
                       "a": "{b}", "b": "{a}"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "config_fed_client.json: components[0].args.num_rounds: item de-ref exceeds 20 rounds "
            "- cyclic refs or ref level too deep");
}

TEST(ConfigSubstitute, DefinitionInvocationWithLocalVars) {
  auto r = resolve(R"({
    "lr_default": 0.5,
    "@opt": {"path": "torch.optim.SGD", "args": {"lr": "{lr}", "momentum": "{m}", "tag": "{name}-x"}},
    "optimizer": "{@opt:lr={lr_default}:m=0.9:name=sgd}"
  })");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->contains("@opt"));
  const Value& opt = (*r)["optimizer"];
  EXPECT_EQ(opt["path"], "torch.optim.SGD");
  EXPECT_DOUBLE_EQ(opt["args"]["lr"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(opt["args"]["momentum"].get<double>(), 0.9);
  EXPECT_EQ(opt["args"]["tag"], "sgd-x");
}

TEST(ConfigSubstitute, DefinitionErrorsNameTheField) {
  auto missing = resolve(R"({"x": {"y": "{@nope:a=1}"}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "config_fed_client.json: x.y: bad parameterized expression '{@nope:a=1}': @nope is not "
            "defined");
  auto not_dict = resolve(R"({"@d": [1], "x": "{@d:a=1}"})");
  ASSERT_FALSE(not_dict.ok());
  EXPECT_NE(not_dict.status().message().find("@d must be dict but got list"), std::string::npos);
  auto cyclic = resolve(R"({"@d": {"v": "{@d:a=1}"}, "x": "{@d:a=1}"})");
  ASSERT_FALSE(cyclic.ok());
  EXPECT_NE(cyclic.status().message().find("cyclic definitions"), std::string::npos)
      << cyclic.status().message();
}

TEST(ConfigSubstitute, PythonStrMatchesPython) {
  EXPECT_EQ(python_str(Value(5)), "5");
  EXPECT_EQ(python_str(Value(1.0)), "1.0");
  EXPECT_EQ(python_str(Value(0.01)), "0.01");
  EXPECT_EQ(python_str(Value(1e-05)), "1e-05");
  EXPECT_EQ(python_str(Value(1e16)), "1e+16");
  EXPECT_EQ(python_str(Value(123456.5)), "123456.5");
  EXPECT_EQ(python_str(Value(true)), "True");
  EXPECT_EQ(python_str(Value(nullptr)), "None");
  EXPECT_EQ(python_str(Value::parse(R"({"a": [1, "x"], "b": null})")), "{'a': [1, 'x'], 'b': None}");
}

TEST(ConfigSubstitute, CurrentEnvironmentReadsTheProcessEnvironment) {
  setenv("NVF_CONFIG_TEST_VAR", "v=1", 1);
  EnvMap env = current_environment();
  EXPECT_EQ(env["NVF_CONFIG_TEST_VAR"], "v=1");
}

}  // namespace
}  // namespace nvf::config
