#include "runtime/registration.h"

#include <algorithm>

#include "base/strings.h"
#include "base/version.h"
#include "runtime/deploy_protocol.h"
#include "cellnet/fqcn.h"
#include "config/value.h"
#include "security/pki.h"
#include "security/signing.h"

namespace nvf::runtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSessionLifetime = std::chrono::seconds(60);  // max_reg_duration

Result<config::Value> json_payload(const cellnet::Message& m, const std::string& what) {
  try {
    return config::Value::parse(m.payload.to_string());
  } catch (const std::exception& e) {
    return InvalidArgumentError(what + " is not JSON: " + e.what());
  }
}

std::string str(const config::Value& v, const char* key) {
  return v.is_object() && v.contains(key) && v[key].is_string() ? v[key].get<std::string>() : std::string();
}

Result<std::string> sign_b64(const std::string& key_pem, const std::string& data) {
  NVF_ASSIGN_OR_RETURN(std::string sig, security::sign_pss(key_pem, data));
  return security::base64_encode(sig);
}

Status verify_b64(const std::string& cert_pem, const std::string& data, const std::string& sig_b64) {
  NVF_ASSIGN_OR_RETURN(std::string sig, security::base64_decode(sig_b64));
  return security::verify_pss(cert_pem, data, sig);
}

}  // namespace

cellnet::Headers auth_headers(const Credentials& c) {
  cellnet::Headers h;
  h.set(deploy::kHdrClientName, c.name);
  h.set(deploy::kHdrToken, c.token);
  h.set(deploy::kHdrTokenSignature, c.token_signature);
  h.set(deploy::kHdrSsid, c.ssid);
  return h;
}

Result<Credentials> register_with_server(cellnet::Cell& cell, const KitCommon& kit, const std::string& kind,
                                         std::chrono::milliseconds timeout) {
  NVF_ASSIGN_OR_RETURN(std::string cert, read_text(kit.cert));
  NVF_ASSIGN_OR_RETURN(std::string key, read_text(kit.key));
  NVF_ASSIGN_OR_RETURN(std::string root, read_text(kit.root_ca));
  const std::string nonce = base::random_hex(16);
  config::Value ch = {{"name", kit.name}, {"kind", kind}, {"nonce", nonce}};
  NVF_ASSIGN_OR_RETURN(cellnet::Message reply,
                       cell.request("server", std::string(deploy::kChannelTask), std::string(deploy::kTopicChallenge),
                                    cellnet::Message::of(ch.dump()), timeout));
  NVF_ASSIGN_OR_RETURN(config::Value r, json_payload(reply, "the server's challenge reply"));
  const std::string server_cert = str(r, "cert"), server_cn = str(r, "cn"), server_nonce = str(r, "nonce");
  if (Status s = security::verify_certificate(server_cert, root); !s.ok()) {
    return UnauthenticatedError("the server's certificate does not chain to " + kit.root_ca.string() + ": " +
                                s.message());
  }
  auto cn = security::common_name(server_cert);
  if (!cn.ok() || *cn != kit.server_identity) {
    return UnauthenticatedError("the server presented itself as '" + (cn.ok() ? *cn : std::string("?")) +
                                "', but the kit expects '" + kit.server_identity + "'");
  }
  if (Status s = verify_b64(server_cert, server_cn + nonce, str(r, "signature")); !s.ok()) {
    return UnauthenticatedError("the server's challenge signature is invalid: " + s.message());
  }
  NVF_ASSIGN_OR_RETURN(std::string my_sig, sign_b64(key, kit.name + server_nonce));
  config::Value reg = {{"name", kit.name}, {"kind", kind}, {"cert", cert}, {"signature", my_sig},
                       {"project", kit.project}, {"version", NVF_VERSION}};
  NVF_ASSIGN_OR_RETURN(cellnet::Message reg_reply,
                       cell.request("server", std::string(deploy::kChannelTask), std::string(deploy::kTopicRegister),
                                    cellnet::Message::of(reg.dump()), timeout));
  NVF_ASSIGN_OR_RETURN(config::Value t, json_payload(reg_reply, "the server's register reply"));
  Credentials c{kit.name, str(t, "token"), str(t, "token_signature"), str(t, "ssid"), server_cert};
  if (c.token.empty()) return UnauthenticatedError("the server gave no token");
  if (Status s = verify_b64(server_cert, kit.name + c.token, c.token_signature); !s.ok()) {
    return UnauthenticatedError("the server's token signature is invalid: " + s.message());
  }
  return c;
}

