#include "fl/component_registry.h"

#include <gtest/gtest.h>

#include "workflows/aggregator.h"
#include "workflows/model_selector.h"
#include "workflows/np_model_persistor.h"
#include "workflows/persistor.h"
#include "workflows/pt_file_model_persistor.h"
#include "workflows/register.h"

namespace nvf::fl {
namespace {

using config::Value;

Value parse(const char* json) { return Value::parse(json); }

// What a server job's registry holds of this module and fl: the filters and the server components.
ComponentRegistry server_registry() {
  ComponentRegistry r = ComponentRegistry::builtin();
  EXPECT_TRUE(register_server_components(r).ok());
  return r;
}

// A test workflow that looks its persistor up by id, as the FedAvg controller will.
class FakeController : public Component {
 public:
  explicit FakeController(ModelPersistor* p) : persistor(p) {}
  ModelPersistor* persistor;
};

class FakeExecutor : public Component {};

ComponentRegistry registry_with_fakes() {
  ComponentRegistry r = server_registry();
  EXPECT_TRUE(r.add({"FakeController",
                     {"nvflare.app_common.workflows.fake.FakeController", "FakeController"},
                     ComponentKind::kWorkflow,
                     {"persistor_id", "num_rounds"},
                     [](const BuildContext& ctx) -> Result<std::unique_ptr<Component>> {
                       NVF_ASSIGN_OR_RETURN(auto id, ctx.string_arg("persistor_id", "persistor"));
                       NVF_ASSIGN_OR_RETURN(auto* p, ctx.component_as<ModelPersistor>(
                                                         "persistor_id", id, "a persistor"));
                       return std::unique_ptr<Component>(new FakeController(p));
                     }})
                  .ok());
  EXPECT_TRUE(r.add({"FakeExecutor",
                     {"nvflare.app_common.executors.fake.FakeExecutor"},
                     ComponentKind::kExecutor,
                     {},
                     [](const BuildContext&) -> Result<std::unique_ptr<Component>> {
                       return std::unique_ptr<Component>(new FakeExecutor());
                     }})
                  .ok());
  return r;
}

TEST(ComponentRegistryTest, FlareAliasResolvesToTheCanonicalEntry) {
  const auto r = server_registry();
  const auto* e = r.find("nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "PTFileModelPersistor");
  EXPECT_EQ(e->kind, ComponentKind::kPersistor);
  EXPECT_EQ(r.find("PTFileModelPersistor"), e);
  EXPECT_EQ(r.find("nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor#ref"), e);
  EXPECT_EQ(r.find("nvflare.app_common.np.np_model_persistor.NPModelPersistor")->name,
            "NPModelPersistor");
  EXPECT_EQ(r.find("nvflare.app_common.aggregators.intime_accumulate_model_aggregator."
                   "InTimeAccumulateWeightedAggregator")
                ->kind,
            ComponentKind::kAggregator);
  EXPECT_EQ(r.find("nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector")->kind,
            ComponentKind::kModelSelector);
  EXPECT_EQ(r.find("nvflare.app_opt.pt.file_model_persistor.Other"), nullptr);
}

TEST(ComponentRegistryTest, AddRefusesATakenAlias) {
  auto r = server_registry();
  Status s = r.add({"Mine",
                    {"NPModelPersistor"},
                    ComponentKind::kOther,
                    {},
                    [](const BuildContext&) -> Result<std::unique_ptr<Component>> {
                      return std::unique_ptr<Component>(new NoOpComponent());
                    }});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("NPModelPersistor"), std::string::npos);
}

TEST(BuildComponentsTest, BuildsServerComponentsAndResolvesReferencesById) {
  const Value cfg = parse(R"({
    "format_version": 2,
    "workflows": [{"id": "controller", "path": "FakeController",
                   "args": {"persistor_id": "persistor", "num_rounds": 2}}],
    "components": [
      {"id": "persistor", "path": "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor",
       "args": {"model": {"path": "simple_network.SimpleNetwork", "args": {}}}},
      {"id": "aggregator", "path": "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator",
       "args": {"expected_data_kind": "WEIGHTS", "aggregation_weights": {"site-1": 2.0}}},
      {"id": "model_selector", "path": "nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector",
       "args": {"key_metric": "accuracy"}},
      {"id": "shareable_generator", "path": "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator"},
      {"id": "receiver", "path": "nvflare.app_opt.tracking.tb.tb_receiver.TBAnalyticsReceiver",
       "args": {"events": ["fed.analytix_log_stats"]}},
      {"id": "old", "path": "nvflare.not.Here", "disabled": true},
      {"id": "settings", "config_type": "dict", "lr": 0.01}
    ]})");
  auto set = build_components(cfg, registry_with_fakes(), "config_fed_server.json");
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  auto* controller = set->find_as<FakeController>("controller");
  ASSERT_NE(controller, nullptr);
  EXPECT_EQ(controller->persistor, set->find("persistor"));
  EXPECT_NE(set->find_as<PTFileModelPersistor>("persistor"), nullptr);
  auto agg = set->get<WeightedAggregator>("aggregator");
  ASSERT_TRUE(agg.ok());
  EXPECT_EQ((*agg)->options().expected_params_type, ParamsType::kFull);
  EXPECT_EQ((*agg)->options().aggregation_weights.at("site-1"), 2.0);
  EXPECT_EQ(set->find_as<IntimeModelSelector>("model_selector")->options().key_metric, "accuracy");
  EXPECT_EQ(set->find("old"), nullptr);
  ASSERT_NE(set->find_data("settings"), nullptr);
  EXPECT_EQ((*set->find_data("settings"))["lr"], 0.01);
  EXPECT_EQ(set->workflow_ids(), std::vector<std::string>{"controller"});
  EXPECT_EQ(set->workflows(), std::vector<Component*>{controller});
  EXPECT_EQ(set->info("aggregator")->name, "InTimeAccumulateWeightedAggregator");
  EXPECT_EQ(set->info("aggregator")->field, "components[1]");
  EXPECT_EQ(set->get<WeightedAggregator>("persistor").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(set->get<WeightedAggregator>("nope").status().code(), StatusCode::kNotFound);
}

TEST(BuildComponentsTest, UnknownPathListsWhatExists) {
  const Value cfg = parse(R"({"components": [
      {"id": "a", "path": "NPModelPersistor"},
      {"id": "b", "path": "NPModelPersistor"},
      {"id": "c", "path": "my.custom.Thing"}]})");
  auto set = build_components(cfg, server_registry(), "config_fed_server.json");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(set.status().message().rfind(
                "config_fed_server.json: unknown component path 'my.custom.Thing' in "
                "components[2]; available: ",
                0),
            0u)
      << set.status().message();
  for (const char* name : {"NPModelPersistor", "PTFileModelPersistor", "IntimeModelSelector",
                           "InTimeAccumulateWeightedAggregator", "TBAnalyticsReceiver"}) {
    EXPECT_NE(set.status().message().find(name), std::string::npos) << name;
  }
}

