// One Driver over several, chosen by each URL's scheme: what a process hands out as its external
// driver when it speaks more than one scheme (grpc/grpcs from cellnet_grpc, stcp from cellnet_tls,
// plain tcp). Listeners and connections belong to the driver that made them.
//
// Threads: as the drivers it holds; stop() stops each of them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cellnet/driver.h"

namespace nvf::cellnet {

class CompositeDriver : public Driver {
 public:
  /// A later driver does not replace an earlier one for a scheme both serve: the first wins.
  explicit CompositeDriver(std::vector<std::shared_ptr<Driver>> drivers);
  ~CompositeDriver() override;

  std::vector<std::string> schemes() const override;
  /// Errors: INVALID_ARGUMENT for a URL whose scheme no driver serves (naming those served),
  /// else the chosen driver's.
  Result<std::unique_ptr<Listener>> listen(const std::string& url, ConnectionHandler* handler) override;
  Result<std::shared_ptr<Connection>> connect(const std::string& url, ConnectionHandler* handler,
                                              std::chrono::milliseconds timeout) override;
  void stop() override;

 private:
  Result<Driver*> find(const std::string& url) const;

  const std::vector<std::shared_ptr<Driver>> drivers_;
};

}  // namespace nvf::cellnet
