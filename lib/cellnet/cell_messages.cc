// Cell: sending, forwarding, request/reply matching and handler dispatch.
#include "cellnet/cell_internal.h"
#include "cellnet/fqcn.h"

namespace nvf::cellnet {
namespace {

constexpr int kMaxHops = 16;

std::string key(const std::string& a, const std::string& b) { return a + "\n" + b; }

Frame to_frame(Message m) {
  Frame f;
  f.type = FrameType::kData;
  f.headers = std::move(m.headers);
  f.payload = std::move(m.payload);
  return f;
}

}  // namespace

Status Cell::Impl::send_frame_to(const std::string& peer, Frame frame) {
  std::shared_ptr<Connection> conn;
  std::shared_ptr<const Headers> auth;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = agents_.find(peer);
    if (it != agents_.end()) conn = it->second.conn;
    auth = auth_headers_;
  }
  if (!conn) return UnavailableError(opt.fqcn + ": no connection to " + peer);
  if (auth) {
    // Every data frame leaves through here (messages, chunks, acks, forwarded frames): a frame that
    // already carries a header (its origin's, when forwarded) keeps it.
    for (const auto& [k, v] : auth->entries()) {
      if (!frame.headers.has(k)) frame.headers.set(k, v);
    }
  }
  frame.headers.set(hdr::kFrom, opt.fqcn);
  frame.headers.set(hdr::kTo, peer);
  return conn->send(std::move(frame));
}

Status Cell::Impl::send_message(const std::string& target, Message message, std::string* via,
                                 const std::string& as) {
  // A message handed on (a result relayed to the server) carries the previous hop's routing
  // headers: this cell is the origin of what it sends (or `as`, a reply in another cell's place).
  message.headers.set(hdr::kOrigin, as.empty() ? opt.fqcn : as);
  message.headers.set(hdr::kDestination, target);
  message.headers.erase(hdr::kHops);
  if (target == opt.fqcn) {
    if (via) *via = opt.fqcn;
    callbacks_.post([this, m = std::move(message)]() mutable { dispatch_local(std::move(m)); });
    return Status::OK();
  }
  std::string next = fqcn::next_hop(opt.fqcn, target, peers());
  if (next.empty()) return UnavailableError("no route from " + opt.fqcn + " to " + target);
  if (via) *via = next;
  if (message.payload.size() > opt.max_message_size) {
    return ResourceExhaustedError("message of " + std::to_string(message.payload.size()) + " bytes to " + target +
                                  " exceeds max_message_size (" + std::to_string(opt.max_message_size) + ")");
  }
  if (message.payload.size() > opt.chunk_size) return stream_message(next, std::move(message));
  return send_frame_to(next, to_frame(std::move(message)));
}

void Cell::Impl::request_async(const std::string& target_name, const std::string& channel, const std::string& topic,
                               Message message, std::chrono::milliseconds timeout,
                               std::function<void(Result<Message>)> done, bool inline_done,
                               ReplyPlacement place) {
  const std::string target = resolve(target_name);
  if (timeout.count() <= 0) timeout = opt.default_request_timeout;
  std::string req_id = new_id("r");
  message.headers.set(hdr::kChannel, channel);
  message.headers.set(hdr::kTopic, topic);
  message.headers.set(hdr::kMsgType, "req");
  message.headers.set(hdr::kReqId, req_id);
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ || !started_) {
      lock.unlock();
      done(CancelledError("cell " + opt.fqcn + " is not running"));
      return;
    }
    // The deadline is set again once the request is fully sent (streams take their own time).
    waiters_[req_id] =
        Waiter{target, "", Clock::now() + timeout + std::chrono::hours(24 * 365), std::move(done), inline_done,
               std::move(place)};
  }
  auto send = [this, target, req_id, timeout, m = std::move(message)]() mutable {
    std::string via;
    Status s = send_message(target, std::move(m), &via);
    if (!s.ok()) {
      complete_waiter(req_id, s);
      return;
    }
    bool lost = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = waiters_.find(req_id);
      if (it == waiters_.end()) return;
      it->second.via = via;
      it->second.deadline = Clock::now() + timeout;
      // The connection may have closed since the frame left: on_closed() then found no waiter
      // going that way, and without this the request would wait for its whole timeout.
      lost = via != opt.fqcn && agents_.find(via) == agents_.end();
    }
    if (lost) {
      complete_waiter(req_id, UnavailableError("connection to " + via + " lost while waiting for a reply from " +
                                               target));
      return;
    }
    cv_.notify_all();  // the monitor recomputes its wake-up time
  };
  if (message.payload.size() > opt.chunk_size) {
    streams_.post(std::move(send));
  } else {
    send();
  }
}