TEST(BuildComponentsTest, DuplicateIdIsAnError) {
  const Value cfg = parse(R"({
    "components": [{"id": "persistor", "path": "NPModelPersistor"}],
    "workflows": [{"id": "persistor", "path": "FakeController"}]})");
  auto set = build_components(cfg, registry_with_fakes(), "config_fed_server.json");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().message(),
            "config_fed_server.json: workflows[0].id: duplicate component id \"persistor\"");
}

TEST(BuildComponentsTest, ReferenceToAMissingComponentNamesTheId) {
  const Value cfg = parse(R"({
    "workflows": [{"id": "controller", "path": "FakeController",
                   "args": {"persistor_id": "my_persistor"}}],
    "components": [{"id": "other", "path": "NPModelPersistor"}]})");
  auto set = build_components(cfg, registry_with_fakes(), "config_fed_server.json");
  ASSERT_FALSE(set.ok());
  const std::string m = set.status().message();
  EXPECT_NE(m.find("config_fed_server.json: workflows[0].args.persistor_id: no component with "
                   "id 'my_persistor'"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("other"), std::string::npos) << m;
}

TEST(BuildComponentsTest, ReferenceToADisabledOrWrongComponentIsAnError) {
  auto disabled = build_components(parse(R"({
    "workflows": [{"id": "w", "path": "FakeController"}],
    "components": [{"id": "persistor", "path": "NPModelPersistor", "disabled": true}]})"),
                                   registry_with_fakes(), "f.json");
  ASSERT_FALSE(disabled.ok());
  EXPECT_NE(disabled.status().message().find("component 'persistor' is disabled"),
            std::string::npos);
  auto wrong = build_components(parse(R"({
    "workflows": [{"id": "w", "path": "FakeController"}],
    "components": [{"id": "persistor", "path": "IntimeModelSelector"}]})"),
                                registry_with_fakes(), "f.json");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("is not a persistor"), std::string::npos);
}

TEST(BuildComponentsTest, ComponentsLaterInTheFileAreBuiltOnDemand) {
  // A workflow listed before... and a component that is referenced before its own position.
  ComponentRegistry r = registry_with_fakes();
  ASSERT_TRUE(r.add({"Needs",
                     {},
                     ComponentKind::kOther,
                     {"ref"},
                     [](const BuildContext& ctx) -> Result<std::unique_ptr<Component>> {
                       NVF_ASSIGN_OR_RETURN(auto id, ctx.string_arg("ref", ""));
                       NVF_RETURN_IF_ERROR(ctx.component("ref", id).status());
                       return std::unique_ptr<Component>(new NoOpComponent());
                     }})
                  .ok());
  auto ok = build_components(parse(R"({"components": [
      {"id": "first", "path": "Needs", "args": {"ref": "second"}},
      {"id": "second", "path": "NPModelPersistor"}]})"),
                             r, "f.json");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  auto cycle = build_components(parse(R"({"components": [
      {"id": "a", "path": "Needs", "args": {"ref": "b"}},
      {"id": "b", "path": "Needs", "args": {"ref": "a"}}]})"),
                                r, "f.json");
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(cycle.status().message().find("refers back to itself through a -> b -> a"),
            std::string::npos)
      << cycle.status().message();
}

