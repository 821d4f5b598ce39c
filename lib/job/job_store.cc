#include "job/job_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include "base/files.h"

namespace nvf::job {
namespace {
namespace fs = std::filesystem;
using config::Value;
using Clock = std::chrono::system_clock;

constexpr const char* kDataFile = "data";
constexpr const char* kMetaFile = "meta";
constexpr const char* kWorkspaceFile = "workspace";
constexpr const char* kScheduledTag = "scheduled";
constexpr const char* kCreatingSuffix = ".creating";
constexpr const char* kDeletingSuffix = ".deleting";
constexpr const char* kUnpackedDir = ".unpacked";   // the submit's checked extraction of data
constexpr const char* kUploadDir = ".upload";  // make_upload_dir()'s folders: ".upload-XXXXXX"
constexpr int kDataStorageFormat = 2;  // the value FLARE 2.7 writes (spec §2.2)

constexpr std::array<std::string_view, 11> kStatuses = {
    run_status::kSubmitted,
    run_status::kApproved,
    run_status::kDispatched,
    run_status::kRunning,
    run_status::kFinishedCompleted,
    run_status::kFinishedAborted,
    run_status::kFinishedExecutionException,
    run_status::kFinishedAbnormal,
    run_status::kFinishedFailedToRun,
    run_status::kFinishedCanNotSchedule,
    run_status::kFinishedAbandoned,
};

Status not_found(const std::string& id) { return NotFoundError("job " + id + " not found"); }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string new_job_id() {
  std::random_device rd;
  std::array<unsigned char, 16> b{};
  for (size_t i = 0; i < b.size(); i += 4) {
    uint32_t r = rd();
    for (size_t k = 0; k < 4; ++k) b[i + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

std::tm local_tm(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

// Python's str(datetime) / isoformat(): "YYYY-MM-DD<sep>HH:MM:SS[.ffffff]".
std::string python_datetime(Clock::time_point tp, char sep) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(std::floor(static_cast<double>(us) / 1e6));
  long frac = static_cast<long>(us - static_cast<int64_t>(secs) * 1000000);
  std::tm tm = local_tm(secs);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof(buf), ".%06ld", frac);
    out += buf;
  }
  return out;
}

// Python's datetime.fromtimestamp(t).astimezone().isoformat(): local time with its UTC offset.
std::string iso_local_with_offset(Clock::time_point tp) {
  std::string out = python_datetime(tp, 'T');
  std::tm tm = local_tm(Clock::to_time_t(tp));
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  off = std::labs(off);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%c%02ld:%02ld", sign, off / 3600, (off % 3600) / 60);
  return out + buf;
}

// Parses python_datetime(_, ' ') output (local time). Empty when it does not parse.
std::optional<Clock::time_point> parse_python_datetime(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  long us = 0;
  std::string rest = s.substr(static_cast<size_t>(consumed));
  if (!rest.empty()) {
    if (rest.size() != 7 || rest[0] != '.' ||
        !std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    us = std::stol(rest.substr(1));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t) + std::chrono::microseconds(us);
}

// Python's str(timedelta): "[D day[s], ]H:MM:SS[.ffffff]", days floored for negative spans.
std::string python_timedelta(std::chrono::microseconds d) {
  constexpr int64_t kDay = int64_t{86400} * 1000000;
  int64_t total = d.count();
  int64_t days = total >= 0 ? total / kDay : -((-total + kDay - 1) / kDay);
  int64_t rem = total - days * kDay;
  int64_t secs = rem / 1000000, us = rem % 1000000;
  char buf[96];
  std::string out;
  if (days != 0) {
    std::snprintf(buf, sizeof(buf), "%lld day%s, ", static_cast<long long>(days),
                  (days == 1 || days == -1) ? "" : "s");
    out = buf;
  }
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                static_cast<long long>((secs % 3600) / 60), static_cast<long long>(secs % 60));
  out += buf;
  if (us != 0) {
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(us));
    out += buf;
  }
  return out;
}

// Streams `src` into an opened writer (not committed).
Status copy_into(const fs::path& src, base::AtomicFileWriter& w) {
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot open", src);
  std::vector<char> buf(1 << 20);
  Status s;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = base::errno_status(errno, "cannot read", src);
      break;
    }
    if (n == 0) break;
    s = w.write(buf.data(), static_cast<size_t>(n));
    if (!s.ok()) break;
  }
  ::close(fd);
  return s;
}