void RegistrationLoop::run() {
  std::unique_lock<std::mutex> lock(mu);
  while (!done()) {
    if (!registered) {
      lock.unlock();
      const bool ok = register_once();
      lock.lock();
      registered = ok;
      if (!ok) cv.wait_for(lock, register_interval);
      continue;
    }
    lock.unlock();
    heartbeat_once();
    lock.lock();
    if (!registered) continue;
    cv.wait_for(lock, heart_beat_interval);
  }
}

void TokenVerifier::set_server_cert(std::string pem) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pem != server_cert_) verified_.clear();
  server_cert_ = std::move(pem);
}

Result<std::string> TokenVerifier::check(const cellnet::Headers& h) const {
  if (h.get_or(cellnet::hdr::kChannel, "") == deploy::kChannelTask) {
    std::string topic = h.get_or(cellnet::hdr::kTopic, "");
    if (topic == deploy::kTopicChallenge || topic == deploy::kTopicRegister) return std::string();
  }
  const std::string name = h.get_or(deploy::kHdrClientName, ""), token = h.get_or(deploy::kHdrToken, ""),
                    sig = h.get_or(deploy::kHdrTokenSignature, ""), origin = h.get_or(cellnet::hdr::kOrigin, "");
  if (name.empty() || token.empty() || sig.empty()) {
    return UnauthenticatedError("not registered: the message carries no token (register with the server first)");
  }
  // The sender is below this relay, and its cell names it ("relay-1.site-1", "relay-1.site-1.<job>").
  auto parts = cellnet::fqcn::split(origin);
  const size_t skip = cellnet::fqcn::split(relay_fqcn_).size();
  bool named = cellnet::fqcn::is_ancestor(relay_fqcn_, origin) &&
               std::find(parts.begin() + static_cast<std::ptrdiff_t>(std::min(skip, parts.size())), parts.end(),
                         name) != parts.end();
  if (!named) {
    return UnauthenticatedError("'" + name + "' sent a message as " + (origin.empty() ? std::string("?") : origin) +
                                ", which is not its cell below relay " + relay_fqcn_);
  }
  const std::string key = name + "\n" + token + "\n" + sig;
  std::string cert;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_cert_.empty()) {
      return UnavailableError("relay " + relay_fqcn_ + " has not registered with the server yet; try again shortly");
    }
    if (verified_.count(key)) return name;
    cert = server_cert_;
  }
  if (!verify_b64(cert, name + token, sig).ok()) {
    return UnauthenticatedError("the token of '" + name + "' is not signed by the server");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= kMaxRemembered) verified_.clear();
  verified_.insert(key);
  return name;
}

Registrar::Registrar(Identity identity) : id_(std::move(identity)), ssid_(base::uuid4()) {}

void Registrar::on_registered(std::function<void(const Principal&)> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  on_registered_ = std::move(callback);
}

namespace {
constexpr size_t kMaxPendingChallenges = 10000;
// A challenge and its register come from the same cell.
std::string pending_key(const cellnet::Message& request, const std::string& name) {
  return request.headers.get_or(cellnet::hdr::kOrigin, "") + "\n" + name;
}
}  // namespace

void Registrar::handle_challenge(const cellnet::Message& request, cellnet::Responder respond) {
  auto body = json_payload(request, "challenge");
  if (!body.ok()) return respond(body.status());
  const std::string name = str(*body, "name"), nonce = str(*body, "nonce");
  if (name.empty() || nonce.empty()) return respond(InvalidArgumentError("challenge without name or nonce"));
  auto sig = sign_b64(id_.key_pem, id_.name + nonce);
  if (!sig.ok()) return respond(sig.status());
  std::string server_nonce = base::random_hex(16);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) it = it->second.expires < now ? pending_.erase(it) : ++it;
    if (pending_.size() >= kMaxPendingChallenges) {
      return respond(UnavailableError("too many logins in progress; try again shortly"));
    }
    // By cell and name: one admin may log in from several consoles at once.
    pending_[pending_key(request, name)] = Pending{server_nonce, now + kSessionLifetime};
  }
  config::Value r = {{"nonce", server_nonce}, {"signature", *sig}, {"cn", id_.name}, {"cert", id_.cert_pem}};
  respond(cellnet::Message::of(r.dump()));
}

