#include "workflows/error_policy.h"

#include <gtest/gtest.h>

namespace nvf::fl {
namespace {

using Action = ClientErrorPolicy::Action;

TEST(ClientErrorPolicyTest, FlareDefaultAbortsOnOneErrorWhenMinResponsesIsZero) {
  auto p = ClientErrorPolicy::flare(/*num_targets=*/3, /*min_responses=*/0);
  EXPECT_EQ(p.min_results(), 3);
  auto d = p.on_client_error("site-2", "EXECUTION_EXCEPTION");
  EXPECT_EQ(d.action, Action::kAbort);
  EXPECT_NE(d.message.find("site-2"), std::string::npos);
  // Silence is not an error in FLARE: the round aggregates what arrived.
  auto q = ClientErrorPolicy::flare(3, 0);
  EXPECT_EQ(q.on_client_silent("site-3").action, Action::kIgnore);
  EXPECT_TRUE(q.check_enough_results(1).ok());
}

TEST(ClientErrorPolicyTest, FlareDynamicToleratesWhileEnoughCanDeliver) {
  auto p = ClientErrorPolicy::flare(4, 2);
  EXPECT_EQ(p.on_client_error("a", "x").action, Action::kIgnore);
  EXPECT_EQ(p.on_client_error("b", "x").action, Action::kIgnore);
  EXPECT_EQ(p.on_client_error("c", "x").action, Action::kAbort);
}

TEST(ClientErrorPolicyTest, IgnoreResultErrorTrueAndFalse) {
  auto always = ClientErrorPolicy::tolerant(2, 2, true);
  EXPECT_EQ(always.on_client_error("a", "x").action, Action::kIgnore);
  EXPECT_EQ(always.on_client_error("b", "x").action, Action::kIgnore);
  EXPECT_TRUE(always.check_enough_results(1).ok());
  auto never = ClientErrorPolicy::tolerant(5, 1, false);
  EXPECT_EQ(never.on_client_error("a", "x").action, Action::kAbort);
}

TEST(ClientErrorPolicyTest, TolerantDefaultKeepsGoingWhileMinClientsCanDeliver) {
  auto p = ClientErrorPolicy::tolerant(/*num_targets=*/3, /*min_clients=*/2);
  auto d = p.on_client_silent("site-3");
  EXPECT_EQ(d.action, Action::kIgnore);
  EXPECT_NE(d.message.find("2 of 3 clients can still deliver"), std::string::npos) << d.message;
  EXPECT_TRUE(p.check_enough_results(2).ok());
  EXPECT_EQ(p.on_client_error("site-2", "rc=EXECUTION_EXCEPTION").action, Action::kAbort);
  Status s = p.check_enough_results(1);
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_NE(s.message().find("only 1 of 3"), std::string::npos);
  p.start_round(3);
  EXPECT_TRUE(p.failed().empty());
  EXPECT_EQ(p.on_client_error("site-1", "x").action, Action::kIgnore);
}

}  // namespace
}  // namespace nvf::fl
