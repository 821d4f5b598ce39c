// The project's scheme in a startup kit: tcp reaches the TLS socket driver (stcp), grpc and
// FLARE's other schemes the gRPC driver, each plain when the kit is clear; a scheme FLARE does not
// know is refused naming the file and the field.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/files.h"
#include "runtime/startup_kit.h"

namespace nvf::runtime {
namespace {

namespace fs = std::filesystem;

TEST(StartupKitTest, UrlSchemesFollowTheProjectSchemeAndSecurity) {
  EXPECT_EQ(url_scheme("tcp", "mtls"), "stcp");
  EXPECT_EQ(url_scheme("tcp", "tls"), "stcp");
  EXPECT_EQ(url_scheme("tcp", "clear"), "tcp");
  EXPECT_EQ(url_scheme("stcp", "mtls"), "stcp");
  EXPECT_EQ(url_scheme("atcp", "mtls"), "stcp");
  EXPECT_EQ(url_scheme("satcp", "clear"), "tcp");
  EXPECT_EQ(url_scheme("grpc", "mtls"), "grpcs");
  EXPECT_EQ(url_scheme("grpc", "clear"), "grpc");
  EXPECT_EQ(url_scheme("http", "mtls"), "grpcs");  // FLARE's POC default runs on gRPC here
  EXPECT_EQ(url_scheme("agrpc", "tls"), "grpcs");
}

// A client kit whose servers[0].service is `service` (JSON).
fs::path client_kit(const fs::path& root, const std::string& service) {
  fs::create_directories(root / "startup");
  std::string json = R"({"format_version": 2, "servers": [{"name": "example_project", "service": )" + service +
                     R"(, "identity": "server"}], "client": {"fqsn": "site-1", "connection_security": "mtls"},
                     "overseer_agent": {"args": {"sp_end_point": "server:8002:8003"}}})";
  EXPECT_TRUE(base::atomic_write(root / "startup" / "fed_client.json", json).ok());
  return root;
}

TEST(StartupKitTest, AClientKitWithSchemeTcpConnectsOverTlsSockets) {
  auto made = base::make_temp_dir("nvf-kit");
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  base::ScopedRemove dir(*made);
  auto kit = load_client_kit(client_kit(dir.path() / "site-1", R"({"scheme": "tcp"})"), "fed_client.json");
  ASSERT_TRUE(kit.ok()) << kit.status().to_string();
  EXPECT_EQ(kit->scheme, "tcp");
  EXPECT_EQ(server_url(*kit, kit->server), "stcp://server:8002");

  auto grpc = load_client_kit(client_kit(dir.path() / "site-2", R"({})"), "fed_client.json");
  ASSERT_TRUE(grpc.ok()) << grpc.status().to_string();
  EXPECT_EQ(grpc->scheme, "grpc");
  EXPECT_EQ(server_url(*grpc, grpc->server), "grpcs://server:8002");
}

TEST(StartupKitTest, AnUnknownSchemeIsRefusedNamingTheFileAndField) {
  auto made = base::make_temp_dir("nvf-kit");
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  base::ScopedRemove dir(*made);
  auto root = client_kit(dir.path() / "site-1", R"({"scheme": "tpc"})");
  auto kit = load_client_kit(root, "fed_client.json");
  ASSERT_FALSE(kit.ok());
  EXPECT_EQ(kit.status().code(), StatusCode::kInvalidArgument);
  const std::string m = kit.status().message();
  EXPECT_NE(m.find((root / "startup" / "fed_client.json").string()), std::string::npos) << m;
  EXPECT_NE(m.find("servers[0].service.scheme 'tpc'"), std::string::npos) << m;
  EXPECT_NE(m.find("use grpc"), std::string::npos) << m;

  auto number = load_client_kit(client_kit(dir.path() / "site-2", R"({"scheme": 7})"), "fed_client.json");
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.status().message().find("servers[0].service.scheme must be a string"), std::string::npos)
      << number.status().to_string();
}

}  // namespace
}  // namespace nvf::runtime
