#include "cellnet/relay_cache.h"

#include <algorithm>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cellnet/download_wire_internal.h"
#include "cellnet/fqcn.h"

namespace nvf::cellnet {
namespace {

namespace wire = download_wire;
using Clock = std::chrono::steady_clock;

// Each entry counts at least this much against max_bytes (its bookkeeping too), so tiny ranges
// asked by a child cannot grow the table without bound.
constexpr uint64_t kMinEntryBytes = 4096;
// Receivers remembered per ref; a child naming more is served but not counted.
constexpr size_t kMaxReceiversPerRef = 4096;

struct Entry {
  std::string ref_key;
  uint64_t held = 0;  // bytes counted against max_bytes
  bool ready = false;
  Message reply;  // the download headers and the payload, once ready
  std::vector<Responder> waiters;
  std::set<std::string> takers;  // receivers that asked for it
  Clock::time_point last_used;
};

struct RefInfo {
  std::set<std::string> seen, done;
  bool all_done = false;  // every child seen so far said "done"
  Clock::time_point last_used;
  uint64_t fetched_bytes = 0, served_bytes = 0;
};

// Only the download vocabulary travels on: routing and auth headers are the cell's business.
Message clean_reply(const Message& reply) {
  Message m;
  for (std::string_view k : {wire::kCode, wire::kError, wire::kOffset, wire::kLength, wire::kEof}) {
    if (auto v = reply.headers.get(k)) m.headers.set(k, std::string(*v));
  }
  m.payload = reply.payload;
  return m;
}

}  // namespace

struct RelayCache::Core : std::enable_shared_from_this<RelayCache::Core> {
  Cell* cell = nullptr;
  RelayCacheOptions opt;
  mutable std::mutex mu;
  bool open = false;                                       // guarded by mu
  std::map<std::string, std::shared_ptr<Entry>> entries;   // by source, ref, item, range; guarded by mu
  std::map<std::string, RefInfo> refs;                     // by source and ref; guarded by mu
  RelayCacheStats stats;                                   // guarded by mu
  Clock::time_point last_sweep;                            // guarded by mu

  void drop_locked(std::map<std::string, std::shared_ptr<Entry>>::iterator it) {
    stats.held_bytes -= it->second->held;
    entries.erase(it);
  }

