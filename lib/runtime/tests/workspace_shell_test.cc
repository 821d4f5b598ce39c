// The admin console's workspace shell commands: FLARE's argument checks, the path guard (no way
// out of the workspace: "..", absolute paths, symbolic links) and GNU-compatible output.
#include "runtime/workspace_shell.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "base/files.h"

namespace nvf::runtime {
namespace {

namespace fs = std::filesystem;

class WorkspaceShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = base::make_temp_dir("nvf-shell");
    ASSERT_TRUE(dir.ok());
    top_ = base::ScopedRemove(*dir);
    root_ = *dir / "ws";
    outside_ = *dir / "outside";
    fs::create_directories(root_ / "startup");
    fs::create_directories(root_ / "local" / "deep");
    fs::create_directories(outside_);
    write(outside_ / "secret.txt", "top secret\n");
    write(root_ / "log.txt", "alpha\nBeta\n\n\n\ngamma\tdelta\nalphabet\n");
    write(root_ / "ten.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n");
    write(root_ / "startup" / "client.key", "KEY\n");
    write(root_ / "local" / "deep" / "a.json", "{}\n");
    write(root_ / ".hidden", "h\n");
  }

  void write(const fs::path& p, const std::string& text) {
    ASSERT_TRUE(base::atomic_write(p, text).ok());
    ::chmod(p.c_str(), 0644);
  }

  // Parses and runs one command line (split on spaces), returning its output or "ERR: message".
  std::string run(const std::string& line) {
    std::vector<std::string> argv;
    size_t s = 0;
    for (size_t p; (p = line.find(' ', s)) != std::string::npos; s = p + 1)
      argv.push_back(line.substr(s, p - s));
    argv.push_back(line.substr(s));
    auto c = WorkspaceShell::parse(argv);
    if (!c.ok()) return "ERR: " + c.status().message();
    auto out = WorkspaceShell(root_).run(*c);
    if (!out.ok()) return "ERR: " + out.status().message();
    return *out;
  }

  base::ScopedRemove top_;
  fs::path root_, outside_;
};

TEST_F(WorkspaceShellTest, RefusesDotDotAbsolutePathsAndOddCharactersWithFlaresMessages) {
  EXPECT_EQ(run("cat startup/../../etc/passwd"), "ERR: .. in path name is not allowed");
  EXPECT_EQ(run("ls .."), "ERR: .. in path name is not allowed");
  EXPECT_EQ(run("cat /etc/passwd.txt"), "ERR: absolute path is not allowed");
  EXPECT_EQ(run("head ~/x.txt"), "ERR: unsupported file ~/x.txt");
  EXPECT_EQ(run("grep a $HOME.txt"), "ERR: unsupported file $HOME.txt");
}

TEST_F(WorkspaceShellTest, ReadsOnlyTextFilesSoKeysStayPrivate) {
  EXPECT_EQ(run("cat startup/client.key"),
            "ERR: this command cannot be applied to file startup/client.key. Only files with the "
            "following "
            "extensions are permitted: .txt, .log, .json, .csv, .sh, .config, .py");
  EXPECT_EQ(run("tail log.txt.3"),
            "tail: cannot open 'log.txt.3' for reading: No such file or directory");
}

