#include "security/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/files.h"
#include "security/signing.h"
#include "test_util.h"

namespace nvf::security {
namespace {

using test_util::run_openssl;
namespace fs = std::filesystem;

CertRequest request(std::string cn, std::string org, std::vector<std::string> hosts = {},
                    std::string role = "") {
  CertRequest r;
  r.common_name = std::move(cn);
  r.org = std::move(org);
  r.host_names = std::move(hosts);
  r.role = std::move(role);
  return r;
}

class PkiTest : public test_util::TempDirTest {
 protected:
  static void SetUpTestSuite() {
    auto ca = make_root_ca("example_project");
    ASSERT_TRUE(ca.ok()) << ca.status().to_string();
    ca_ = new Credential(*ca);
  }
  static void TearDownTestSuite() { delete ca_; }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = root_ / name;
    EXPECT_TRUE(base::atomic_write(p, text).ok());
    return p;
  }
  static Credential* ca_;
};
Credential* PkiTest::ca_ = nullptr;

TEST_F(PkiTest, RootCaIsSelfSignedCaWithProjectName) {
  auto info = describe_certificate(ca_->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->common_name, "example_project");
  EXPECT_EQ(info->issuer_common_name, "example_project");
  EXPECT_TRUE(info->is_ca);
  EXPECT_NE(ca_->key_pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(verify_certificate(ca_->cert_pem, ca_->cert_pem).ok());
}

TEST_F(PkiTest, ServerAndClientCertsVerifyInProcessAndWithOpensslTool) {
  auto server = issue_certificate(
      *ca_, request("server1", "nvidia", {"server1", "fl.example.com", "10.0.0.5"}));
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto client = issue_certificate(*ca_, request("site-1", "nvidia"));
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  EXPECT_TRUE(verify_certificate(server->cert_pem, ca_->cert_pem).ok());
  EXPECT_TRUE(verify_certificate(client->cert_pem, ca_->cert_pem).ok());

  fs::path root_pem = write("rootCA.pem", ca_->cert_pem);
  for (const auto& [name, cred] :
       {std::pair{"server.crt", *server}, std::pair{"client.crt", *client}}) {
    fs::path crt = write(name, cred.cert_pem);
    auto r = run_openssl({"verify", "-CAfile", root_pem.string(), crt.string()});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.out;
    EXPECT_NE(r.out.find(": OK"), std::string::npos) << r.out;
  }
}

TEST_F(PkiTest, CertFromAnotherCaFailsBothVerifications) {
  auto other_ca = make_root_ca("other_project");
  ASSERT_TRUE(other_ca.ok());
  auto stranger = issue_certificate(*other_ca, request("site-9", "evil"));
  ASSERT_TRUE(stranger.ok());
  Status s = verify_certificate(stranger->cert_pem, ca_->cert_pem);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("unable to get local issuer certificate"), std::string::npos)
      << s.message();

  fs::path root_pem = write("rootCA.pem", ca_->cert_pem);
  fs::path crt = write("client.crt", stranger->cert_pem);
  auto r = run_openssl({"verify", "-CAfile", root_pem.string(), crt.string()});
  EXPECT_NE(r.exit_code, 0) << r.out;
}

TEST_F(PkiTest, ServerSanHoldsHostNamesAsDnsAndIp) {
  auto server = issue_certificate(
      *ca_, request("server1", "nvidia", {"server1", "fl.example.com", "10.0.0.5"}));
  ASSERT_TRUE(server.ok());
  auto info = describe_certificate(server->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"server1", "fl.example.com"}));
  EXPECT_EQ(info->ip_addresses, (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_FALSE(info->is_ca);

  fs::path crt = write("server.crt", server->cert_pem);
  auto r = run_openssl({"x509", "-noout", "-ext", "subjectAltName", "-in", crt.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("DNS:server1, DNS:fl.example.com, IP Address:10.0.0.5"), std::string::npos)
      << r.out;
}

TEST_F(PkiTest, AdminCertCarriesOrgAndRole) {
  auto admin = issue_certificate(*ca_, request("admin@nvidia.com", "nvidia", {}, "project_admin"));
  ASSERT_TRUE(admin.ok()) << admin.status().to_string();
  auto info = describe_certificate(admin->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "admin@nvidia.com");
  EXPECT_EQ(info->org, "nvidia");
  EXPECT_EQ(info->role, "project_admin");
  EXPECT_EQ(*common_name(admin->cert_pem), "admin@nvidia.com");
}

TEST_F(PkiTest, PrivateKeyFileIsMode0600) {
  fs::path key = root_ / "client.key";
  ASSERT_TRUE(write_private_key(key, ca_->key_pem).ok());
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = run_openssl({"rsa", "-check", "-noout", "-in", key.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(PkiTest, GarbagePemIsRejectedWithOpensslReason) {
  auto info = describe_certificate("not a certificate");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("not a PEM certificate"), std::string::npos);
}

TEST_F(PkiTest, SignVerifyRoundTripAndTamperedByteFails) {
  std::string data = "fed_client.json contents";
  auto sig = sign_pss(ca_->key_pem, data);
  ASSERT_TRUE(sig.ok()) << sig.status().to_string();
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_TRUE(verify_pss(ca_->cert_pem, data, *sig).ok());
  std::string tampered = data;
  tampered[3] ^= 1;
  EXPECT_EQ(verify_pss(ca_->cert_pem, tampered, *sig).code(), StatusCode::kUnauthenticated);
  std::string bad_sig = *sig;
  bad_sig[10] ^= 1;
  EXPECT_EQ(verify_pss(ca_->cert_pem, data, bad_sig).code(), StatusCode::kUnauthenticated);
}

TEST_F(PkiTest, SignatureVerifiesWithOpensslPssMaxSalt) {
  std::string data = "abc";
  auto sig = sign_pss(ca_->key_pem, data);
  ASSERT_TRUE(sig.ok());
  fs::path d = write("data.bin", data);
  fs::path s = write("data.sig", *sig);
  fs::path crt = write("rootCA.pem", ca_->cert_pem);
  auto pub = run_openssl(
      {"x509", "-pubkey", "-noout", "-in", crt.string(), "-out", (root_ / "pub.pem").string()});
  ASSERT_EQ(pub.exit_code, 0) << pub.out;
  auto r = run_openssl({"dgst", "-sha256", "-verify", (root_ / "pub.pem").string(), "-sigopt",
                        "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:max", "-sigopt",
                        "rsa_mgf1_md:sha256", "-signature", s.string(), d.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(Base64Test, RoundTripsAllLengths) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x00\xff\x10"}) {
    auto back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(base64_encode("abcd"), "YWJjZA==");
  EXPECT_FALSE(base64_decode("abc").ok());
}

}  // namespace
}  // namespace nvf::security