Status copy_file_atomic(const fs::path& src, const fs::path& dst) {
  base::AtomicFileWriter w;
  NVF_RETURN_IF_ERROR(w.open(dst));
  NVF_RETURN_IF_ERROR(copy_into(src, w));
  return w.commit();
}

std::string status_of(const Value& meta) {
  auto it = meta.find(meta_key::kStatus);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : "";
}

bool is_active(std::string_view status) {
  return status == run_status::kDispatched || status == run_status::kRunning;
}

bool is_scheduled_status(std::string_view status) {
  return !status.empty() && status != run_status::kSubmitted && status != run_status::kApproved;
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// Reads and checks one job folder's meta. Errors: a message for the warning list.
Result<Value> load_meta(const fs::path& dir, const std::string& id) {
  NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(dir / kMetaFile));
  NVF_ASSIGN_OR_RETURN(Value meta,
                       config::parse(text, config::Format::kJson, (dir / kMetaFile).string()));
  if (!meta.is_object())
    return InvalidArgumentError((dir / kMetaFile).string() + ": not a JSON object");
  auto jid = meta.find(meta_key::kJobId);
  if (jid == meta.end() || !jid->is_string() || jid->get<std::string>() != id)
    return InvalidArgumentError((dir / kMetaFile).string() + ": job_id does not name its folder " +
                                id);
  return meta;
}

// Removes temp files an interrupted atomic write left in a job folder (".meta.tmp123").
void remove_temp_files(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp") != std::string::npos) {
      std::error_code rm;
      fs::remove(it->path(), rm);
    }
  }
}

}  // namespace

bool is_finished(std::string_view status) { return status.substr(0, 8) == "FINISHED"; }

bool is_known_status(std::string_view status) {
  return std::find(kStatuses.begin(), kStatuses.end(), status) != kStatuses.end();
}

bool is_valid_job_id(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

JobStore::JobStore(fs::path root) : root_(std::move(root)) {}
JobStore::~JobStore() = default;

Result<std::unique_ptr<JobStore>> JobStore::open(const fs::path& root,
                                                 std::vector<std::string>* abandoned,
                                                 std::vector<std::string>* warnings) {
  NVF_RETURN_IF_ERROR(base::make_dirs(root));
  std::unique_ptr<JobStore> store(new JobStore(root));
  auto warn = [&](std::string msg) {
    if (warnings) warnings->push_back(std::move(msg));
  };
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    if (name[0] == '.') {
      if (ends_with(name, kCreatingSuffix) || ends_with(name, kDeletingSuffix) ||
          name.rfind(std::string(kUploadDir) + "-", 0) == 0) {
        remove_quietly(it->path());
        warn("removed " + it->path().string() + ", left by an interrupted job upload, create or delete");
      }
      continue;
    }
    dirs.push_back(it->path());
  }
  if (ec) return base::errno_status(ec.value(), "cannot list the job store", root);
  std::sort(dirs.begin(), dirs.end());

  std::vector<std::string> found_abandoned;
  for (const fs::path& dir : dirs) {
    std::string id = dir.filename().string();
    auto meta = load_meta(dir, id);
    if (!meta.ok()) {
      warn("skipped job folder " + dir.string() + " (left on disk): " + meta.status().message());
      continue;
    }
    remove_temp_files(dir);
    std::string status = status_of(*meta);
    if (is_finished(status)) remove_quietly(dir / kUnpackedDir);  // a crash before set_status dropped it
    store->jobs_[id] = *meta;
    if (is_active(status)) {
      std::lock_guard<std::mutex> lock(store->mu_);
      Value m = *std::move(meta);
      m[meta_key::kStatus] = std::string(run_status::kFinishedAbandoned);
      NVF_RETURN_IF_ERROR(store->write_meta_locked(id, std::move(m)));
      found_abandoned.push_back(id);
    }
  }
  if (abandoned) *abandoned = std::move(found_abandoned);
  return store;
}

