// `nvflare provision`: turns a project.yml (api_version 3) into signed startup kits as FLARE's
// provisioning does: <workspace>/<project>/prod_NN/<participant>/{startup,local,transfer}, a root
// CA and participant certificates persisted in <workspace>/<project>/state/cert.json (reused on
// re-provision), signature.json in every startup/ and local/.
//
// The project file is validated completely before anything is written; a failure while building
// removes the incomplete prod_NN folder. Stateless functions; one provision per workspace at a
// time.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "base/status.h"

namespace nvf::tools {

struct ProvisionOptions {
  std::filesystem::path project_file;             // -p
  std::filesystem::path workspace = "workspace";  // -w
  std::filesystem::path custom_folder = ".";      // -c (accepted; no custom builders in this build)
  bool gen_scripts = false;                       // -s: prod_NN/start_all.sh
  bool poc = false;  // POC mode (`nvflare poc prepare`): fed_admin.json username "", uid_source "cert"
  std::string
      nvflare_bin;  // recorded in the kit's scripts as the fallback when nvflare is not on PATH
  std::function<void(const std::string&)> print;  // progress lines (stdout)
  std::function<void(const std::string&)> warn;   // warnings (stderr)
};

/// Writes FLARE's sample project.yml to `path` (refusing to overwrite an existing file) and
/// prints "<path> was generated.  Please edit it ...". Errors: ALREADY_EXISTS, file-system errors.
Status generate_sample_project(const std::filesystem::path& path,
                               const std::function<void(const std::string&)>& print);

/// Provisions the project. Returns the prod_NN folder. Errors: INVALID_ARGUMENT for the project
/// file ("API version expected 3 but found 2", "missing participant org", ...; nothing written),
/// FAILED_PRECONDITION for a state that cannot be reused (an admin's role changed), file-system
/// and OpenSSL errors while building (the incomplete prod_NN is removed).
Result<std::filesystem::path> run_provision(const ProvisionOptions& options);

}  // namespace nvf::tools
