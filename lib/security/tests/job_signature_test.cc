#include "security/job_signature.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/files.h"
#include "security/pki.h"
#include "security/signing.h"
#include "test_util.h"

namespace nvf::security {
namespace {
namespace fs = std::filesystem;

CertRequest admin_request(std::string cn, std::string org, std::string role) {
  CertRequest r;
  r.common_name = std::move(cn);
  r.org = std::move(org);
  r.role = std::move(role);
  return r;
}

std::string read(const fs::path& p) {
  auto text = base::read_file(p);
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  return text.ok() ? *text : "";
}

class JobSignatureTest : public test_util::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto ca = make_root_ca("example_project");
    ASSERT_TRUE(ca.ok()) << ca.status().to_string();
    ca_ = *ca;
    auto admin =
        issue_certificate(ca_, admin_request("admin@nvidia.com", "nvidia", "project_admin"));
    ASSERT_TRUE(admin.ok()) << admin.status().to_string();
    admin_ = *admin;
    job_ = root_ / "hello-numpy";
    write("meta.json", R"({"name": "hello", "deploy_map": {"app": ["@ALL"]}})");
    write("app/config/config_fed_server.json", R"({"format_version": 2})");
    write("app/config/config_fed_client.json", R"({"format_version": 2})");
    write("app/custom/train.py", "print('hi')\n");
  }

  void write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(base::make_dirs((job_ / rel).parent_path()).ok());
    ASSERT_TRUE(base::atomic_write(job_ / rel, text).ok());
  }

  void sign() {
    Status s = sign_job_folder(job_, admin_.key_pem, admin_.cert_pem);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  // The verification error message; fails the test when verification passes.
  std::string failure() {
    auto r = verify_job_folder(job_, ca_.cert_pem);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(r.status().message().rfind("job signature verification failed: ", 0), 0u)
        << r.status().message();
    return r.status().message();
  }

  Credential ca_, admin_;
  fs::path job_;
};

TEST_F(JobSignatureTest, SignedJobVerifiesAndNamesTheSubmitter) {
  sign();
  for (const char* dir : {"", "app", "app/config", "app/custom"}) {
    EXPECT_TRUE(fs::exists(job_ / dir / kJobSignatureFile)) << dir;
    EXPECT_EQ(read(job_ / dir / kSubmitterCertFile), admin_.cert_pem) << dir;
  }
  auto cn = verify_job_folder(job_, ca_.cert_pem);
  ASSERT_TRUE(cn.ok()) << cn.status().to_string();
  EXPECT_EQ(*cn, "admin@nvidia.com");
}

TEST_F(JobSignatureTest, SignatureFileSignsFilesAndSubfolderNames) {
  sign();
  auto sigs = nlohmann::json::parse(read(job_ / "app" / kJobSignatureFile));
  ASSERT_TRUE(sigs.is_object());
  EXPECT_EQ(sigs.size(), 2u);  // config, custom: not the signature file or the certificate
  auto sig = base64_decode(sigs["config"].get<std::string>());
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(verify_pss(admin_.cert_pem, "config", *sig).ok());
  auto top = nlohmann::json::parse(read(job_ / kJobSignatureFile));
  auto meta_sig = base64_decode(top["meta.json"].get<std::string>());
  ASSERT_TRUE(meta_sig.ok());
  EXPECT_TRUE(verify_pss(admin_.cert_pem, read(job_ / "meta.json"), *meta_sig).ok());
}

