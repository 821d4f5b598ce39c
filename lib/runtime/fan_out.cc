#include "runtime/fan_out.h"

#include <future>
#include <memory>

namespace nvf::runtime {

std::vector<std::pair<std::string, Result<cellnet::Message>>> ask_all(cellnet::Cell& cell,
                                                                      const std::vector<std::string>& targets,
                                                                      std::string_view channel, std::string_view topic,
                                                                      const cellnet::Message& order,
                                                                      std::chrono::milliseconds timeout) {
  std::vector<std::future<Result<cellnet::Message>>> replies;
  replies.reserve(targets.size());
  for (const auto& target : targets) {
    auto promise = std::make_shared<std::promise<Result<cellnet::Message>>>();
    replies.push_back(promise->get_future());
    cellnet::Message copy;
    copy.headers = order.headers;
    copy.payload = order.payload;
    cell.request_async(target, std::string(channel), std::string(topic), std::move(copy), timeout,
                       [promise](Result<cellnet::Message> r) { promise->set_value(std::move(r)); });
  }
  std::vector<std::pair<std::string, Result<cellnet::Message>>> out;
  out.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) out.emplace_back(targets[i], replies[i].get());
  return out;
}

}  // namespace nvf::runtime