Result<std::string> JobStore::create(Value meta, const fs::path& zip_file) {
  if (!meta.is_object()) return InvalidArgumentError("job meta must be a JSON object");
  std::string id = new_job_id();
  fs::path staging = root_ / ("." + id + kCreatingSuffix);
  NVF_RETURN_IF_ERROR(base::make_dirs(staging));
  Status s = copy_file_atomic(zip_file, staging / kDataFile);
  if (!s.ok()) {
    remove_quietly(staging);
    return s;
  }
  return finish_create(std::move(meta), id, staging);
}

Result<std::string> JobStore::create_by_moving(Value meta, const fs::path& zip_file, const fs::path& unpacked) {
  if (!meta.is_object()) return InvalidArgumentError("job meta must be a JSON object");
  std::error_code ec;
  if (!fs::is_regular_file(zip_file, ec)) return NotFoundError("job zip " + zip_file.string() + " not found");
  std::string id = new_job_id();
  fs::path staging = root_ / ("." + id + kCreatingSuffix);
  NVF_RETURN_IF_ERROR(base::make_dirs(staging));
  fs::rename(zip_file, staging / kDataFile, ec);
  Status s = ec ? copy_file_atomic(zip_file, staging / kDataFile) : Status::OK();  // another file system
  if (!s.ok()) {
    remove_quietly(staging);
    return s;
  }
  // Only a rename keeps it: copying the extraction would cost the write it exists to save.
  if (!unpacked.empty()) fs::rename(unpacked, staging / kUnpackedDir, ec);
  return finish_create(std::move(meta), id, staging);
}

Result<fs::path> JobStore::make_upload_dir() {
  return base::make_temp_dir_in(root_, kUploadDir);
}

bool JobStore::take_unpacked(const std::string& id, const fs::path& dest) {
  fs::path aside;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.count(id)) return false;
    const fs::path kept = root_ / id / kUnpackedDir;
    std::error_code ec;
    if (!fs::is_directory(kept, ec)) return false;
    if (::rename(kept.c_str(), dest.c_str()) == 0) return true;
    aside = set_unpacked_aside_locked(id);  // it cannot go there: dropped, unlocked
  }
  if (!aside.empty()) remove_quietly(aside);
  return false;
}

fs::path JobStore::set_unpacked_aside_locked(const std::string& id) {
  const fs::path kept = root_ / id / kUnpackedDir;
  std::error_code ec;
  if (!fs::exists(kept, ec)) return {};
  // A name open() removes if a crash leaves it.
  fs::path aside = root_ / ("." + id + kUnpackedDir + kDeletingSuffix);
  remove_quietly(aside);
  if (::rename(kept.c_str(), aside.c_str()) == 0) return aside;
  remove_quietly(kept);  // cannot be renamed: removed where it is
  return {};
}

Result<std::string> JobStore::create_from_bytes(Value meta, std::string_view zip_bytes) {
  if (!meta.is_object()) return InvalidArgumentError("job meta must be a JSON object");
  std::string id = new_job_id();
  fs::path staging = root_ / ("." + id + kCreatingSuffix);
  NVF_RETURN_IF_ERROR(base::make_dirs(staging));
  Status s = base::atomic_write(staging / kDataFile, zip_bytes);
  if (!s.ok()) {
    remove_quietly(staging);
    return s;
  }
  return finish_create(std::move(meta), id, staging);
}

