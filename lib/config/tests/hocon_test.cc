// HOCON, FLARE's subset: template-style files against the same configs written by hand as JSON,
// each construct of the subset, and the constructs outside it (errors naming file, line, column).
#include "config/hocon.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "base/files.h"

namespace nvf::config {
namespace {
namespace fs = std::filesystem;

const fs::path kData = fs::path(NVF_CONFIG_TEST_DATA) / "hocon";

TEST(HoconTest, FlareStyleConfigsEqualTheirJson) {
  for (const char* name : {"sag_np_server", "pt_client_api_client", "fedavg_in_process_server"}) {
    SCOPED_TRACE(name);
    auto conf = load_file(kData / (std::string(name) + ".conf"));
    ASSERT_TRUE(conf.ok()) << conf.status().to_string();
    auto json = load_file(kData / (std::string(name) + ".json"));
    ASSERT_TRUE(json.ok()) << json.status().to_string();
    EXPECT_EQ(*conf, *json) << conf->dump(2);
  }
}

TEST(HoconTest, EachConstructOfTheSubset) {
  auto v = parse_hocon(R"(
    # comment
    // another
    a = 1, b: 2.5
    c { d = x.y.Z }          # an object without '='
    c.e = [1, 2
           3]                # newlines separate elements too
    "quoted.key" = "v"       # one key, not a path
    f = """raw "text" \n"""
    g = -3
    h = null
    i = off
    s = "tab\tand \u00e9"
    c { extra = true }       # objects merge
    a = 10                   # a later value wins
    ref = ${c.e}
    opt = ${?nowhere}
    u = some words here
  )",
                       "t.conf");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ((*v)["a"], 10);
  EXPECT_EQ((*v)["b"], 2.5);
  EXPECT_EQ((*v)["c"]["d"], "x.y.Z");
  EXPECT_EQ((*v)["c"]["e"], Value::array({1, 2, 3}));
  EXPECT_EQ((*v)["c"]["extra"], true);
  EXPECT_EQ((*v)["quoted.key"], "v");
  EXPECT_EQ((*v)["f"], "raw \"text\" \\n");
  EXPECT_EQ((*v)["g"], -3);
  EXPECT_TRUE((*v)["h"].is_null());
  EXPECT_EQ((*v)["i"], false);
  EXPECT_EQ((*v)["s"], "tab\tand \xc3\xa9");
  EXPECT_EQ((*v)["ref"], Value::array({1, 2, 3}));
  EXPECT_FALSE(v->contains("opt"));  // a missing ${?x} drops its field
  EXPECT_EQ((*v)["u"], "some words here");
  // Key order follows the file (first appearance), as JSON configs keep theirs.
  EXPECT_EQ(v->begin().key(), "a");
  // A root in braces, and an empty file.
  EXPECT_EQ(*parse_hocon("{ x = [] }", "t.conf"), (Value{{"x", Value::array()}}));
  EXPECT_EQ(*parse_hocon("  \n# nothing\n", "t.conf"), Value::object());
}

TEST(HoconTest, ConstructsOutsideTheSubsetAreErrorsWithFileLineAndColumn) {
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"a = 1\ninclude \"other.conf\"\n", "t.conf:2:1:", "'include' is not supported"},
      {"a = [1]\na += 2\n", "t.conf:2:3:", "'+=' is not supported"},
      {"a = \"x\" \"y\"\n", "t.conf:1:5:", "value concatenation is not supported"},
      {"b = 1\na = ${b}/x\n", "t.conf:2:5:", "value concatenation"},
      {"a = ${nope}\n", "t.conf:1:5:", "${nope} names nothing in this file"},
      {"a = ${a}\n", "t.conf:1:5:", "refers to itself"},
      {"a {\n b = 1\n", "t.conf:3:1:", "not closed"},
      {"a = [1, 2\n", "t.conf:2:1:", "array is not closed"},
      {"a = \"open\n", "t.conf:1:5:", "not closed"},
      {"a\n", "t.conf:1:1:", "expected '=', ':' or '{' after the key 'a'"},
      {"a = \n", "t.conf:1:5:", "expected a value"},
      {"= 1\n", "t.conf:1:1:", "expected a key"},
      {"a = [1 \"x\"]\n", "t.conf:1:6:", "value concatenation"},
      {"a = [1\n 2 }\n", "t.conf:2:4:", "expected ',' or ']'"},
      {"{ a = 1 } b = 2\n", "t.conf:1:11:", "after the closing '}'"},
      {"a..b = 1\n", "t.conf:1:3:", "empty key segment"},
  };
  for (const auto& [text, where, what] : cases) {
    auto r = parse_hocon(text, "t.conf");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(where, 0), 0u) << text << " -> " << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << text << " -> " << r.status().message();
  }
  // Deep nesting is an error, not a stack overflow.
  std::string deep(100000, '[');
  auto r = parse_hocon("a = " + deep, "t.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos) << r.status().message();
}

TEST(HoconTest, FindConfigTakesAConfFile) {
  const fs::path dir = fs::temp_directory_path() / ("nvf_hocon_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ASSERT_TRUE(base::atomic_write(dir / "config_fed_client.conf", "format_version = 2\n").ok());
  auto found = find_config(dir, "config_fed_client");
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_EQ(found->filename(), "config_fed_client.conf");
  EXPECT_EQ((*load_file(*found))["format_version"], 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nvf::config
