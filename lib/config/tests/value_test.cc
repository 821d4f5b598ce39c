#include "base/files.h"
#include "config/value.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace nvf::config {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "nvf_config_test_XXXXXX").string();
    char* made = mkdtemp(templ.data());
    NVF_CHECK(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

constexpr const char* kJson = R"({
  "format_version": 2,
  "num_rounds": 5,
  "lr": 0.01,
  "secure": true,
  "nothing": null,
  "name": "fedavg",
  "components": [
    {"id": "persistor", "args": {"n": 3}},
    {"id": "aggregator", "args": {}}
  ]
})";

constexpr const char* kYaml = R"(format_version: 2
num_rounds: 5
lr: 0.01
secure: true
nothing: null
name: fedavg
components:
  - id: persistor
    args:
      n: 3
  - id: aggregator
    args: {}
)";

constexpr const char* kToml = R"(format_version = 2
num_rounds = 5
lr = 0.01
secure = true
name = "fedavg"

[[components]]
id = "persistor"
args = { n = 3 }

[[components]]
id = "aggregator"
args = {}
)";

TEST(ConfigValue, JsonYamlTomlLoadTheSameTree) {
  auto json = parse(kJson, Format::kJson, "a.json");
  auto yaml = parse(kYaml, Format::kYaml, "a.yml");
  auto toml = parse(kToml, Format::kToml, "a.toml");
  ASSERT_TRUE(json.ok()) << json.status().to_string();
  ASSERT_TRUE(yaml.ok()) << yaml.status().to_string();
  ASSERT_TRUE(toml.ok()) << toml.status().to_string();
  EXPECT_EQ(*json, *yaml);
  // TOML has no null: everything else is the same.
  Value json_no_null = *json;
  json_no_null.erase("nothing");
  EXPECT_EQ(json_no_null, *toml);
  EXPECT_TRUE((*yaml)["num_rounds"].is_number_integer());
  EXPECT_TRUE((*yaml)["lr"].is_number_float());
  EXPECT_TRUE((*yaml)["secure"].is_boolean());
  EXPECT_TRUE((*yaml)["nothing"].is_null());
  EXPECT_EQ((*yaml)["components"][0]["args"]["n"], 3);
}

TEST(ConfigValue, KeysKeepFileOrderInEveryFormat) {
  auto yaml = parse("zeta: 1\nalpha: 2\nmid: 3\n", Format::kYaml, "o.yml");
  auto toml = parse("zeta = 1\nalpha = 2\nmid = 3\n", Format::kToml, "o.toml");
  auto json = parse(R"({"zeta": 1, "alpha": 2, "mid": 3})", Format::kJson, "o.json");
  ASSERT_TRUE(yaml.ok() && toml.ok() && json.ok());
  EXPECT_EQ(yaml->dump(), R"({"zeta":1,"alpha":2,"mid":3})");
  EXPECT_EQ(toml->dump(), R"({"zeta":1,"alpha":2,"mid":3})");
  EXPECT_EQ(json->dump(), R"({"zeta":1,"alpha":2,"mid":3})");
}

TEST(ConfigValue, YamlQuotedScalarsStayStrings) {
  auto yaml = parse("a: \"5\"\nb: '1.5'\nc: 'true'\nd: 1e3\ne: -7\nf: hello world\ng: ~\n",
                    Format::kYaml, "q.yml");
  ASSERT_TRUE(yaml.ok()) << yaml.status().to_string();
  EXPECT_EQ((*yaml)["a"], "5");
  EXPECT_EQ((*yaml)["b"], "1.5");
  EXPECT_EQ((*yaml)["c"], "true");
  EXPECT_DOUBLE_EQ((*yaml)["d"].get<double>(), 1000.0);
  EXPECT_EQ((*yaml)["e"], -7);
  EXPECT_EQ((*yaml)["f"], "hello world");
  EXPECT_TRUE((*yaml)["g"].is_null());
}

TEST(ConfigValue, TomlDatesBecomeStrings) {
  auto toml = parse("d = 2024-05-01\n", Format::kToml, "d.toml");
  ASSERT_TRUE(toml.ok()) << toml.status().to_string();
  EXPECT_EQ((*toml)["d"], "2024-05-01");
}