Status Cell::Impl::fire(const std::string& target_name, const std::string& channel, const std::string& topic,
                        Message message) {
  const std::string target = resolve(target_name);
  message.headers.set(hdr::kChannel, channel);
  message.headers.set(hdr::kTopic, topic);
  message.headers.set(hdr::kMsgType, "fire");
  if (message.payload.size() <= opt.chunk_size) return send_message(target, std::move(message), nullptr);
  std::string next = target == opt.fqcn ? opt.fqcn : fqcn::next_hop(opt.fqcn, target, peers());
  if (next.empty()) return UnavailableError("no route from " + opt.fqcn + " to " + target);
  streams_.post([this, target, m = std::move(message)]() mutable {
    Status s = send_message(target, std::move(m), nullptr);
    if (!s.ok()) log->warn("{}: message to {} failed: {}", opt.fqcn, target, s.message());
  });
  return Status::OK();
}

void Cell::Impl::complete_waiter(const std::string& req_id, Result<Message> result) {
  std::function<void(Result<Message>)> done;
  bool inline_done = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(req_id);
    if (it == waiters_.end()) {
      ++stats_.late_replies;
      return;
    }
    done = std::move(it->second.done);
    inline_done = it->second.inline_done;
    waiters_.erase(it);
  }
  if (inline_done) {
    done(std::move(result));
    return;
  }
  completions_.post([done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
}

PayloadTarget Cell::Impl::payload_target(const std::shared_ptr<Connection>& conn, const Frame& head,
                                         uint64_t payload_len) {
  // Only a whole (unstreamed) OK reply addressed to this cell, from the cell it asked.
  const Headers& h = head.headers;
  if (head.type != FrameType::kData || h.has(hdr::kStreamType) ||
      h.get(hdr::kMsgType) != std::optional<std::string_view>("reply") ||
      h.get_or(hdr::kReturnCode, std::string(rc::kOk)) != rc::kOk ||
      h.get_or(hdr::kDestination, "") != opt.fqcn) {
    return {};
  }
  ReplyPlacement place;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (filters_.count(conn.get())) return {};  // frames checked after they are read: never placed
    auto it = waiters_.find(h.get_or(hdr::kReqId, ""));
    if (it == waiters_.end() || !it->second.place || h.get_or(hdr::kOrigin, "") != it->second.target)
      return {};
    place = it->second.place;
  }
  return place(h, payload_len);
}

void Cell::Impl::reply_to(const Message& request, Result<Message> result, const std::string& as) {
  Message reply = result.ok() ? std::move(*result) : Message{};
  reply.headers.set(hdr::kMsgType, "reply");
  reply.headers.set(hdr::kReqId, request.headers.get_or(hdr::kReqId, ""));
  reply.headers.set(hdr::kReturnCode, std::string(return_code_for(result.status())));
  if (!result.ok()) reply.headers.set(hdr::kError, result.status().message());
  reply.headers.erase(hdr::kOrigin);
  std::string origin = request.headers.get_or(hdr::kOrigin, "");
  Status s = send_message(origin, std::move(reply), nullptr, as);
  if (!s.ok()) log->warn("{}: cannot reply to {}: {}", opt.fqcn, origin, s.message());
}

void Cell::Impl::send_return(const Headers& req, std::string_view code, const std::string& error) {
  Message ret;
  ret.headers.set(hdr::kMsgType, "return");
  ret.headers.set(hdr::kReqId, req.get_or(hdr::kReqId, ""));
  ret.headers.set(hdr::kReturnCode, std::string(code));
  ret.headers.set(hdr::kError, error);
  std::string origin = req.get_or(hdr::kOrigin, "");
  Status s = send_message(origin, std::move(ret), nullptr);
  if (!s.ok()) log->debug("{}: cannot return to {}: {}", opt.fqcn, origin, s.message());
}

