// `nvflare provision` as a user runs it: generate the sample, provision it, check the kits with
// the real openssl tool, re-provision, and the error paths.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/process.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

int run_openssl_verify(const fs::path& ca, const fs::path& cert, std::string* out) {
  base::SpawnOptions o;
  o.argv = {"openssl", "verify", "-CAfile", ca.string(), cert.string()};
  o.capture_output = true;
  auto child = base::spawn(o);
  if (!child.ok()) return -1;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child->output_fd(), buf, sizeof(buf))) > 0)
    out->append(buf, static_cast<size_t>(n));
  auto exit = child->wait(std::chrono::seconds(30));
  return exit.ok() ? exit->shell_code() : -1;
}

std::string slurp(const fs::path& p) {
  auto text = base::read_file(p);
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  return text.ok() ? *text : "";
}

class ProvisionTest : public E2eTest {
 protected:
  fs::path project_root() { return work_.path() / "ws" / "example_project"; }
};

TEST_F(ProvisionTest, GenerateThenProvisionBuildsVerifiableKits) {
  RunResult g = run({"provision", "-g"});
  ASSERT_EQ(g.exit_code, 0) << g.out;
  EXPECT_NE(g.out.find("project.yml was generated.  Please edit it"), std::string::npos) << g.out;

  RunResult p = run({"provision", "-p", "project.yml", "-w", "ws"});
  ASSERT_EQ(p.exit_code, 0) << p.out;
  EXPECT_NE(p.out.find("Project yaml file: " + (work_.path() / "project.yml").string() + "."),
            std::string::npos)
      << p.out;
  fs::path prod = project_root() / "prod_00";
  EXPECT_NE(p.out.find("INFO: Generated results can be found under " + prod.string() + ". "),
            std::string::npos)
      << p.out;
  EXPECT_TRUE(fs::exists(project_root() / "state" / "cert.json"));
  EXPECT_FALSE(fs::exists(project_root() / "wip"));

  const std::vector<std::string> server_files = {"startup/fed_server.json",
                                                 "startup/server.crt",
                                                 "startup/server.key",
                                                 "startup/start.sh",
                                                 "startup/sub_start.sh",
                                                 "startup/stop_fl.sh",
                                                 "startup/rootCA.pem",
                                                 "startup/signature.json",
                                                 "local/resources.json.default",
                                                 "local/authorization.json.default",
                                                 "local/log_config.json.default",
                                                 "local/privacy.json.sample",
                                                 "local/signature.json",
                                                 "readme.txt",
                                                 "transfer"};
  for (const auto& f : server_files) EXPECT_TRUE(fs::exists(prod / "server1" / f)) << f;
  for (const char* site : {"site-1", "site-2"}) {
    for (const char* f :
         {"startup/fed_client.json", "startup/client.crt", "startup/client.key", "startup/start.sh",
          "startup/signature.json", "local/resources.json.default", "transfer"}) {
      EXPECT_TRUE(fs::exists(prod / site / f)) << site << "/" << f;
    }
  }
  for (const char* f : {"startup/fed_admin.json", "startup/fl_admin.sh", "startup/client.crt",
                        "startup/client.key", "local/resources.json.default", "transfer"}) {
    EXPECT_TRUE(fs::exists(prod / "admin@nvidia.com" / f)) << f;
  }

  config::Value server = load(prod / "server1" / "startup" / "fed_server.json");
  EXPECT_EQ(server["servers"][0]["service"]["target"], "server1:8002");
  EXPECT_EQ(server["servers"][0]["service"]["scheme"], "grpc");
  EXPECT_EQ(server["servers"][0]["admin_port"], 8003);
  config::Value client = load(prod / "site-1" / "startup" / "fed_client.json");
  EXPECT_EQ(client["servers"][0]["identity"], "server1");
  EXPECT_EQ(client["client"]["fqsn"], "site-1");
  config::Value admin = load(prod / "admin@nvidia.com" / "startup" / "fed_admin.json");
  EXPECT_EQ(admin["admin"]["username"], "admin@nvidia.com");
  EXPECT_EQ(admin["admin"]["host"], "server1");
  EXPECT_EQ(admin["admin"]["port"], 8003);
  config::Value authz = load(prod / "site-1" / "local" / "authorization.json.default");
  EXPECT_EQ(authz["permissions"]["project_admin"], "any");
  EXPECT_EQ(authz["permissions"]["lead"]["clone_job"], "n:submitter");

  struct stat st {};
  ASSERT_EQ(::stat((prod / "site-1" / "startup" / "client.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  for (const auto& [who, crt] :
       {std::pair{"server1", "server.crt"}, std::pair{"site-1", "client.crt"},
        std::pair{"site-2", "client.crt"}, std::pair{"admin@nvidia.com", "client.crt"}}) {
    std::string out;
    EXPECT_EQ(run_openssl_verify(prod / who / "startup" / "rootCA.pem",
                                 prod / who / "startup" / crt, &out),
              0)
        << who << ": " << out;
  }
}

TEST_F(ProvisionTest, ReprovisionMakesProd01WithSameRootCa) {
  ASSERT_EQ(run({"provision", "-g"}).exit_code, 0);
  RunResult first = run({"provision", "-p", "project.yml", "-w", "ws", "-s"});
  ASSERT_EQ(first.exit_code, 0) << first.out;
  RunResult second = run({"provision", "-p", "project.yml", "-w", "ws"});
  ASSERT_EQ(second.exit_code, 0) << second.out;
  fs::path p0 = project_root() / "prod_00", p1 = project_root() / "prod_01";
  ASSERT_TRUE(fs::exists(p1));
  EXPECT_TRUE(fs::exists(p0 / "start_all.sh"));
  EXPECT_FALSE(fs::exists(p1 / "start_all.sh"));
  EXPECT_EQ(slurp(p0 / "server1" / "startup" / "rootCA.pem"),
            slurp(p1 / "site-2" / "startup" / "rootCA.pem"));
  EXPECT_EQ(slurp(p0 / "site-1" / "startup" / "client.crt"),
            slurp(p1 / "site-1" / "startup" / "client.crt"));
}

TEST_F(ProvisionTest, ApiVersion2ExitsOneAndWritesNothing) {
  ASSERT_EQ(run({"provision", "-g"}).exit_code, 0);
  std::string yml = slurp(work_.path() / "project.yml");
  size_t at = yml.find("api_version: 3");
  ASSERT_NE(at, std::string::npos);
  yml.replace(at, 14, "api_version: 2");
  ASSERT_TRUE(base::atomic_write(work_.path() / "old.yml", yml).ok());
  RunResult r = run({"provision", "-p", "old.yml", "-w", "ws"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("API version expected 3 but found 2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(work_.path() / "ws"));
}

TEST_F(ProvisionTest, DuplicateServerIsRejectedBeforeWriting) {
  ASSERT_TRUE(base::atomic_write(work_.path() / "p.yml",
                                 "api_version: 3\nname: p\nparticipants:\n"
                                 "  - {name: s1, type: server, org: a}\n"
                                 "  - {name: s2, type: server, org: a}\n")
                  .ok());
  RunResult r = run({"provision", "-p", "p.yml", "-w", "ws"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("exactly one server"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(work_.path() / "ws"));
}

TEST_F(ProvisionTest, NoModeIsUsageError) {
  RunResult r = run({"provision"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("one of the arguments -g/--generate -p/--project_file is required"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace nvf::e2e
