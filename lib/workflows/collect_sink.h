// CollectSink: a ResultSink that keeps each client's whole result (owned copies of its tensors),
// for workflows that need a result as a model rather than folded into a mean: Cyclic passes it to
// the next site, cross-site evaluation stores it and sends it out for validation, FedEval and the
// Newton solver read metrics and statistics from it.
//
// Threads: the sink methods are called from download threads; take() from the controller thread
// after the task's wait().
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "workflows/controller.h"

namespace nvf::fl {

class CollectSink : public ResultSink {
 public:
  struct Entry {
    Status status;
    FLModel model;  // header and params (owned)
  };

  Status on_begin(const std::string& client, const FLModel& header) override {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = entries_[client];
    e.model = FLModel();
    e.model.params_type = header.params_type;
    return Status::OK();
  }
  Status on_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) override {
    NVF_ASSIGN_OR_RETURN(tensor::Tensor own, t.clone());
    std::lock_guard<std::mutex> lock(mu_);
    return entries_[client].model.params.insert(name, std::move(own));
  }
  void on_result(const std::string& client, const Status& status, const FLModel& model) override {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = entries_[client];
    e.status = status;
    tensor::TensorDict params = std::move(e.model.params);
    auto header = view_of(model);
    if (header.ok()) {
      e.model = std::move(header).value();
      e.model.params = std::move(params);
    }
    if (!status.ok()) e.model.params = tensor::TensorDict();
  }

  /// The results received (OK or not), by client; the sink is empty afterwards.
  std::map<std::string, Entry> take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, Entry> out = std::move(entries_);
    entries_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace nvf::fl