void Cell::Impl::refuse(const std::shared_ptr<Connection>& conn, const Frame& frame,
                        const Status& why) {
  const Headers& h = frame.headers;
  const std::string origin = h.get_or(hdr::kOrigin, "");
  const std::string type = h.get_or(hdr::kMsgType, "");
  const auto stream_type = h.get(hdr::kStreamType);
  const bool chunk = stream_type == std::optional<std::string_view>("chunk");
  const std::string sid = h.get_or(hdr::kStreamId, "");
  bool first = false;
  std::string peer = "?";
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.unauthenticated_frames;
    auto f = filters_.find(conn.get());
    if (f != filters_.end() && !f->second.logged) first = f->second.logged = true;
    auto n = names_.find(conn.get());
    if (n != names_.end()) peer = n->second;
    // A stream refused midway will never complete here: do not keep its first chunks until
    // streaming_read_timeout.
    if (chunk && h.get(hdr::kDestination) == std::optional<std::string_view>(opt.fqcn)) {
      rx_streams_.erase(sid);
    }
  }
  if (first) {
    log->warn(
        "{}: refusing a message from {} on the connection from {} ({}), channel '{}' topic '{}': "
        "{} (later refusals on this connection are only counted)",
        opt.fqcn, origin.empty() ? "?" : origin, peer, conn->peer().address,
        h.get_or(hdr::kChannel, ""), h.get_or(hdr::kTopic, ""), why.message());
  }
  if (origin.empty()) return;
  // A request (or the first chunk of a streamed one, which carries its headers) is answered, so
  // that the requester fails at once instead of timing out; a refused chunk also stops its sender's
  // stream.
  if (type == "req" && (!stream_type || (chunk && h.get_int(hdr::kStreamSeq) == 0))) {
    send_return(h, rc::kUnauthenticated, why.message());
  }
  if (chunk) {
    send_stream_error(origin, sid, opt.fqcn + " refused stream " + sid + ": " + why.message());
  }
}

void Cell::Impl::handle_data(const std::shared_ptr<Connection>& conn, Frame frame) {
  auto dest = frame.headers.get(hdr::kDestination);
  auto origin = frame.headers.get(hdr::kOrigin);
  if (!dest || !origin || fqcn::validate(*dest) != Status::OK()) {
    log->warn("{}: dropping a malformed message from {}: missing or bad {}", opt.fqcn,
              conn->peer().address, !dest ? "destination" : (!origin ? "origin" : "destination name"));
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.malformed_messages;
    return;
  }
  if (*dest != opt.fqcn) {
    if (intercepted(frame)) return;
    forward(std::move(frame), std::string(*dest));
    return;
  }
  auto stream_type = frame.headers.get(hdr::kStreamType);
  if (stream_type) {
    if (*stream_type == "chunk") {
      handle_chunk(conn.get(), std::move(frame));
    } else {
      handle_ack(frame);
    }
    return;
  }
  Message m{std::move(frame.headers), std::move(frame.payload)};
  dispatch_local(std::move(m));
}

bool Cell::Impl::intercepted(const Frame& frame) {
  const Headers& h = frame.headers;
  if (h.get(hdr::kMsgType) != std::optional<std::string_view>("req") || h.has(hdr::kStreamType)) return false;
  ForwardInterceptor f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (interceptors_.empty()) return false;
    auto it = interceptors_.find(key(h.get_or(hdr::kChannel, ""), h.get_or(hdr::kTopic, "")));
    if (it == interceptors_.end()) return false;
    f = it->second;
  }
  Message request{h, frame.payload};
  auto request_headers = std::make_shared<Message>();
  request_headers->headers = h;
  auto once = std::make_shared<std::atomic<bool>>(false);
  Responder respond = [this, request_headers, once](Result<Message> result) {
    if (once->exchange(true)) return;
    // The reply travels as if the request's destination had sent it.
    reply_to(*request_headers, std::move(result), request_headers->headers.get_or(hdr::kDestination, opt.fqcn));
  };
  try {
    return f(request, std::move(respond));
  } catch (const std::exception& e) {
    log->error("{}: the interceptor of channel '{}' topic '{}' threw: {}", opt.fqcn, h.get_or(hdr::kChannel, ""),
               h.get_or(hdr::kTopic, ""), e.what());
    return false;  // forwarded as usual (if it had taken the request, it also answers it)
  }
}

