#include "job/templates.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace nvf::job {
namespace {

using testing::source_templates_root;
using testing::TempDir;
using testing::write_text;

TEST(TemplatesTest, ListsShippedTemplatesSorted) {
  auto all = list_templates(source_templates_root());
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  std::vector<std::string> names;
  for (const auto& t : *all) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"cyclic_np", "cyclic_pt", "fedavg_np", "fedavg_pt", "fedopt_pt",
                                             "sag_cross_np", "sag_cse_pt", "scaffold_pt"}));
  ASSERT_GE(all->size(), 4u);
  const auto& pt = (*all)[3];
  EXPECT_EQ(pt.controller_type, "server");
  EXPECT_EQ(pt.execution_api_type, "client_api");
  EXPECT_EQ(pt.aliases, std::vector<std::string>{"sag_pt"});
  ASSERT_EQ(pt.apps.size(), 1u);
  EXPECT_EQ(pt.apps[0].name, "app");
  ASSERT_FALSE(pt.variables.empty());
  EXPECT_EQ(pt.variables[0].name, "num_rounds");
  EXPECT_EQ(pt.variables[0].type, "int");
  EXPECT_EQ(pt.variables[0].default_value, 2);
}

TEST(TemplatesTest, ResolvesNameAliasAndPath) {
  const auto root = source_templates_root();
  auto by_alias = resolve_template(root, "sag_np");
  ASSERT_TRUE(by_alias.ok());
  EXPECT_EQ(by_alias->name, "fedavg_np");
  auto by_path = resolve_template("/nonexistent", (root / "fedavg_pt").string());
  ASSERT_TRUE(by_path.ok());
  EXPECT_EQ(by_path->name, "fedavg_pt");
  auto unknown = resolve_template(root, "nope");
  EXPECT_EQ(unknown.status().message(),
            "Invalid template name nope, please check the available templates using nvflare job "
            "list_templates");
}

TEST(TemplatesTest, TableHasFlareColumns) {
  auto all = list_templates(source_templates_root());
  ASSERT_TRUE(all.ok());
  const std::string table = render_templates_table(*all);
  EXPECT_NE(table.find("  name                 Description"), std::string::npos) << table;
  EXPECT_NE(table.find("Controller Type      Execution API Type"), std::string::npos);
  EXPECT_NE(table.find("  fedavg_pt            "), std::string::npos);
  EXPECT_NE(table.find(std::string(120, '-')), std::string::npos);
}

TEST(TemplatesTest, MalformedInfoIsAnErrorNamingTheField) {
  TempDir tmp;
  write_text(tmp.path() / "t/info.toml", "description = \"d\"\n[variables.x]\ndefault = 1\n");
  write_text(tmp.path() / "t/config_fed_client.json", "{}");
  auto t = load_template(tmp.path() / "t");
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("variables.x.type"), std::string::npos)
      << t.status().to_string();
}

TEST(TemplatesTest, MultiAppTemplateListsApps) {
  TempDir tmp;
  write_text(tmp.path() / "t/info.toml", "description = \"d\"\n");
  write_text(tmp.path() / "t/app_server/config_fed_server.json", "{}");
  write_text(tmp.path() / "t/app_site/config_fed_client.json", "{}");
  auto t = load_template(tmp.path() / "t");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(t->apps.size(), 2u);
  EXPECT_EQ(t->apps[0].name, "app_server");
  EXPECT_EQ(t->apps[1].name, "app_site");
}

TEST(TemplatesTest, FixedWidthCutsAndPads) {
  EXPECT_EQ(fixed_width("abc", 5), "abc  ");
  EXPECT_EQ(fixed_width("abcdef", 3), "abc");
}

}  // namespace
}  // namespace nvf::job

namespace nvf::job {
namespace {

TEST(TemplatesTest, FindsSourceTreeTemplatesAboveABuildDir) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "jobs/templates");
  fs::create_directories(tmp.path() / "build/apps/nvflare");
  EXPECT_EQ(find_templates_root(tmp.path() / "build/apps/nvflare"), tmp.path() / "jobs/templates");
  fs::create_directories(tmp.path() / "prefix/bin");
  fs::create_directories(tmp.path() / "prefix/share/nvflare/templates");
  EXPECT_EQ(find_templates_root(tmp.path() / "prefix/bin"),
            tmp.path() / "prefix/share/nvflare/templates");
}

}  // namespace
}  // namespace nvf::job
