#include "cellnet/download_cache.h"

#include <exception>
#include <memory>

namespace nvf::cellnet {

Result<Slice> ChunkCache::get(size_t item, uint64_t offset, uint64_t length,
                              const std::string& receiver,
                              const std::function<Result<Slice>()>& produce) {
  const Key key{item, offset, length};
  std::shared_future<Result<Slice>> chunk;
  std::shared_ptr<std::promise<Result<Slice>>> mine;  // set when this thread produces
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      mine = std::make_shared<std::promise<Result<Slice>>>();
      generation = ++next_generation_;
      it = entries_.emplace(key, Entry{mine->get_future().share(), {}, generation}).first;
    }
    chunk = it->second.chunk;
    it->second.receivers.insert(receiver);
    if (num_receivers_ > 0 && it->second.receivers.size() >= num_receivers_) entries_.erase(it);
  }
  if (mine) {
    Result<Slice> produced = InternalError("chunk production did not run");
    try {
      produced = produce();
    } catch (const std::exception& e) {
      produced = InternalError(std::string("producing a chunk threw: ") + e.what());
    }
    if (!produced.ok()) {
      // Do not cache a failure: the receiver's retry must produce the chunk again.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(key);
      if (it != entries_.end() && it->second.generation == generation) entries_.erase(it);
    }
    mine->set_value(std::move(produced));
  }
  return chunk.get();
}

void ChunkCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

size_t ChunkCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace nvf::cellnet
