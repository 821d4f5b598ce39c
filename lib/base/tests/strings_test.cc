#include "base/strings.h"

#include <gtest/gtest.h>

#include <limits>

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

TEST(ParseNumberTest, WholeNumbersAreCheckedForFormAndRange) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_EQ(parse_int("+42"), 42);
  EXPECT_EQ(parse_int("-7"), -7);
  EXPECT_EQ(parse_int("9223372036854775807"), std::numeric_limits<int64_t>::max());
  for (const char* bad : {"", "+", "-", "++1", "+-1", " 1", "1 ", "1x", "0x10", "1.0", "1e3",
                          "9223372036854775808", "-9223372036854775809", "99999999999999999999"}) {
    EXPECT_FALSE(parse_int(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_int("65535", 1, 65535), 65535);
  EXPECT_FALSE(parse_int("65536", 1, 65535).has_value());
  EXPECT_FALSE(parse_int("0", 1, 65535).has_value());
}

TEST(ParseNumberTest, RealNumbersMustBeFiniteAndInRange) {
  EXPECT_EQ(parse_double("2.5", 0, 10), 2.5);
  EXPECT_EQ(parse_double("1e3", 0, 1e4), 1000.0);
  EXPECT_EQ(parse_double("+3", 0, 10), 3.0);
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "1e400", "2.5s", " 1", "1.1e126"}) {
    EXPECT_FALSE(parse_double(bad, -1e100, 1e100).has_value()) << bad;
  }
  EXPECT_FALSE(parse_double("-0.5", 0, 10).has_value());
}

}  // namespace
}  // namespace nvf::base
