#include "cellnet/driver.h"

#include <charconv>

namespace nvf::cellnet {

std::string Url::to_string() const {
  if (host.empty() && port == 0) return scheme + "://" + path;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port) + path;
}

Result<Url> parse_url(const std::string& url) {
  auto bad = [&](const std::string& why) { return InvalidArgumentError("bad URL '" + url + "': " + why); };
  auto sep = url.find("://");
  if (sep == std::string::npos || sep == 0) return bad("expected scheme://host:port");
  Url out;
  out.scheme = url.substr(0, sep);
  std::string rest = url.substr(sep + 3);
  if (out.scheme == "uds" || out.scheme == "inproc") {
    if (rest.empty()) return bad("missing " + std::string(out.scheme == "uds" ? "socket path" : "name"));
    out.path = rest;
    return out;
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) out.path = rest.substr(slash);
  std::string port;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return bad("unterminated [ in host");
    out.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else {
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) return bad("missing :port");
    out.host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (out.host.empty()) return bad("missing host");
  if (out.host == "0") out.host = "0.0.0.0";
  int p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535) {
    return bad("port '" + port + "' is not a number in 0..65535");
  }
  out.port = p;
  return out;
}

}  // namespace nvf::cellnet