  // Drops the ready entries of a ref (fetches in flight finish and are then not kept).
  void drop_ref_locked(const std::string& ref_key) {
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->second->ref_key == ref_key && it->second->ready) {
        stats.held_bytes -= it->second->held;
        it = entries.erase(it);
      } else {
        if (it->second->ref_key == ref_key) it->second->ref_key.clear();  // not kept when it lands
        ++it;
      }
    }
    refs.erase(ref_key);
  }

  void sweep_locked(Clock::time_point now, bool force = false) {
    if (!force && now - last_sweep < std::chrono::seconds(1)) return;
    last_sweep = now;
    // A ref every child finished goes once none came back for done_grace (a child that starts
    // later than the others still finds it).
    std::vector<std::string> finished;
    for (const auto& [key, info] : refs) {
      if (info.all_done && now - info.last_used >= opt.done_grace) finished.push_back(key);
    }
    for (const auto& key : finished) drop_ref_locked(key);
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->second->ready && now - it->second->last_used > opt.idle_release) {
        stats.held_bytes -= it->second->held;
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = refs.begin(); it != refs.end();) {
      it = now - it->second.last_used > opt.idle_release ? refs.erase(it) : std::next(it);
    }
  }

  // Every child seen pulling the entry's ref has taken it: it is the first to go when room is
  // needed (a child that starts later may still want it, so it is not dropped before that).
  bool taken_by_all_locked(const Entry& e) const {
    auto r = refs.find(e.ref_key);
    return r == refs.end() || r->second.all_done || e.takers.size() >= r->second.seen.size();
  }

  // Makes room for `need` bytes: drops ready entries every child of their ref took, then the
  // least recently used ones, the oldest first. (Keeping the entries children behind still need
  // and passing the leader's requests through instead measured the same on a POC, and a child
  // that stalls would then keep the cache full until idle_release.)
  bool make_room_locked(uint64_t need) {
    while (stats.held_bytes + need > opt.max_bytes) {
      auto victim = entries.end();
      bool victim_taken = false;
      for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (!it->second->ready) continue;
        const bool taken = taken_by_all_locked(*it->second);
        if (victim == entries.end() || (taken && !victim_taken) ||
            (taken == victim_taken && it->second->last_used < victim->second->last_used)) {
          victim = it;
          victim_taken = taken;
        }
      }
      if (victim == entries.end()) return false;
      drop_locked(victim);
    }
    return true;
  }

  bool on_request(const Message& request, Responder respond) {
    const Headers& h = request.headers;
    const std::string op = h.get_or(wire::kOp, "");
    const std::string source = h.get_or(hdr::kDestination, "");
    // Only what children pull from above: the server job pulling a child's result is one receiver
    // of one-off bytes, nothing to share.
    const std::string& self = cell->fqcn();
    if (!fqcn::is_ancestor(self, h.get_or(hdr::kOrigin, "")) || fqcn::is_ancestor(self, source)) return false;
    const std::string ref_key = source + "\n" + h.get_or(wire::kRef, "");
    std::string receiver = h.get_or(wire::kReceiver, "");
    if (receiver.empty()) receiver = h.get_or(hdr::kOrigin, "?");
    const auto now = Clock::now();
    std::shared_ptr<Entry> fetch;
    std::string key;
    {
      std::unique_lock<std::mutex> lock(mu);
      if (!open) return false;
      sweep_locked(now);
      if (op == wire::kOpDone) {
        auto r = refs.find(ref_key);
        std::optional<RelayRefReport> report;
        if (r != refs.end()) {
          r->second.done.insert(receiver);
          r->second.last_used = now;
          if (!r->second.all_done && std::includes(r->second.done.begin(), r->second.done.end(),
                                                   r->second.seen.begin(), r->second.seen.end())) {
            report = RelayRefReport{source, h.get_or(wire::kRef, ""), r->second.seen.size(),
                                    r->second.fetched_bytes, r->second.served_bytes, stats.fetched_bytes};
            r->second.all_done = true;  // its entries go first when room is needed, all after done_grace
          }
        }
        if (report && opt.on_ref_done) {
          lock.unlock();
          opt.on_ref_done(*report);
        }
        return false;  // the source counts every receiver's completion
      }
      if (op != wire::kOpGet) return false;
      RefInfo& info = refs[ref_key];
      if (info.seen.size() < kMaxReceiversPerRef && info.seen.insert(receiver).second) info.all_done = false;
      info.last_used = now;
      key = ref_key + "\n" + h.get_or(wire::kItem, "") + "\n" + h.get_or(wire::kOffset, "") + "\n" +
            h.get_or(wire::kLength, "");
      auto it = entries.find(key);
      if (it != entries.end()) {
        std::shared_ptr<Entry> e = it->second;
        e->last_used = now;
        if (e->takers.size() < kMaxReceiversPerRef) e->takers.insert(receiver);
        ++stats.served_from_cache;
        info.served_bytes += e->held;
        if (!e->ready) {
          e->waiters.push_back(std::move(respond));
          return true;
        }
        Message reply = clean_reply(e->reply);
        lock.unlock();
        respond(std::move(reply));  // queues a frame: quick
        return true;
      }
      const int64_t asked = h.get_int(wire::kLength).value_or(0);
      const uint64_t want = std::max<uint64_t>(asked > 0 ? static_cast<uint64_t>(asked) : 0, kMinEntryBytes);
      if (asked <= 0 || want > opt.max_bytes || !make_room_locked(want)) {
        ++stats.passed_through;
        return false;
      }
      fetch = std::make_shared<Entry>();
      fetch->ref_key = ref_key;
      fetch->held = want;
      fetch->last_used = now;
      fetch->takers.insert(receiver);
      fetch->waiters.push_back(std::move(respond));
      entries[key] = fetch;
      stats.held_bytes += want;
      stats.peak_held_bytes = std::max(stats.peak_held_bytes, stats.held_bytes);
      ++stats.fetches;
    }
    Message ask;
    for (std::string_view k : {wire::kOp, wire::kRef, wire::kItem, wire::kOffset, wire::kLength, wire::kReceiver}) {
      if (auto v = h.get(k)) ask.headers.set(k, std::string(*v));
    }
    if (!ask.headers.has(wire::kReceiver)) ask.headers.set(wire::kReceiver, receiver);
    std::weak_ptr<Core> weak = shared_from_this();
    cell->request_async(source, std::string(wire::kChannel), std::string(wire::kTopic), std::move(ask),
                        opt.fetch_timeout, [weak, key, fetch](Result<Message> r) {
                          if (auto core = weak.lock()) core->fetched(key, fetch, std::move(r));
                        });
    return true;
  }

  void fetched(const std::string& key, const std::shared_ptr<Entry>& e, Result<Message> r) {
    std::vector<Responder> waiters;
    Result<Message> answer = r.ok() ? Result<Message>(clean_reply(*r)) : Result<Message>(r.status());
    {
      std::lock_guard<std::mutex> lock(mu);
      waiters.swap(e->waiters);
      auto it = entries.find(key);
      const bool mine = it != entries.end() && it->second == e;
      const std::string code = r.ok() ? r->headers.get_or(wire::kCode, "0") : "";
      if (r.ok()) {
        stats.fetched_bytes += r->payload.size();
        auto info = refs.find(e->ref_key);
        if (info != refs.end()) {
          info->second.fetched_bytes += r->payload.size();
          info->second.served_bytes += r->payload.size();
        }
      }
      if (mine && r.ok() && code == "0" && !e->ref_key.empty()) {
        const uint64_t held = std::max<uint64_t>(r->payload.size(), kMinEntryBytes);
        stats.held_bytes = stats.held_bytes - e->held + held;
        stats.peak_held_bytes = std::max(stats.peak_held_bytes, stats.held_bytes);
        e->held = held;
        e->ready = true;
        e->reply = *answer;
        e->last_used = Clock::now();
      } else {
        if (mine) drop_locked(it);  // errors are not kept: a retry asks the source again
        if (r.ok() && code == std::to_string(static_cast<int>(StatusCode::kNotFound))) drop_ref_locked(e->ref_key);
      }
    }
    for (auto& w : waiters) w(answer);
  }
};

