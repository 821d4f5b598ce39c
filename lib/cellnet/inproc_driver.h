// InprocDriver: an in-process "network" for cells that share one process (the simulator, tests).
// It is an object, not a global: whoever creates it (the simulator) hands the same instance to
// every cell that should reach the others. `listen("inproc://name")` registers a name;
// `connect("inproc://name")` creates a connected pair of connections.
//
// Frames pass by value: payload slices are shared, never copied or encoded. Each connection
// side owns one delivery thread that calls its handler (on_connected, then frames in order, then
// on_closed), so a sender never runs the peer's handler on its own thread. Control frames
// overtake queued bulk frames (a SendQueue per direction). close() on either side ends both
// sides, each handler seeing on_closed exactly once.
//
// Ownership and threads: the creator owns the driver; listeners and connections may outlive it
// (they become closed). All methods may be called from any thread; stop() (and the destructor)
// must not be called from a handler callback of this driver, since it joins the delivery threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cellnet/driver.h"

namespace nvf::cellnet {

class InprocDriver : public Driver {
 public:
  explicit InprocDriver(DriverOptions options = {});
  ~InprocDriver() override;
  InprocDriver(const InprocDriver&) = delete;
  InprocDriver& operator=(const InprocDriver&) = delete;

  /// {"inproc"}.
  std::vector<std::string> schemes() const override;
  /// Registers `inproc://name`. Errors: INVALID_ARGUMENT (not an inproc URL), UNAVAILABLE (the
  /// name is taken, or the driver was stopped).
  Result<std::unique_ptr<Listener>> listen(const std::string& url,
                                           ConnectionHandler* handler) override;
  /// Connects to a registered name; never waits, so `timeout` is unused.
  /// Errors: INVALID_ARGUMENT (not an inproc URL), UNAVAILABLE (no listener of that name, or the
  /// driver was stopped).
  Result<std::shared_ptr<Connection>> connect(const std::string& url, ConnectionHandler* handler,
                                              std::chrono::milliseconds timeout) override;
  /// Stops every listener, closes every connection and joins the delivery threads.
  void stop() override;

  struct Network;  // shared with listeners and connections (defined in the .cc)

 private:
  std::shared_ptr<Network> net_;
};

}  // namespace nvf::cellnet
