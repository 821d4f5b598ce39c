#include "security/folder_signature.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "security/pki.h"
#include "security/signing.h"
#include "test_util.h"

namespace nvf::security {
namespace {
namespace fs = std::filesystem;

class FolderSignatureTest : public test_util::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto ca = make_root_ca("example_project");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    kit_ = root_ / "startup";
    ASSERT_TRUE(base::make_dirs(kit_ / "sub").ok());
    ASSERT_TRUE(base::atomic_write(kit_ / "fed_client.json", "{\"format_version\": 2}\n").ok());
    ASSERT_TRUE(base::atomic_write(kit_ / "rootCA.pem", ca_.cert_pem).ok());
    ASSERT_TRUE(base::atomic_write(kit_ / "sub" / "inner.txt", "inner").ok());
    ASSERT_TRUE(sign_folder(kit_, ca_.key_pem).ok());
  }
  Credential ca_;
  fs::path kit_;
};

TEST_F(FolderSignatureTest, SignedTreeVerifies) {
  EXPECT_TRUE(fs::exists(kit_ / "signature.json"));
  EXPECT_TRUE(fs::exists(kit_ / "sub" / "signature.json"));
  Status s = verify_folder_signatures(kit_, ca_.cert_pem);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

// Proves: signing and checking a file as it is read in pieces gives FLARE's signature of its
// bytes (the one-shot functions accept it and produce one it accepts) for a file of several
// pieces, a change in its last piece is caught, and a missing file is named.
TEST_F(FolderSignatureTest, FileSignaturesReadInPiecesMatchOneShotSignatures) {
  std::string big((3u << 20) + 5, 'a');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  const fs::path f = root_ / "checkpoint.bin";
  ASSERT_TRUE(base::atomic_write(f, big).ok());
  auto streamed = sign_pss_file(ca_.key_pem, f);
  ASSERT_TRUE(streamed.ok()) << streamed.status().to_string();
  EXPECT_TRUE(verify_pss(ca_.cert_pem, big, *streamed).ok());
  auto one_shot = sign_pss(ca_.key_pem, big);
  ASSERT_TRUE(one_shot.ok());
  EXPECT_TRUE(verify_pss_file(ca_.cert_pem, f, *one_shot).ok());
  big.back() = 'b';
  ASSERT_TRUE(base::atomic_write(f, big).ok());
  EXPECT_EQ(verify_pss_file(ca_.cert_pem, f, *one_shot).code(), StatusCode::kUnauthenticated);
  Status missing = verify_pss_file(ca_.cert_pem, root_ / "gone.bin", *one_shot);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("gone.bin"), std::string::npos) << missing.message();
}

TEST_F(FolderSignatureTest, NamesTamperedFile) {
  ASSERT_TRUE(base::atomic_write(kit_ / "fed_client.json", "{\"format_version\": 3}\n").ok());
  Status s = verify_folder_signatures(kit_, ca_.cert_pem);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("fed_client.json: invalid signature"), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("rootCA.pem"), std::string::npos) << s.message();
}

TEST_F(FolderSignatureTest, NamesUnsignedExtraFileInSubfolder) {
  ASSERT_TRUE(base::atomic_write(kit_ / "sub" / "extra.sh", "rm -rf /").ok());
  Status s = verify_folder_signatures(kit_, ca_.cert_pem);
  EXPECT_NE(s.message().find("sub/extra.sh: not signed"), std::string::npos) << s.message();
}

TEST_F(FolderSignatureTest, NamesMissingSignedFileAndMissingSignatureJson) {
  fs::remove(kit_ / "rootCA.pem");
  fs::remove(kit_ / "sub" / "signature.json");
  Status s = verify_folder_signatures(kit_, ca_.cert_pem);
  EXPECT_NE(s.message().find("rootCA.pem: signed but missing"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("sub/signature.json: missing"), std::string::npos) << s.message();
}

TEST_F(FolderSignatureTest, SignatureByAnotherCaIsRejected) {
  auto other = make_root_ca("other");
  ASSERT_TRUE(other.ok());
  Status s = verify_folder_signatures(kit_, other->cert_pem);
  EXPECT_NE(s.message().find("fed_client.json: invalid signature"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("sub: invalid signature"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nvf::security
