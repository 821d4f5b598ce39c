#include "cellnet/buffer.h"

#include <cstring>
#include <map>
#include <mutex>

#include "base/status.h"

namespace nvf::cellnet {

Slice Slice::copy_of(std::string_view bytes) { return from_string(std::string(bytes)); }

Slice Slice::from_string(std::string s) {
  auto owner = std::make_shared<std::string>(std::move(s));
  Slice out;
  out.data = reinterpret_cast<const std::byte*>(owner->data());
  out.size = owner->size();
  out.owner = owner;
  return out;
}

Slice Slice::allocate(size_t size, std::byte** out) {
  // Not zeroed: every caller fills the bytes (zeroing a received frame's buffer was a wasted pass).
  std::shared_ptr<std::byte[]> owner(new std::byte[size ? size : 1]);
  Slice s;
  s.data = owner.get();
  s.size = size;
  *out = owner.get();
  s.owner = std::shared_ptr<const void>(owner, owner.get());
  return s;
}

Slice Slice::sub(size_t offset, size_t length) const {
  NVF_CHECK(offset + length <= size);
  return Slice{data + offset, length, owner};
}

void Buffer::append(Slice s) {
  if (s.size == 0) return;
  size_ += s.size;
  slices_.push_back(std::move(s));
}

void Buffer::append(const Buffer& other) {
  for (const auto& s : other.slices_) append(s);
}

Buffer Buffer::sub(size_t offset, size_t length) const {
  NVF_CHECK(offset + length <= size_);
  Buffer out;
  for (const auto& s : slices_) {
    if (length == 0) break;
    if (offset >= s.size) {
      offset -= s.size;
      continue;
    }
    size_t take = std::min(s.size - offset, length);
    out.append(s.sub(offset, take));
    length -= take;
    offset = 0;
  }
  return out;
}

void Buffer::copy_to(size_t offset, size_t length, std::byte* dst) const {
  NVF_CHECK(offset + length <= size_);
  for (const auto& s : slices_) {
    if (length == 0) break;
    if (offset >= s.size) {
      offset -= s.size;
      continue;
    }
    size_t take = std::min(s.size - offset, length);
    std::memcpy(dst, s.data + offset, take);
    dst += take;
    length -= take;
    offset = 0;
  }
}

Slice Buffer::flatten() const {
  if (slices_.size() == 1) return slices_[0];
  std::byte* p = nullptr;
  Slice s = Slice::allocate(size_, &p);
  copy_to(0, size_, p);
  return s;
}

std::string Buffer::to_string() const {
  std::string out(size_, '\0');
  copy_to(0, size_, reinterpret_cast<std::byte*>(out.data()));
  return out;
}

struct BufferPool::State {
  std::mutex mu;
  size_t max_free_bytes;
  size_t free_bytes = 0;
  bool closed = false;                                      // the pool is gone: free on return
  std::multimap<size_t, std::unique_ptr<std::byte[]>> free;  // capacity -> block

  // A block comes back: kept while there is room, else freed.
  void give_back(std::unique_ptr<std::byte[]> block, size_t capacity) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed || free_bytes + capacity > max_free_bytes) return;  // `block` frees it
    free_bytes += capacity;
    free.emplace(capacity, std::move(block));
  }
};

BufferPool::BufferPool(size_t max_free_bytes) : state_(std::make_shared<State>()) {
  state_->max_free_bytes = max_free_bytes;
}

BufferPool::~BufferPool() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->closed = true;
  state_->free.clear();
  state_->free_bytes = 0;
}

Slice BufferPool::allocate(size_t size, std::byte** out) {
  const size_t want = size ? size : 1;
  std::unique_ptr<std::byte[]> block;
  size_t capacity = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->free.lower_bound(want);
    if (it != state_->free.end() && it->first / 2 <= want) {
      capacity = it->first;
      block = std::move(it->second);
      state_->free.erase(it);
      state_->free_bytes -= capacity;
    }
  }
  if (!block) {
    capacity = want;
    block.reset(new std::byte[capacity]);
  }
  std::byte* data = block.get();
  // The owner returns the block to the pool's state (which outlives the pool while blocks are out).
  std::shared_ptr<const void> owner(data, [state = state_, capacity, raw = block.release()](const void*) {
    state->give_back(std::unique_ptr<std::byte[]>(raw), capacity);
  });
  *out = data;
  return Slice{data, size, std::move(owner)};
}

size_t BufferPool::free_blocks() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->free.size();
}

size_t BufferPool::free_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->free_bytes;
}

}  // namespace nvf::cellnet
