#include "cellnet/composite_driver.h"

#include <algorithm>

namespace nvf::cellnet {

CompositeDriver::CompositeDriver(std::vector<std::shared_ptr<Driver>> drivers) : drivers_(std::move(drivers)) {}

CompositeDriver::~CompositeDriver() { stop(); }

std::vector<std::string> CompositeDriver::schemes() const {
  std::vector<std::string> all;
  for (const auto& d : drivers_) {
    for (auto& s : d->schemes()) {
      if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(std::move(s));
    }
  }
  return all;
}

Result<Driver*> CompositeDriver::find(const std::string& url) const {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  for (const auto& d : drivers_) {
    for (const auto& s : d->schemes()) {
      if (s == u.scheme) return d.get();
    }
  }
  std::string served;
  for (const auto& s : schemes()) served += (served.empty() ? "" : ", ") + s;
  return InvalidArgumentError("no driver serves the scheme '" + u.scheme + "' of '" + url + "' (served: " +
                              served + ")");
}

Result<std::unique_ptr<Listener>> CompositeDriver::listen(const std::string& url, ConnectionHandler* handler) {
  NVF_ASSIGN_OR_RETURN(Driver * d, find(url));
  return d->listen(url, handler);
}

Result<std::shared_ptr<Connection>> CompositeDriver::connect(const std::string& url, ConnectionHandler* handler,
                                                             std::chrono::milliseconds timeout) {
  NVF_ASSIGN_OR_RETURN(Driver * d, find(url));
  return d->connect(url, handler, timeout);
}

void CompositeDriver::stop() {
  for (const auto& d : drivers_) d->stop();
}

}  // namespace nvf::cellnet
