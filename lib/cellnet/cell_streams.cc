// Cell: streaming large payloads in chunks under a window of ACKs, and the monitor thread (reply
// deadlines, stalled connections, heartbeats, abandoned streams).
#include "cellnet/cell_internal.h"
#include "cellnet/fqcn.h"

namespace nvf::cellnet {
namespace {

void strip_stream_headers(Headers& h) {
  for (auto k : {hdr::kStreamType, hdr::kStreamId, hdr::kStreamSeq, hdr::kStreamOffset, hdr::kStreamSize, hdr::kHops,
                 hdr::kFrom, hdr::kTo}) {
    h.erase(k);
  }
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

void Cell::Impl::send_stream_error(const std::string& to, const std::string& sid,
                                   const std::string& error) {
  Message err;
  err.headers.set(hdr::kStreamType, "error");
  err.headers.set(hdr::kStreamId, sid);
  err.headers.set(hdr::kError, error);
  send_message(to, std::move(err), nullptr).ignore();
}

Status Cell::Impl::stream_message(const std::string& next, Message message) {
  std::string sid = new_id("s");
  const uint64_t total = message.payload.size();
  const std::string dest = message.headers.get_or(hdr::kDestination, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    tx_streams_[sid] = TxStream{next, 0, Clock::now(), Status::OK()};
    ++stats_.streams_sent;
  }
  auto finish = [&](Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tx_streams_.erase(sid);
    }
    if (!s.ok()) send_stream_error(dest, sid, s.message());
    return s;
  };
  Headers routing;
  routing.set(hdr::kOrigin, message.headers.get_or(hdr::kOrigin, opt.fqcn));
  routing.set(hdr::kDestination, dest);
  uint64_t offset = 0;
  for (int64_t seq = 0; offset < total; ++seq) {
    const uint64_t n = std::min<uint64_t>(opt.chunk_size, total - offset);
    Status wait_status;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        auto& tx = tx_streams_[sid];
        if (stopping_) {
          wait_status = CancelledError("cell " + opt.fqcn + " stopped while streaming to " + dest);
          break;
        }
        if (!tx.error.ok()) {
          wait_status = tx.error;
          break;
        }
        if (offset + n <= tx.acked + opt.window_size) break;
        if (Clock::now() - tx.last_progress > opt.ack_progress_timeout) {
          wait_status = DeadlineExceededError("stream to " + dest + " made no ACK progress for " +
                                              ms(opt.ack_progress_timeout) + " (streaming_ack_progress_timeout)");
          break;
        }
        cv_.wait_for(lock, opt.ack_check_interval);
      }
    }
    if (!wait_status.ok()) return finish(wait_status);
    Frame f;
    f.type = FrameType::kData;
    f.flags = kFlagBulk;
    f.headers = seq == 0 ? message.headers : routing;
    f.headers.set(hdr::kStreamType, "chunk");
    f.headers.set(hdr::kStreamId, sid);
    f.headers.set_int(hdr::kStreamSeq, seq);
    f.headers.set_int(hdr::kStreamOffset, static_cast<int64_t>(offset));
    if (seq == 0) f.headers.set_int(hdr::kStreamSize, static_cast<int64_t>(total));
    f.payload = message.payload.sub(offset, n);
    Status s = send_frame_to(next, std::move(f));
    if (!s.ok()) return finish(s);
    offset += n;
  }
  return finish(Status::OK());
}

void Cell::Impl::handle_chunk(const Connection* conn, Frame frame) {
  const std::string sid = frame.headers.get_or(hdr::kStreamId, "");
  const std::string origin = frame.headers.get_or(hdr::kOrigin, "");
  const int64_t seq = frame.headers.get_int(hdr::kStreamSeq).value_or(-1);
  const int64_t offset = frame.headers.get_int(hdr::kStreamOffset).value_or(-1);
  std::string error;
  bool ack = false, complete = false;
  uint64_t received = 0;
  Message done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rx_streams_.find(sid);
    if (seq == 0) {
      if (it != rx_streams_.end()) return;  // a duplicate first chunk
      int64_t total = frame.headers.get_int(hdr::kStreamSize).value_or(-1);
      if (total <= 0 || static_cast<uint64_t>(total) > opt.max_message_size) {
        error = "stream " + sid + " declares size " + std::to_string(total) + " outside 1.." +
                std::to_string(opt.max_message_size);
      } else {
        RxStream rx;
        rx.conn = conn;
        rx.headers = frame.headers;
        rx.total = static_cast<uint64_t>(total);
        it = rx_streams_.emplace(sid, std::move(rx)).first;
        ++stats_.streams_received;
      }
    } else if (it == rx_streams_.end()) {
      error = "unknown stream " + sid + " (chunk " + std::to_string(seq) + "): it expired or never started";
    }
    if (error.empty()) {
      RxStream& rx = it->second;
      if (seq != rx.next_seq || offset != static_cast<int64_t>(rx.data.size()) ||
          rx.data.size() + frame.payload.size() > rx.total) {
        error = "stream " + sid + " chunk " + std::to_string(seq) + " at offset " + std::to_string(offset) +
                " does not follow " + std::to_string(rx.next_seq) + " at " + std::to_string(rx.data.size()) +
                " (size " + std::to_string(rx.total) + ")";
        rx_streams_.erase(it);
      } else {
        rx.data.append(frame.payload);
        ++rx.next_seq;
        rx.last_activity = Clock::now();
        received = rx.data.size();
        if (received == rx.total) {
          complete = true;
          done.headers = std::move(rx.headers);
          done.payload = std::move(rx.data);
          rx_streams_.erase(it);
        } else if (received - rx.last_ack >= opt.ack_interval) {
          ack = true;
          rx.last_ack = received;
        }
      }
    }
    if (!error.empty()) ++stats_.malformed_messages;
  }
  if (!error.empty()) {
    log->warn("{}: {} from {}", opt.fqcn, error, origin);
    send_stream_error(origin, sid, opt.fqcn + ": " + error);
    return;
  }
  if (ack) {
    Message a;
    a.headers.set(hdr::kStreamType, "ack");
    a.headers.set(hdr::kStreamId, sid);
    a.headers.set_int(hdr::kStreamOffset, static_cast<int64_t>(received));
    send_message(origin, std::move(a), nullptr).ignore();
  }
  if (complete) {
    strip_stream_headers(done.headers);
    dispatch_local(std::move(done));
  }
}