TEST(ConfigValue, JsonErrorCarriesFileLineColumn) {
  auto r = parse("{\n  \"a\": 1,\n  \"b\": ,\n}", Format::kJson, "config_fed_client.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("config_fed_client.json:3:8: ", 0), 0u)
      << r.status().message();
  EXPECT_NE(r.status().message().find("syntax error"), std::string::npos);
}

TEST(ConfigValue, YamlErrorCarriesFileLineColumn) {
  auto r = parse("a: 1\nb: [1, 2\nc: 3\n", Format::kYaml, "project.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("project.yml:", 0), 0u) << r.status().message();
  // "project.yml:L:C: msg" with numeric L and C.
  const std::string m = r.status().message();
  size_t first = m.find(':');
  size_t second = m.find(':', first + 1);
  size_t third = m.find(':', second + 1);
  ASSERT_NE(third, std::string::npos) << m;
  EXPECT_GE(std::stoi(m.substr(first + 1, second - first - 1)), 2) << m;
  EXPECT_GE(std::stoi(m.substr(second + 1, third - second - 1)), 1) << m;
}

TEST(ConfigValue, TomlErrorCarriesFileLineColumn) {
  auto r = parse("a = 1\nb = = 2\n", Format::kToml, "info.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("info.toml:2:", 0), 0u) << r.status().message();
}

TEST(ConfigValue, FormatForPathKnowsExtensionsAndDefault) {
  EXPECT_EQ(*format_for_path("x/config_fed_client.json"), Format::kJson);
  EXPECT_EQ(*format_for_path("project.yml"), Format::kYaml);
  EXPECT_EQ(*format_for_path("project.yaml"), Format::kYaml);
  EXPECT_EQ(*format_for_path("info.toml"), Format::kToml);
  EXPECT_EQ(*format_for_path("fed_server.json.default"), Format::kJson);
  EXPECT_EQ(*format_for_path("config_fed_client.conf"), Format::kHocon);
  EXPECT_FALSE(format_for_path("notes.txt").ok());
}

TEST(ConfigValue, LoadFileReadsByExtensionAndNamesTheFile) {
  TempDir dir;
  auto good = load_file(dir.write("c.yaml", kYaml));
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ((*good)["name"], "fedavg");
  auto bad = load_file(dir.write("bad.json", "{\"a\": }"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.json:1:7: "), std::string::npos)
      << bad.status().message();
  auto missing = load_file(dir.path() / "missing.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(ConfigValue, FindConfigTriesFlareOrder) {
  TempDir dir;
  dir.write("config_fed_server.yaml", kYaml);
  dir.write("config_fed_server.json.default", kJson);
  auto found = find_config(dir.path(), "config_fed_server");
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_EQ(found->filename(), "config_fed_server.yaml");
  dir.write("config_fed_server.json", kJson);
  EXPECT_EQ(find_config(dir.path(), "config_fed_server")->filename(), "config_fed_server.json");
  dir.write("meta.json.default", "{}");
  EXPECT_EQ(find_config(dir.path(), "meta")->filename(), "meta.json.default");
}

TEST(ConfigValue, FindConfigTakesHoconAndListsNamesWhenMissing) {
  TempDir dir;
  dir.write("config_fed_client.conf", "a = 1");
  auto conf = find_config(dir.path(), "config_fed_client");
  ASSERT_TRUE(conf.ok()) << conf.status().to_string();
  EXPECT_EQ(conf->filename(), "config_fed_client.conf");
  dir.write("config_fed_client.json", "{}");  // FLARE's order: JSON first
  EXPECT_EQ(find_config(dir.path(), "config_fed_client")->filename(), "config_fed_client.json");
  auto missing = find_config(dir.path(), "meta");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("meta.json, meta.conf, meta.yml, meta.yaml, meta.toml"),
            std::string::npos)
      << missing.status().message();
}

TEST(ConfigValue, PrettyJsonUsesFourSpacesAndTrailingNewline) {
  Value v = Value::object();
  v["b"] = 1;
  v["a"] = Value::array({1, 2});
  EXPECT_EQ(to_pretty_json(v), "{\n    \"b\": 1,\n    \"a\": [\n        1,\n        2\n    ]\n}\n");
}

TEST(ConfigValue, FieldPathFormatsKeysAndIndexes) {
  FieldPath root;
  EXPECT_EQ(root.str(), "<root>");
  EXPECT_EQ(root.child("components").index(2).child("args").child("num_rounds").str(),
            "components[2].args.num_rounds");
}

}  // namespace
}  // namespace nvf::config

namespace nvf::config {
namespace {

// Found by fuzz_project_recipe: a project.yml scalar with a stray 0xEB byte made `nvflare
// provision` terminate (JSON output of the value threw). Every format now refuses invalid UTF-8
// with a message naming the file and the byte.
TEST(ValueUtf8Test, InvalidUtf8IsRefusedInEveryFormatNamingTheByte) {
  const std::string yml = std::string("api_version:\n 3\xeboame: example_project\n");
  for (Format f : {Format::kYaml, Format::kToml, Format::kJson}) {
    auto v = parse(yml, f, "project.yml");
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("project.yml: is not valid UTF-8 (at byte offset 15)"), std::string::npos)
        << v.status().message();
  }
  EXPECT_TRUE(parse("name: \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n", Format::kYaml, "ok.yml").ok());
  EXPECT_FALSE(parse("a: \"\xc0\xaf\"\n", Format::kYaml, "overlong.yml").ok());   // overlong '/'
  EXPECT_FALSE(parse("a: \"\xed\xa0\x80\"\n", Format::kYaml, "surrogate.yml").ok());
  EXPECT_FALSE(parse("a: \"\xe2\x82\"\n", Format::kYaml, "truncated.yml").ok());
  // Found next: an ASCII file from which yaml-cpp still made a string that is not UTF-8.
  auto bytes = base::read_file(std::string(NVF_SOURCE_DIR) + "/fuzz/corpus/fuzz_project_recipe/regression-yaml-escape");
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto v = parse(std::string_view(*bytes).substr(1), Format::kYaml, "project.yml");
  if (v.ok()) (void)v->dump();  // must not throw
  EXPECT_FALSE(v.ok());
}

}  // namespace
}  // namespace nvf::config

#include "config/substitute.h"

namespace nvf::config {
namespace {

// Found by fuzz_config (a 10 s timeout): a list variable used twice inside its own string doubled
// the config every round; it now stops at 1 MiB with a message naming the field.
TEST(SubstituteGrowthTest, AVariableThatRefersToItselfStopsWithAClearError) {
  auto v = parse(R"({"ap": "8002{SITE_NAME}", "a": ["{a}{a}", 0, true]})", Format::kJson, "config_fed_client.json");
  ASSERT_TRUE(v.ok());
  auto r = resolve_config(*v, VarMap{{"SITE_NAME", "site-1"}}, EnvMap{}, "config_fed_client.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("config_fed_client.json: a[0]: grows past 1 MiB"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace nvf::config