RelayCache::RelayCache(Cell& cell, RelayCacheOptions options) : core_(std::make_shared<Core>()) {
  core_->cell = &cell;
  core_->opt = options;
}

RelayCache::~RelayCache() { close(); }

void RelayCache::install() {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->open = true;
  }
  std::weak_ptr<Core> weak = core_;
  core_->cell->intercept_forwarded(std::string(download_wire::kChannel), std::string(download_wire::kTopic),
                                   [weak](const Message& m, Responder respond) {
                                     auto core = weak.lock();
                                     return core && core->on_request(m, std::move(respond));
                                   });
}

void RelayCache::close() {
  std::vector<Responder> waiters;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->open = false;
    for (auto& [k, e] : core_->entries) {
      for (auto& w : e->waiters) waiters.push_back(std::move(w));
      e->waiters.clear();
    }
    core_->entries.clear();
    core_->refs.clear();
    core_->stats.held_bytes = 0;
  }
  for (auto& w : waiters) w(UnavailableError("the relay's download cache was closed"));
}

void RelayCache::sweep() {
  std::lock_guard<std::mutex> lock(core_->mu);
  core_->sweep_locked(Clock::now(), true);
}

RelayCacheStats RelayCache::stats() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  RelayCacheStats s = core_->stats;
  s.entries = core_->entries.size();
  return s;
}

}  // namespace nvf::cellnet