// What `job submit` packs from memory is what signing in place writes, and it leaves the folder
// as it was: the files it names, written into the folder, verify.
TEST_F(JobSignatureTest, SignatureFilesInMemoryAreTheSignedFolderAndTheFolderIsNotWritten) {
  write("app/.__nvfl_sig.json", "stale");  // an old signature in the user's folder is replaced
  auto files = job_signature_files(job_, admin_.key_pem, admin_.cert_pem);
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  EXPECT_EQ(read(job_ / "app" / kJobSignatureFile), "stale");
  EXPECT_FALSE(fs::exists(job_ / kJobSignatureFile));
  std::vector<std::string> names;
  for (const auto& [rel, text] : *files) names.push_back(rel);
  const std::vector<std::string> expected = {
      ".__nvfl_sig.json", ".__nvfl_submitter.crt", "app/.__nvfl_sig.json", "app/.__nvfl_submitter.crt",
      "app/config/.__nvfl_sig.json", "app/config/.__nvfl_submitter.crt", "app/custom/.__nvfl_sig.json",
      "app/custom/.__nvfl_submitter.crt"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(files->at("app/custom/.__nvfl_submitter.crt"), admin_.cert_pem);
  for (const auto& [rel, text] : *files) ASSERT_TRUE(base::atomic_write(job_ / rel, text).ok());
  auto cn = verify_job_folder(job_, ca_.cert_pem);
  ASSERT_TRUE(cn.ok()) << cn.status().to_string();
  EXPECT_EQ(*cn, "admin@nvidia.com");
  // The same signatures as signing in place (RSA-PSS is randomized: compare what they sign).
  auto top = nlohmann::json::parse(files->at(".__nvfl_sig.json"));
  std::vector<std::string> signed_names;
  for (const auto& [name, sig] : top.items()) signed_names.push_back(name);
  EXPECT_EQ(signed_names, (std::vector<std::string>{"app", "meta.json"}));
}

TEST_F(JobSignatureTest, SignatureFilesNeedTheCertificatesKey) {
  auto other = issue_certificate(ca_, admin_request("lead@b.org", "b", "lead"));
  ASSERT_TRUE(other.ok());
  auto files = job_signature_files(job_, other->key_pem, admin_.cert_pem);
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(files.status().message().find("does not belong to the certificate"), std::string::npos);
  EXPECT_EQ(job_signature_files(root_ / "nope", admin_.key_pem, admin_.cert_pem).status().code(),
            StatusCode::kNotFound);
}

TEST_F(JobSignatureTest, ResigningReplacesTheSignatures) {
  sign();
  write("app/config/config_fed_client.json", R"({"format_version": 2, "x": 1})");
  sign();
  EXPECT_TRUE(verify_job_folder(job_, ca_.cert_pem).ok());
}

TEST_F(JobSignatureTest, ChangedByteIsNamed) {
  sign();
  std::string text = read(job_ / "app/config/config_fed_client.json");
  text[text.size() - 2] = ' ';
  write("app/config/config_fed_client.json", text);
  std::string m = failure();
  EXPECT_NE(m.find("app/config/config_fed_client.json: invalid signature"), std::string::npos) << m;
  EXPECT_EQ(m.find("config_fed_server.json"), std::string::npos) << m;
}

TEST_F(JobSignatureTest, AddedFileIsNamed) {
  sign();
  write("app/custom/evil.py", "import os\n");
  std::string m = failure();
  EXPECT_EQ(m, "job signature verification failed: app/custom/evil.py: not signed");
}

TEST_F(JobSignatureTest, AddedFolderIsNamed) {
  sign();
  write("app/extra/x.txt", "x");
  std::string m = failure();
  EXPECT_NE(m.find("app/extra: not signed"), std::string::npos) << m;
  EXPECT_NE(m.find("app/extra/.__nvfl_sig.json: missing"), std::string::npos) << m;
  EXPECT_NE(m.find("app/extra/.__nvfl_submitter.crt: missing"), std::string::npos) << m;
}

TEST_F(JobSignatureTest, RemovedFilesAreNamed) {
  sign();
  fs::remove(job_ / "app/config" / kJobSignatureFile);
  fs::remove(job_ / "app/custom/train.py");
  fs::remove(job_ / "app/custom" / kSubmitterCertFile);
  std::string m = failure();
  EXPECT_NE(m.find("app/config/.__nvfl_sig.json: missing"), std::string::npos) << m;
  EXPECT_NE(m.find("app/custom/train.py: signed but missing"), std::string::npos) << m;
  EXPECT_NE(m.find("app/custom/.__nvfl_submitter.crt: missing"), std::string::npos) << m;
}

TEST_F(JobSignatureTest, CertificateFromAnotherCaIsRejected) {
  auto other_ca = make_root_ca("other_project");
  ASSERT_TRUE(other_ca.ok());
  auto intruder =
      issue_certificate(*other_ca, admin_request("admin@nvidia.com", "nvidia", "project_admin"));
  ASSERT_TRUE(intruder.ok());
  Status s = sign_job_folder(job_, intruder->key_pem, intruder->cert_pem);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::string m = failure();
  // Reported once, for the top folder that every other folder copies.
  EXPECT_EQ(m,
            "job signature verification failed: .__nvfl_submitter.crt: certificate does not "
            "verify against the root CA: unable to get local issuer certificate");
}

TEST_F(JobSignatureTest, SubfolderSignedByAnotherAdminIsRejected) {
  sign();
  auto other = issue_certificate(ca_, admin_request("lead@a.org", "a.org", "lead"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(sign_job_folder(job_ / "app" / "custom", other->key_pem, other->cert_pem).ok());
  std::string m = failure();
  EXPECT_NE(m.find("app/custom/.__nvfl_submitter.crt: not the certificate of the job's submitter"),
            std::string::npos)
      << m;
}

TEST_F(JobSignatureTest, KeyOfAnotherCertificateIsRefused) {
  auto other = issue_certificate(ca_, admin_request("lead@a.org", "a.org", "lead"));
  ASSERT_TRUE(other.ok());
  Status s = sign_job_folder(job_, other->key_pem, admin_.cert_pem);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not belong to the certificate"), std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(job_ / kJobSignatureFile));
}

TEST_F(JobSignatureTest, MissingFolderIsNotFound) {
  EXPECT_EQ(sign_job_folder(root_ / "nope", admin_.key_pem, admin_.cert_pem).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(verify_job_folder(root_ / "nope", ca_.cert_pem).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace nvf::security