Result<std::string> JobStore::finish_create(Value meta, const std::string& id,
                                            const fs::path& staging) {
  Clock::time_point now = Clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  meta[meta_key::kJobId] = id;
  meta[meta_key::kSubmitTime] = static_cast<double>(us) / 1e6;
  meta[meta_key::kSubmitTimeIso] = iso_local_with_offset(now);
  meta[meta_key::kStartTime] = "";
  meta[meta_key::kDuration] = "N/A";
  meta[meta_key::kStatus] = std::string(run_status::kSubmitted);
  if (!meta.contains(meta_key::kDataStorageFormat))
    meta[meta_key::kDataStorageFormat] = kDataStorageFormat;
  Status s = base::atomic_write(staging / kMetaFile, config::to_pretty_json(meta));
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    fs::path dir = root_ / id;
    if (::rename(staging.c_str(), dir.c_str()) != 0) {
      s = base::errno_status(errno, "cannot move the new job into place at", dir);
    } else {
      jobs_[id] = std::move(meta);
    }
  }
  if (!s.ok()) {
    remove_quietly(staging);
    return s;
  }
  return id;
}

Result<Value> JobStore::meta(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return not_found(id);
  return it->second;
}

Status JobStore::write_meta_locked(const std::string& id, Value meta) {
  fs::path dir = root_ / id;
  auto write = [this](const fs::path& p, std::string_view text) {
    return writer_ ? writer_(p, text) : base::atomic_write(p, text);
  };
  Status s = write(dir / kMetaFile, config::to_pretty_json(meta));
  if (s.ok() && is_scheduled_status(status_of(meta))) {
    std::error_code ec;
    if (!fs::exists(dir / kScheduledTag, ec)) s = write(dir / kScheduledTag, "");
  }
  if (!s.ok()) {
    // The meta on disk is the previous one, whole (writes are atomic). The change is kept in
    // memory and written again by flush(): a lost FINISHED status would turn into ABANDONED at
    // the next start.
    if (!jobs_.count(id)) return s;
    jobs_[id] = std::move(meta);
    unsaved_[id] = s.message();
    return Status(s.code(), "job " + id + ": the change was not saved to the job store (kept in memory, "
                            "retried): " + s.message());
  }
  jobs_[id] = std::move(meta);
  unsaved_.erase(id);
  return Status::OK();
}

Status JobStore::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first;
  std::vector<std::string> ids;
  for (const auto& [id, why] : unsaved_) ids.push_back(id);
  for (const auto& id : ids) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      unsaved_.erase(id);
      continue;
    }
    Status s = write_meta_locked(id, it->second);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

std::map<std::string, std::string> JobStore::unsaved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unsaved_;
}

void JobStore::set_writer_for_testing(Writer writer) {
  std::lock_guard<std::mutex> lock(mu_);
  writer_ = std::move(writer);
}

