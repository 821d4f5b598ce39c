// Cyclic weight transfer (FLARE's CyclicController, workflows spec §8.2): each round the global
// model travels through the sites one after another; each trains on what the previous one sent and
// its result (FULL replaces, DIFF adds) goes on to the next. The model is saved every
// persist_every_n_rounds rounds and at the end.
//
// Order per round: FIXED (the clients' sorted names, or the list given), RANDOM (shuffled each
// round), RANDOM_WITHOUT_SAME_IN_A_ROW (shuffled, and a round never starts with the site that
// ended the last one).
//
// Failures (a recorded change from FLARE, docs/decisions/018-workflow-library.md): a site that does
// not fetch the task within task_assignment_timeout, or that answers with an error, is skipped and
// the model goes on unchanged to the next site; FLARE stops the workflow on an error result. A
// round in which no site answered ends the job with a message naming every site and its error.
//
// Threads: run() on the controller thread.
#pragma once

#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "fl/component_registry.h"
#include "workflows/controller.h"
#include "workflows/persistor.h"

namespace nvf::workflows {

struct CyclicOptions {
  int num_rounds = 5;
  std::string task_name = "train";
  std::chrono::milliseconds task_assignment_timeout{10000};
  std::chrono::milliseconds task_timeout{0};  // per site; 0: none (the dead-client rule ends it)
  int persist_every_n_rounds = 1;
  std::string order = "FIXED";        // FIXED | RANDOM | RANDOM_WITHOUT_SAME_IN_A_ROW
  std::vector<std::string> sites;     // an explicit order (FIXED); empty: every client, sorted
  uint64_t seed = 0;                  // for RANDOM orders; 0: from the clock
};

class Cyclic : public fl::Component, public fl::Controller {
 public:
  Cyclic(CyclicOptions options, fl::ModelPersistor* persistor);
  Status run(fl::ControllerContext& ctx) override;
  config::Value stats() const override;
  std::vector<std::string> task_names() const override { return {opt_.task_name}; }

  /// The order of one round (exposed for tests). `last` is the site that ended the last round.
  std::vector<std::string> round_order(const std::vector<std::string>& clients, const std::string& last);

 private:
  CyclicOptions opt_;
  fl::ModelPersistor* persistor_;
  std::mt19937_64 rng_;
  mutable std::mutex stats_mu_;
  const char* phase_ = "init";
  int current_round_ = 0;
};

}  // namespace nvf::workflows