TEST(BuildComponentsTest, UnknownArgumentIsNamed) {
  auto set = build_components(parse(R"({"components": [
      {"id": "sel", "path": "IntimeModelSelector", "args": {"key_metrc": "acc"}}]})"),
                              server_registry(), "f.json");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("f.json: components[0].args.key_metrc: unknown argument "
                                        "'key_metrc' for IntimeModelSelector; accepted: "),
            std::string::npos)
      << set.status().message();
}

TEST(BuildComponentsTest, ArgTypeErrorsNameTheField) {
  auto set = build_components(parse(R"({"components": [
      {"id": "sel", "path": "IntimeModelSelector", "args": {"negate_key_metric": "yes"}}]})"),
                              server_registry(), "f.json");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().message(),
            "f.json: components[0].args.negate_key_metric: must be a bool but got str");
}

TEST(BuildComponentsTest, ExecutorsMapTasksExactBeforeWildcard) {
  const Value cfg = parse(R"({
    "format_version": 2,
    "executors": [
      {"tasks": ["*"], "executor": {"path": "nvflare.app_common.executors.fake.FakeExecutor"}},
      {"tasks": ["validate", "submit_model"], "executor": {"id": "validator", "path": "FakeExecutor"}}
    ]})");
  auto set = build_components(cfg, registry_with_fakes(), "config_fed_client.json");
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  ASSERT_EQ(set->executors().size(), 2u);
  Component* any = set->executors()[0].executor;
  Component* validator = set->find("validator");
  ASSERT_NE(any, nullptr);
  ASSERT_NE(validator, nullptr);
  EXPECT_EQ(set->executor_for_task("train"), any);
  EXPECT_EQ(set->executor_for_task("validate"), validator);
  EXPECT_EQ(set->executor_for_task("submit_model"), validator);
  EXPECT_EQ(set->executors()[1].tasks, (std::vector<std::string>{"validate", "submit_model"}));

  auto twice = build_components(parse(R"({"executors": [
      {"tasks": ["train"], "executor": {"path": "FakeExecutor"}},
      {"tasks": ["train"], "executor": {"path": "FakeExecutor"}}]})"),
                                registry_with_fakes(), "c.json");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(),
            "c.json: executors[1].tasks[0]: multiple executors defined for task 'train'");
}

TEST(BuildComponentsTest, PersistorsGetTheirPathsFromTheBuildEnv) {
  BuildEnv env;
  env.run_dir = "/run";
  env.app_dir = "/run/app_server";
  auto set = build_components(parse(R"({"components": [
      {"id": "np", "path": "NPModelPersistor", "args": {"initial_model": [[1, 2], [3, 4]]}},
      {"id": "pt", "path": "PTFileModelPersistor", "args": {"model": "mlp:4:3:2"}}]})"),
                              server_registry(), "f.json", env);
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  EXPECT_EQ(set->find_as<NPModelPersistor>("np")->model_path(), "/run/models/server.npy");
  EXPECT_EQ(set->find_as<PTFileModelPersistor>("pt")->global_model_path(),
            "/run/app_server/FL_global_model.pt");

  auto ragged = build_components(parse(R"({"components": [
      {"id": "np", "path": "NPModelPersistor", "args": {"model": [[1, 2], [3]]}}]})"),
                                 server_registry(), "f.json", env);
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.status().message().find("f.json: components[0].args.model: "), std::string::npos)
      << ragged.status().message();
  auto bad_model = build_components(parse(R"({"components": [
      {"id": "pt", "path": "PTFileModelPersistor", "args": {"model": "resnet50"}}]})"),
                                    server_registry(), "f.json", env);
  ASSERT_FALSE(bad_model.ok());
  EXPECT_NE(bad_model.status().message().find("components[0].args.model: 'resnet50' is neither"),
            std::string::npos)
      << bad_model.status().message();
}

TEST(BuildComponentsTest, PersistorModelMayBeTheIdOfAModelComponent) {
  auto set = build_components(parse(R"({"components": [
      {"id": "persistor", "path": "PTFileModelPersistor", "args": {"model": "net"}},
      {"id": "net", "path": "simple_network.SimpleNetwork", "args": {}}]})"),
                              server_registry(), "f.json");
  ASSERT_TRUE(set.ok()) << set.status().to_string();
}

}  // namespace
}  // namespace nvf::fl