Status JobStore::update(const std::string& id, const Value& fields) {
  if (!fields.is_object()) return InvalidArgumentError("job meta fields must be a JSON object");
  if (auto jid = fields.find(meta_key::kJobId);
      jid != fields.end() && !(jid->is_string() && jid->get<std::string>() == id)) {
    return InvalidArgumentError("cannot change the job_id of job " + id);
  }
  if (auto st = fields.find(meta_key::kStatus);
      st != fields.end() && !(st->is_string() && is_known_status(st->get<std::string>()))) {
    return InvalidArgumentError("unknown job status " + st->dump() + " for job " + id);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return not_found(id);
  Value meta = it->second;
  for (auto f = fields.begin(); f != fields.end(); ++f) meta[f.key()] = f.value();
  return write_meta_locked(id, std::move(meta));
}

Status JobStore::set_status(const std::string& id, const std::string& status) {
  if (!is_known_status(status))
    return InvalidArgumentError("unknown job status \"" + status + "\" for job " + id);
  fs::path dropped;  // removed once the lock is released (declared first, so destroyed last)
  struct RemoveAfter {
    const fs::path& path;
    ~RemoveAfter() {
      if (!path.empty()) remove_quietly(path);
    }
  } remove_after{dropped};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return not_found(id);
  Value meta = it->second;
  meta[meta_key::kStatus] = status;
  // A job that finishes without its deploy claiming the kept extraction never will.
  if (is_finished(status)) dropped = set_unpacked_aside_locked(id);
  Clock::time_point now = Clock::now();
  if (status == run_status::kRunning) {
    meta[meta_key::kStartTime] = python_datetime(now, ' ');
  } else if (is_finished(status) && status != run_status::kFinishedAbandoned) {
    // An abandoned job's span would include the server's downtime: leave duration as it was.
    auto start = meta.find(meta_key::kStartTime);
    if (start != meta.end() && start->is_string()) {
      if (auto t = parse_python_datetime(start->get<std::string>())) {
        meta[meta_key::kDuration] =
            python_timedelta(std::chrono::duration_cast<std::chrono::microseconds>(now - *t));
      }
    }
  }
  return write_meta_locked(id, std::move(meta));
}

std::vector<Value> JobStore::list() const {
  std::vector<Value> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.reserve(jobs_.size());
    for (const auto& [id, meta] : jobs_) out.push_back(meta);
  }
  auto submit_time = [](const Value& m) {
    auto it = m.find(meta_key::kSubmitTime);
    return it != m.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  // jobs_ is ordered by id, so a stable sort keeps equal times in id order.
  std::stable_sort(out.begin(), out.end(),
                   [&](const Value& a, const Value& b) { return submit_time(a) < submit_time(b); });
  return out;
}

fs::path JobStore::data_path(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.count(id)) return {};
  return root_ / id / kDataFile;
}

Status JobStore::save_workspace(const std::string& id, const fs::path& zip_file) {
  fs::path target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.count(id)) return not_found(id);
    target = root_ / id / kWorkspaceFile;
  }
  // The copy runs unlocked into a temp file; it becomes visible only if the job still exists.
  base::AtomicFileWriter w;
  NVF_RETURN_IF_ERROR(w.open(target));
  NVF_RETURN_IF_ERROR(copy_into(zip_file, w));
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.count(id)) {
    w.abandon();
    return not_found(id);
  }
  return w.commit();
}

Status JobStore::save_workspace_by_moving(const std::string& id, const fs::path& zip_file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.count(id)) return not_found(id);
  }
  // Synced unlocked (the slow part), then renamed into place only if the job still exists.
  NVF_RETURN_IF_ERROR(base::sync_to_disk(zip_file));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.count(id)) return not_found(id);
    const fs::path target = root_ / id / kWorkspaceFile;
    if (::rename(zip_file.c_str(), target.c_str()) == 0) return Status::OK();
    if (errno != EXDEV) return base::errno_status(errno, "cannot move the workspace to", target);
  }
  return save_workspace(id, zip_file);  // another file system
}

std::optional<fs::path> JobStore::workspace_path(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.count(id)) return std::nullopt;
  fs::path p = root_ / id / kWorkspaceFile;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return p;
}

Result<std::vector<std::string>> JobStore::components(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.count(id)) return not_found(id);
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ / id, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path JobStore::component_path(const std::string& id, const std::string& name) const {
  auto names = components(id);
  if (!names.ok() || std::find(names->begin(), names->end(), name) == names->end()) return {};
  return root_ / id / name;
}

bool JobStore::is_scheduled(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.count(id)) return false;
  std::error_code ec;
  return fs::exists(root_ / id / kScheduledTag, ec);
}

Status JobStore::remove(const std::string& id) {
  fs::path aside = root_ / ("." + id + kDeletingSuffix);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return not_found(id);
    if (is_active(status_of(it->second)))
      return FailedPreconditionError("job " + id +
                                     " is running, could not be deleted at this time.");
    fs::path dir = root_ / id;
    if (::rename(dir.c_str(), aside.c_str()) != 0)
      return base::errno_status(errno, "cannot delete job folder", dir);
    jobs_.erase(it);
    unsaved_.erase(id);
  }
  // Renamed aside first, so a crash here leaves no half-deleted job; open() removes the rest.
  remove_quietly(aside);
  return Status::OK();
}

}  // namespace nvf::job
