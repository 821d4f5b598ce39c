#include "base/strings.h"

#include <gtest/gtest.h>

namespace nvf::base {
namespace {

TEST(ShellSplitTest, SplitsByShellRulesWithoutExpansion) {
  auto r = shell_split(R"(python3 -u "my script.py" --lr '0.01' $HOME a\ b "x\"y")");
  ASSERT_TRUE(r.ok());
  std::vector<std::string> want = {"python3", "-u", "my script.py", "--lr", "0.01", "$HOME", "a b", "x\"y"};
  EXPECT_EQ(*r, want);
}

TEST(ShellSplitTest, EmptyQuotedWordIsKept) {
  EXPECT_EQ(*shell_split("a '' b"), (std::vector<std::string>{"a", "", "b"}));
}

TEST(ShellSplitTest, UnterminatedQuoteIsAnError) {
  auto r = shell_split("train 'oops");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unterminated single quote"), std::string::npos);
}

TEST(ShellQuoteTest, RoundTripsThroughSplit) {
  std::vector<std::string> words = {"plain", "with space", "it's", "$VAR", ""};
  std::vector<std::string> quoted;
  for (auto& w : words) quoted.push_back(shell_quote(w));
  EXPECT_EQ(*shell_split(join(quoted, " ")), words);
}

TEST(StringsTest, SplitJoinTrim) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("a,,b", ',', true), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(to_lower("@ALL"), "@all");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace nvf::base