TEST_F(WorkspaceShellTest, RefusesASymlinkThatPointsOutOfTheWorkspace) {
  fs::create_directory_symlink(outside_, root_ / "out");
  fs::create_symlink(outside_ / "secret.txt", root_ / "secret.txt");
  for (const char* line :
       {"cat out/secret.txt", "cat secret.txt", "ls out", "grep top out/secret.txt"}) {
    std::string r = run(line);
    EXPECT_EQ(r.rfind("ERR: ", 0), 0u) << line << ": " << r;
    EXPECT_NE(r.find("out of the workspace through a symbolic link"), std::string::npos)
        << line << ": " << r;
    EXPECT_EQ(r.find("top secret"), std::string::npos) << line;
  }
  EXPECT_EQ(WorkspaceShell(root_).resolve("out/secret.txt").status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(WorkspaceShellTest, RefusesASymlinkInsideThatClimbsOut) {
  // local/deep/up -> ../../.. is the folder above the workspace: up/outside/secret.txt escapes.
  fs::create_directory_symlink("../../..", root_ / "local" / "deep" / "up");
  std::string r = run("cat local/deep/up/outside/secret.txt");
  EXPECT_NE(r.find("out of the workspace through a symbolic link"), std::string::npos) << r;
  // A link that stays inside is followed.
  fs::create_symlink("ten.txt", root_ / "alias.txt");
  EXPECT_EQ(run("head -n 2 alias.txt"), "1\n2");
  fs::create_directory_symlink("..", root_ / "local" / "parent");
  EXPECT_EQ(run("cat local/parent/log.txt").substr(0, 6), "alpha\n");
}

TEST_F(WorkspaceShellTest, ChecksArgumentsAsFlaresValidators) {
  EXPECT_EQ(run("ls -x"), "ERR: unrecognized arguments: -x");
  EXPECT_EQ(run("ls a b"), "ERR: unrecognized arguments: b");
  EXPECT_EQ(run("cat"), "ERR: the following arguments are required: file");
  EXPECT_EQ(run("grep"), "ERR: the following arguments are required: pattern, file");
  EXPECT_EQ(run("cat log.txt ten.txt"), "ERR: only one file is allowed");
  EXPECT_EQ(run("head -n x log.txt"), "ERR: argument -n: invalid int value: 'x'");
  // Regression: a count beyond 64 bits passed the digits check and std::stol threw out_of_range
  // on the daemon's handler thread.
  EXPECT_EQ(run("head -n 99999999999999999999 log.txt"),
            "ERR: argument -n: invalid int value: '99999999999999999999'");
  EXPECT_EQ(run("tail -c -9223372036854775808 log.txt"),
            "ERR: argument -c: invalid int value: '-9223372036854775808'");
  EXPECT_EQ(run("tail log.txt -n"), "ERR: argument -n: expected one argument");
  EXPECT_EQ(run("pwd -l"), "ERR: this command does not accept extra args");
}

TEST(WorkspaceShellOrder, AnOrderRoundTripsAndABadOneFromAPeerIsRefusedNamingWhy) {
  auto c = WorkspaceShell::parse_order(WorkspaceShell::order({"grep", "-n", "it's \"x\"", "log.txt"}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->name, "grep");
  EXPECT_EQ(c->pattern, "it's \"x\"");
  EXPECT_EQ(c->files, std::vector<std::string>{"log.txt"});
  EXPECT_TRUE(c->has('n'));
  auto refused = [](std::string_view order) {
    auto r = WorkspaceShell::parse_order(order);
    EXPECT_FALSE(r.ok()) << order;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(refused(R"({"cmd": "ls"})"), "bad shell command order: not a JSON array");
  EXPECT_EQ(refused(R"(["ls", 3])"), "bad shell command order: an argument is not a string");
  EXPECT_EQ(refused("[]"), "bad shell command order: not one of pwd, ls, cat, head, tail, grep");
  EXPECT_EQ(refused(R"(["rm", "-rf", "."])"), "bad shell command order: not one of pwd, ls, cat, head, tail, grep");
  EXPECT_NE(refused("[\"ls\"").find("bad shell command order: "), std::string::npos);
  // The arguments' own checks still apply to an order.
  EXPECT_EQ(refused(R"(["cat", "../x.txt"])"), ".. in path name is not allowed");
  EXPECT_EQ(refused(R"(["ls", "-x"])"), "unrecognized arguments: -x");
}

TEST_F(WorkspaceShellTest, PwdIsTheCanonicalRoot) {
  EXPECT_EQ(run("pwd"), fs::canonical(root_).string());
}

TEST_F(WorkspaceShellTest, LsListsNamesSortedWithoutDotfilesUnlessAll) {
  EXPECT_EQ(run("ls"), "local\nlog.txt\nstartup\nten.txt");
  EXPECT_EQ(run("ls -a"), ".\n..\n.hidden\nlocal\nlog.txt\nstartup\nten.txt");
  EXPECT_EQ(run("ls startup"), "client.key");
  EXPECT_EQ(run("ls log.txt"), "log.txt");
  EXPECT_EQ(run("ls nope"), "ls: cannot access 'nope': No such file or directory");
  EXPECT_EQ(run("ls -R local"), "local:\ndeep\n\nlocal/deep:\na.json");
}

TEST_F(WorkspaceShellTest, LsSortsByTimeOrSizeNewestOrLargestFirst) {
  const auto set_mtime = [](const fs::path& p, time_t t) {
    timespec ts[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  };
  set_mtime(root_ / "log.txt", 1000);
  set_mtime(root_ / "ten.txt", 3000);
  set_mtime(root_ / "startup", 2000);
  set_mtime(root_ / "local", 500);
  EXPECT_EQ(run("ls -t"), "ten.txt\nstartup\nlog.txt\nlocal");
  EXPECT_EQ(run("ls -S startup/client.key"), "startup/client.key");
  // -S: directories are 4096 on most file systems, so compare the two files only.
  std::string by_size = run("ls -S");
  EXPECT_LT(by_size.find("log.txt"), by_size.find("ten.txt")) << by_size;  // 35 bytes > 27 bytes
}

TEST_F(WorkspaceShellTest, LsLongFormatIsGnusWithOwnerGroupSizeAndTotal) {
  timespec ts[2] = {{946684800, 0}, {946684800, 0}};  // 2000-01-01: older than six months
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / "ten.txt").c_str(), ts, 0), 0);
  std::string out = run("ls -l ten.txt");
  struct passwd* pw = ::getpwuid(::getuid());
  struct group* gr = ::getgrgid(::getgid());
  ASSERT_NE(pw, nullptr);
  ASSERT_NE(gr, nullptr);
  std::regex line("-rw-r--r-- 1 " + std::string(pw->pw_name) + " " + gr->gr_name +
                  " 27 (Dec 31|Jan  1)  (1999|2000) ten.txt");
  EXPECT_TRUE(std::regex_match(out, line)) << out;
  std::string dir = run("ls -l local");
  EXPECT_TRUE(std::regex_match(dir, std::regex("total [0-9]+\ndrwx.* deep"))) << dir;
  fs::create_symlink("ten.txt", root_ / "link.txt");
  EXPECT_NE(run("ls -l").find(" link.txt -> ten.txt"), std::string::npos);
}

TEST_F(WorkspaceShellTest, CatNumbersSqueezesAndShowsTabsAsGnuCat) {
  EXPECT_EQ(run("cat log.txt"), "alpha\nBeta\n\n\n\ngamma\tdelta\nalphabet");
  EXPECT_EQ(run("cat -n log.txt"),
            "     1\talpha\n     2\tBeta\n     3\t\n     4\t\n     5\t\n     6\tgamma\tdelta\n     "
            "7\talphabet");
  EXPECT_EQ(run("cat -b log.txt"),
            "     1\talpha\n     2\tBeta\n\n\n\n     3\tgamma\tdelta\n     4\talphabet");
  EXPECT_EQ(run("cat -s -T log.txt"), "alpha\nBeta\n\ngamma^Idelta\nalphabet");
  EXPECT_EQ(run("cat missing.txt"), "cat: missing.txt: No such file or directory");
}

TEST_F(WorkspaceShellTest, HeadAndTailTakeLinesOrBytes) {
  EXPECT_EQ(run("head ten.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n10");
  EXPECT_EQ(run("head -n 3 ten.txt"), "1\n2\n3");
  EXPECT_EQ(run("head -n -10 ten.txt"), "1\n2");
  EXPECT_EQ(run("head -c 5 ten.txt"), "1\n2\n3");
  EXPECT_EQ(run("tail ten.txt"), "3\n4\n5\n6\n7\n8\n9\n10\n11\n12");
  EXPECT_EQ(run("tail -n 2 ten.txt"), "11\n12");
  EXPECT_EQ(run("tail -n +11 ten.txt"), "11\n12");
  EXPECT_EQ(run("tail -c 6 ten.txt"), "11\n12");
  EXPECT_EQ(run("head -n 1 local/deep"),
            "ERR: this command cannot be applied to file local/deep. Only files with the "
            "following extensions are permitted: .txt, .log, .json, .csv, .sh, .config, .py");
}

TEST_F(WorkspaceShellTest, GrepPrintsMatchingLinesWithNumbersAndOffsets) {
  EXPECT_EQ(run("grep alpha log.txt"), "alpha\nalphabet");
  EXPECT_EQ(run("grep -n alpha log.txt"), "1:alpha\n7:alphabet");
  EXPECT_EQ(run("grep -b -n alpha log.txt"), "1:0:alpha\n7:26:alphabet");
  EXPECT_EQ(run("grep beta log.txt"), "");
  EXPECT_EQ(run("grep -i beta log.txt"), "Beta");
  EXPECT_EQ(run("grep ^gam.*ta$ log.txt"), "gamma\tdelta");
  EXPECT_EQ(run("grep x nope.txt"), "grep: nope.txt: No such file or directory");
}

}  // namespace
}  // namespace nvf::runtime