void Registrar::handle_register(const cellnet::Message& request, cellnet::Responder respond) {
  auto body = json_payload(request, "register");
  if (!body.ok()) return respond(body.status());
  const std::string name = str(*body, "name"), kind = str(*body, "kind"), cert = str(*body, "cert");
  auto refuse = [&](const std::string& why) {
    respond(UnauthenticatedError("registration of '" + name + "' refused: " + why));
  };
  if (kind != "client" && kind != "relay" && kind != "admin") return refuse("unknown kind '" + kind + "'");
  if (str(*body, "project") != id_.project) {
    return refuse("it belongs to project '" + str(*body, "project") + "', this server to '" + id_.project + "'");
  }
  if (str(*body, "version") != NVF_VERSION) {
    return refuse("it runs nvflare " + str(*body, "version") + ", the server " + NVF_VERSION);
  }
  std::string server_nonce;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(pending_key(request, name));
    if (it == pending_.end() || it->second.expires < Clock::now()) return refuse("no challenge in progress");
    server_nonce = it->second.server_nonce;
    pending_.erase(it);
  }
  if (Status s = security::verify_certificate(cert, id_.root_pem); !s.ok()) {
    return refuse("its certificate is not from this project's CA: " + s.message());
  }
  auto info = security::describe_certificate(cert);
  if (!info.ok()) return refuse(info.status().message());
  if (info->common_name != name) return refuse("its certificate names '" + info->common_name + "'");
  if (Status s = verify_b64(cert, name + server_nonce, str(*body, "signature")); !s.ok()) {
    return refuse("bad signature: " + s.message());
  }
  // The cell a client registers from must be named for it: its own name, or its name below its
  // relays ("R1.site-1"). Messages are then bound to that cell (principal_of); an admin's cell is
  // a session name of its own choosing.
  std::string origin = request.headers.get_or(cellnet::hdr::kOrigin, "");
  if (!cellnet::fqcn::validate(origin).ok()) return refuse("its cell name '" + origin + "' is not valid");
  if (kind != "admin" && cellnet::fqcn::split(origin).back() != name) {
    return refuse("it registers from cell '" + origin + "', which is not named '" + name + "'");
  }
  Principal p;
  p.name = name;
  p.kind = kind;
  p.fqcn = origin;
  p.person = security::Person{name, info->org, info->role};
  p.token = base::uuid4();
  p.session_id = base::uuid4();
  auto tsig = sign_b64(id_.key_pem, name + p.token);
  if (!tsig.ok()) return respond(tsig.status());
  p.token_signature = *tsig;
  p.registered = p.last_seen = Clock::now();
  std::function<void(const Principal&)> cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (kind != "admin") {
      for (auto it = principals_.begin(); it != principals_.end();) {
        it = it->second.kind == kind && it->second.name == name ? principals_.erase(it) : ++it;
      }
    }
    principals_[p.token] = p;
    cb = on_registered_;
  }
  config::Value r = {{"token", p.token}, {"token_signature", p.token_signature}, {"ssid", ssid_}};
  respond(cellnet::Message::of(r.dump()));
  if (cb) cb(p);
}

Result<Principal> Registrar::principal_of(const cellnet::Headers& h) const {
  std::string token = h.get_or(deploy::kHdrToken, "");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = principals_.find(token);
  if (token.empty() || it == principals_.end()) {
    return UnauthenticatedError("not registered: no valid token (" +
                                (token.empty() ? std::string("none given") : std::string("unknown token")) + ")");
  }
  const Principal& p = it->second;
  if (h.get_or(deploy::kHdrClientName, "") != p.name ||
      h.get_or(deploy::kHdrTokenSignature, "") != p.token_signature) {
    return UnauthenticatedError("the token does not belong to '" + h.get_or(deploy::kHdrClientName, "") + "'");
  }
  const std::string origin = h.get_or(cellnet::hdr::kOrigin, "");
  if (origin != p.fqcn && !cellnet::fqcn::is_ancestor(p.fqcn, origin)) {
    return UnauthenticatedError("'" + p.name + "' (registered from cell " + p.fqcn + ") sent a message as " +
                                (origin.empty() ? std::string("?") : origin));
  }
  return p;
}

Result<std::string> Registrar::check(const cellnet::Headers& h) const {
  if (h.get_or(cellnet::hdr::kChannel, "") == deploy::kChannelTask) {
    std::string topic = h.get_or(cellnet::hdr::kTopic, "");
    if (topic == deploy::kTopicChallenge || topic == deploy::kTopicRegister) return std::string();
  }
  NVF_ASSIGN_OR_RETURN(Principal p, principal_of(h));
  return p.name;
}

bool Registrar::touch(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  for (auto& [token, p] : principals_) {
    if (p.name == name) {
      p.last_seen = Clock::now();
      found = true;
    }
  }
  return found;
}

std::vector<Principal> Registrar::principals(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Principal> out;
  for (const auto& [token, p] : principals_) {
    if (p.kind == kind) out.push_back(p);
  }
  return out;
}

void Registrar::touch_session(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = principals_.find(token);
  if (it != principals_.end()) it->second.last_seen = Clock::now();
}

void Registrar::remove_session(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  principals_.erase(token);
}

void Registrar::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = principals_.begin(); it != principals_.end();) {
    it = it->second.name == name ? principals_.erase(it) : ++it;
  }
}

}  // namespace nvf::runtime
