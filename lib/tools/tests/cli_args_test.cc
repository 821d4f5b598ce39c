#include "tools/cli_args.h"

#include <gtest/gtest.h>

namespace nvf::tools {
namespace {

using V = std::vector<std::string>;

TEST(CliArgsTest, RewritesFlareSingleDashOptionsUnderTheirSubcommand) {
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "job", "create", "-j", "x", "-w", "sag_pt", "-sd", "code",
                                         "-force", "-debug"}),
            (V{"nvflare", "job", "create", "-j", "x", "-w", "sag_pt", "--sd", "code", "--force", "--debug"}));
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "poc", "start", "-ex", "admin@nvidia.com", "-gpu", "0"}),
            (V{"nvflare", "poc", "start", "--ex", "admin@nvidia.com", "--gpu", "0"}));
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "config", "-pw", "/tmp/poc", "-jt", "t"}),
            (V{"nvflare", "config", "--pw", "/tmp/poc", "--jt", "t"}));
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "simulator", "job", "-gpu", "0,1"}),
            (V{"nvflare", "simulator", "job", "--gpu", "0,1"}));
}

TEST(CliArgsTest, LeavesUnlistedOptionsAndValuesAlone) {
  // -force is not an option of `job submit`: CLI11 will reject it with a usage error.
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "job", "submit", "-force"}),
            (V{"nvflare", "job", "submit", "-force"}));
  // Short options and values stay as they are; nothing after "--" changes.
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "job", "create", "-j", "-sd", "--", "-force"}),
            (V{"nvflare", "job", "create", "-j", "--sd", "--", "-force"}));
  EXPECT_EQ(rewrite_single_dash_options({"nvflare", "-V"}), (V{"nvflare", "-V"}));
}

}  // namespace
}  // namespace nvf::tools