void Cell::Impl::handle_ack(const Frame& frame) {
  const std::string type = frame.headers.get_or(hdr::kStreamType, "");
  const std::string sid = frame.headers.get_or(hdr::kStreamId, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto tx = tx_streams_.find(sid);
    if (type == "ack" && tx != tx_streams_.end()) {
      uint64_t off = static_cast<uint64_t>(frame.headers.get_int(hdr::kStreamOffset).value_or(0));
      if (off > tx->second.acked) {
        tx->second.acked = off;
        tx->second.last_progress = Clock::now();
      }
    } else if (type == "error") {
      std::string why = frame.headers.get_or(hdr::kError, "stream aborted by the peer");
      if (tx != tx_streams_.end()) tx->second.error = AbortedError(why);
      rx_streams_.erase(sid);
    }
  }
  cv_.notify_all();
}

void Cell::Impl::run_monitor() {
  auto next_tick = Clock::now() + opt.monitor_interval;
  for (;;) {
    std::vector<std::pair<std::function<void(Result<Message>)>, Status>> expired;
    std::vector<std::pair<std::string, std::shared_ptr<Connection>>> conns;
    std::vector<std::pair<std::string, std::string>> dropped_streams;  // origin, sid
    std::vector<std::shared_ptr<Connection>> ping;
    bool tick = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = next_tick;
      for (const auto& [id, w] : waiters_) wake = std::min(wake, w.deadline);
      cv_.wait_until(lock, wake, [&] { return stopping_; });
      if (stopping_) return;
      auto now = Clock::now();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.deadline <= now) {
          expired.emplace_back(std::move(it->second.done),
                               DeadlineExceededError("no reply from " + it->second.target + " in time"));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
      if (now >= next_tick) {
        tick = true;
        next_tick = now + opt.monitor_interval;
        for (auto it = rx_streams_.begin(); it != rx_streams_.end();) {
          if (now - it->second.last_activity > opt.read_timeout) {
            dropped_streams.emplace_back(it->second.headers.get_or(hdr::kOrigin, ""), it->first);
            it = rx_streams_.erase(it);
          } else {
            ++it;
          }
        }
        for (auto& [peer, agent] : agents_) {
          conns.emplace_back(peer, agent.conn);
          if (now - agent.last_received > opt.heartbeat_interval && now - agent.last_ping > opt.heartbeat_interval) {
            agent.last_ping = now;
            ping.push_back(agent.conn);
          }
        }
      }
    }
    for (auto& [done, status] : expired) {
      if (!completions_.post([d = std::move(done), s = status]() mutable { d(s); })) {
        // Only while stopping; stop() fails the rest.
      }
    }
    if (!tick) continue;
    for (auto& [origin, sid] : dropped_streams) {
      log->warn("{}: dropping stream {} from {}: no data for {} (streaming_read_timeout)", opt.fqcn, sid, origin,
                ms(opt.read_timeout));
      send_stream_error(origin, sid, opt.fqcn + " gave up waiting for the rest of the stream");
    }
    for (auto& c : ping) {
      Frame p;
      p.type = FrameType::kPing;
      c->send(std::move(p)).ignore();
    }
    for (auto& [peer, conn] : conns) {
      auto age = conn->current_write_age();
      int checks = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto a = agents_.find(peer);
        if (a == agents_.end() || a->second.conn != conn) continue;
        a->second.stall_checks = age > opt.send_stall_timeout ? a->second.stall_checks + 1 : 0;
        checks = a->second.stall_checks;
      }
      if (checks == 0) continue;
      log->warn("{}: Detected stalled send on connection to {} ({}/{}): a write has waited {}", opt.fqcn, peer,
                checks, opt.send_stall_consecutive_checks, ms(age));
      if (opt.close_stalled_connection && checks >= opt.send_stall_consecutive_checks) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.stalled_connections_closed;
        }
        conn->close(DeadlineExceededError("send to " + peer + " stalled for " + ms(age) +
                                          " (sfm_close_stalled_connection)"));
      }
    }
  }
}

}  // namespace nvf::cellnet