void Cell::Impl::forward(Frame frame, const std::string& dest) {
  int hops = static_cast<int>(frame.headers.get_int(hdr::kHops).value_or(0)) + 1;
  std::string next = fqcn::next_hop(opt.fqcn, dest, peers());
  Status s;
  if (hops > kMaxHops) {
    s = InternalError("routing loop: more than " + std::to_string(kMaxHops) + " hops");
  } else if (next.empty()) {
    s = UnavailableError("no route from " + opt.fqcn + " to " + dest);
  } else {
    frame.headers.set_int(hdr::kHops, hops);
    bool is_req = frame.headers.get(hdr::kMsgType) == std::optional<std::string_view>("req") &&
                  !frame.headers.has(hdr::kStreamType);
    Headers copy = is_req ? frame.headers : Headers();
    {
      // Counted before it is handed on: the reply to a forwarded request may otherwise reach
      // the requester (and a test read the counter) before this thread counts it.
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.frames_forwarded;
    }
    s = send_frame_to(next, std::move(frame));
    if (s.ok()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --stats_.frames_forwarded;
    }
    if (is_req) send_return(copy, rc::kTargetUnreachable, opt.fqcn + " cannot forward to " + dest + ": " + s.message());
    return;
  }
  log->warn("{}: cannot forward a message to {}: {}", opt.fqcn, dest, s.message());
  if (frame.headers.get(hdr::kMsgType) == std::optional<std::string_view>("req")) {
    send_return(frame.headers, rc::kTargetUnreachable, s.message());
  }
}

void Cell::Impl::dispatch_local(Message message) {
  std::string type = message.headers.get_or(hdr::kMsgType, "");
  if (type == "reply" || type == "return") {
    std::string req_id = message.headers.get_or(hdr::kReqId, "");
    std::string code = message.headers.get_or(hdr::kReturnCode, std::string(rc::kOk));
    if (code == rc::kOk) {
      complete_waiter(req_id, std::move(message));
    } else {
      complete_waiter(req_id, status_for_return_code(code, message.headers.get_or(hdr::kError, ""),
                                                     message.headers.get_or(hdr::kOrigin, "?")));
    }
    return;
  }
  std::string channel = message.headers.get_or(hdr::kChannel, "");
  std::string topic = message.headers.get_or(hdr::kTopic, "");
  if (type == "req") {
    AsyncRequestHandler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = request_handlers_.find(key(channel, topic));
      if (it == request_handlers_.end()) it = request_handlers_.find(key(channel, "*"));
      if (it != request_handlers_.end()) handler = it->second;
    }
    callbacks_.post([this, handler, channel, topic, m = std::move(message)]() mutable {
      if (!handler) {
        reply_to(m, InvalidArgumentError("no handler for channel '" + channel + "' topic '" + topic + "' at " +
                                         opt.fqcn));
        return;
      }
      // The request's headers are all a reply needs; the payload may be released early.
      auto request_headers = std::make_shared<Message>();
      request_headers->headers = m.headers;
      auto once = std::make_shared<std::atomic<bool>>(false);
      Responder respond = [this, request_headers, once](Result<Message> reply) {
        if (once->exchange(true)) return;  // a second answer is a handler bug: ignore it
        reply_to(*request_headers, std::move(reply));
      };
      // The barrier: a handler that throws answers with an error naming it; the cell lives on.
      try {
        handler(m, respond);
      } catch (const std::exception& e) {
        log->error("{}: the handler of channel '{}' topic '{}' threw: {}", opt.fqcn, channel, topic, e.what());
        respond(InternalError("the handler of channel '" + channel + "' topic '" + topic + "' at " + opt.fqcn +
                              " failed: " + e.what()));
      } catch (...) {
        log->error("{}: the handler of channel '{}' topic '{}' threw", opt.fqcn, channel, topic);
        respond(InternalError("the handler of channel '" + channel + "' topic '" + topic + "' at " + opt.fqcn +
                              " failed"));
      }
    });
    return;
  }
  MessageHandler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = message_handlers_.find(key(channel, topic));
    if (it == message_handlers_.end()) it = message_handlers_.find(key(channel, "*"));
    if (it != message_handlers_.end()) handler = it->second;
  }
  if (!handler) {
    log->warn("{}: no handler for message on channel '{}' topic '{}' from {}", opt.fqcn, channel, topic,
              message.headers.get_or(hdr::kOrigin, "?"));
    return;
  }
  callbacks_.post([this, handler, channel, topic, m = std::move(message)] {
    try {
      handler(m);
    } catch (const std::exception& e) {
      log->error("{}: the handler of message channel '{}' topic '{}' threw: {}", opt.fqcn, channel, topic, e.what());
    } catch (...) {
      log->error("{}: the handler of message channel '{}' topic '{}' threw", opt.fqcn, channel, topic);
    }
  });
}

}  // namespace nvf::cellnet
