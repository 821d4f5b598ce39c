#include "cellnet/driver.h"

#include "base/files.h"

namespace nvf::cellnet {

Result<std::string> read_tls_pem(const std::string& path, const char* field) {
  if (path.empty()) {
    return FailedPreconditionError(std::string("TLS is on but tls.") + field + " is empty: set it to a PEM file");
  }
  auto text = base::read_file(path);
  if (!text.ok()) {
    return FailedPreconditionError("cannot read TLS file '" + path + "' (tls." + field +
                                   "): " + text.status().message());
  }
  if (text->find("-----BEGIN") == std::string::npos) {
    return FailedPreconditionError("TLS file '" + path + "' (tls." + field + ") holds no PEM block");
  }
  return std::move(text).value();
}

}  // namespace nvf::cellnet
