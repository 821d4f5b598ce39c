// JobStore: the server's persistent job store, laid out as FLARE's SimpleJobDefManager +
// FilesystemStorage do (cli-and-formats §2.6): `<root>/<job_id>/` holding `data` (the uploaded
// job zip), `meta` (JSON, FLARE's keys, §2.2), `workspace` (a zip of the server's run dir, once
// the job has finished) and the tag file `scheduled` (jobs past SUBMITTED); ours may add the hidden
// folder `.unpacked`, the submit's checked extraction of `data`, until the job deploys. Every write is atomic
// (temp file + rename); a new job is assembled in a hidden staging folder and renamed into place,
// and a deleted job is renamed aside before it is removed, so a crash never leaves half a job.
//
// The server owns one JobStore per store root. All methods may be called from any thread: one
// mutex guards the in-memory copy of the metas and every change on disk. Large copies (the job
// zip, the workspace zip) are made outside the lock.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::job {

/// FLARE's RunStatus values (runtime.md §1.3).
namespace run_status {
inline constexpr std::string_view kSubmitted = "SUBMITTED";
inline constexpr std::string_view kApproved = "APPROVED";
inline constexpr std::string_view kDispatched = "DISPATCHED";
inline constexpr std::string_view kRunning = "RUNNING";
inline constexpr std::string_view kFinishedCompleted = "FINISHED:COMPLETED";
inline constexpr std::string_view kFinishedAborted = "FINISHED:ABORTED";
inline constexpr std::string_view kFinishedExecutionException = "FINISHED:EXECUTION_EXCEPTION";
inline constexpr std::string_view kFinishedAbnormal = "FINISHED:ABNORMAL";
inline constexpr std::string_view kFinishedFailedToRun = "FINISHED:FAILED_TO_RUN";
inline constexpr std::string_view kFinishedCanNotSchedule = "FINISHED:CAN_NOT_SCHEDULE";
inline constexpr std::string_view kFinishedAbandoned = "FINISHED:ABANDONED";
}  // namespace run_status

/// FLARE's meta keys written by the store (cli-and-formats §2.2).
namespace meta_key {
inline constexpr const char* kJobId = "job_id";
inline constexpr const char* kStatus = "status";
inline constexpr const char* kSubmitTime = "submit_time";
inline constexpr const char* kSubmitTimeIso = "submit_time_iso";
inline constexpr const char* kStartTime = "start_time";
inline constexpr const char* kDuration = "duration";
inline constexpr const char* kDataStorageFormat = "data_storage_format";
}  // namespace meta_key

/// "Done": the status starts with FINISHED.
bool is_finished(std::string_view status);

/// One of the run_status values.
bool is_known_status(std::string_view status);

/// A job id as FLARE makes them: a lower-case uuid4 text ("8-4-4-4-12" hex digits).
bool is_valid_job_id(std::string_view id);

class JobStore {
 public:
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  /// Opens (creating) the store at `root`. A job found RUNNING or DISPATCHED (left by a crash)
  /// becomes FINISHED:ABANDONED; their ids are returned through `abandoned` when non-null. A job
  /// folder with an unreadable meta is skipped with a warning through `warnings` (never deleted);
  /// leftovers of an interrupted create or remove are removed. Errors: `root` cannot be created
  /// or listed, an abandoned job's meta cannot be rewritten (naming the path).
  static Result<std::unique_ptr<JobStore>> open(const std::filesystem::path& root,
                                                std::vector<std::string>* abandoned = nullptr,
                                                std::vector<std::string>* warnings = nullptr);

  /// Stores a new job: assigns a uuid4 job_id, status SUBMITTED, submit_time (float epoch
  /// seconds) and submit_time_iso (local time with offset), start_time "", duration "N/A",
  /// data_storage_format 2 unless given; copies `zip_file` to `data`. Every other key of `meta`
  /// (name, deploy_map, submitter_*, job_folder_name, ...) is kept. Returns the id.
  /// Errors: INVALID_ARGUMENT (meta not an object), NOT_FOUND (zip_file), file-system errors.
  Result<std::string> create(config::Value meta, const std::filesystem::path& zip_file);
  /// As create(), but `zip_file` (a file the caller is done with, already on disk for good) is
  /// moved into the store when it is on the same file system: a large job is not written again.
  /// A non-empty `unpacked` (a folder holding the zip's extraction, checked by the caller) is moved
  /// in beside it and kept until take_unpacked() claims it or the job finishes, so the job's deploy
  /// need not write the job's bytes once more; it is dropped (never copied) when it cannot be moved.
  Result<std::string> create_by_moving(config::Value meta, const std::filesystem::path& zip_file,
                                       const std::filesystem::path& unpacked = {});

  /// A fresh private folder inside the store for an upload on its way in (received, extracted,
  /// checked), so that create_by_moving() from it only renames. The caller removes it when done;
  /// open() removes one a crash left behind. Errors: the folder cannot be made.
  Result<std::filesystem::path> make_upload_dir();

  /// Moves the job's kept extraction (see create_by_moving) to `dest`, which must not exist, and
  /// returns true. False when none is kept (a job stored from a zip alone, a clone, one claimed
  /// before) or when it cannot be moved there (another file system): it is then removed, and the
  /// caller extracts `data` as for any job.
  bool take_unpacked(const std::string& id, const std::filesystem::path& dest);

  /// As create(), from the zip's bytes in memory.
  Result<std::string> create_from_bytes(config::Value meta, std::string_view zip_bytes);

  /// The job's meta. Errors: NOT_FOUND "job <id> not found".
  Result<config::Value> meta(const std::string& id) const;

  /// Merges `fields` (an object; top-level keys replace) into the meta and writes it atomically.
  /// Errors: NOT_FOUND, INVALID_ARGUMENT (not an object, a change of job_id, an unknown status).
  Status update(const std::string& id, const config::Value& fields);

  /// Sets the status. RUNNING also sets start_time (Python's str(datetime.now())); a FINISHED
  /// status other than ABANDONED sets duration (str(timedelta) since start_time) when the job
  /// started. Leaving SUBMITTED tags the job `scheduled`; a FINISHED status removes a kept
  /// extraction not claimed (a job that never deployed). Errors: NOT_FOUND, INVALID_ARGUMENT
  /// (an unknown status).
  Status set_status(const std::string& id, const std::string& status);

  /// Every job's meta, by submit_time ascending (then by id).
  std::vector<config::Value> list() const;

  /// `<root>/<id>/data`; empty for an unknown id (so an id from a user can never name a path
  /// outside the store).
  std::filesystem::path data_path(const std::string& id) const;

  /// Copies `zip_file` (the zipped server run dir) to the job's `workspace`. Errors: NOT_FOUND
  /// (job or file), file-system errors.
  Status save_workspace(const std::string& id, const std::filesystem::path& zip_file);

  /// As save_workspace(), but `zip_file` (the caller's, done with; written unsynced) is synced and
  /// moved into the store when it is on the same file system, so a large workspace is not written
  /// again; else copied. Errors: as save_workspace (the file stays where it was).
  Status save_workspace_by_moving(const std::string& id, const std::filesystem::path& zip_file);

  /// The job's `workspace` file when it exists.
  std::optional<std::filesystem::path> workspace_path(const std::string& id) const;

  /// The names of the regular files stored for the job (data, meta, workspace, scheduled and any
  /// other component, e.g. ERRORLOG_site-1), sorted; NOT_FOUND for an unknown id.
  Result<std::vector<std::string>> components(const std::string& id) const;

  /// `<root>/<id>/<name>` when the job exists and `name` is one of its components (so a name from
  /// a user never leaves the job's folder); empty otherwise.
  std::filesystem::path component_path(const std::string& id, const std::string& name) const;

  /// True once the job has left SUBMITTED (its `scheduled` tag exists).
  bool is_scheduled(const std::string& id) const;

  /// Deletes the job's folder. Errors: NOT_FOUND; FAILED_PRECONDITION while it is DISPATCHED or
  /// RUNNING ("job <id> is running, could not be deleted at this time.").
  Status remove(const std::string& id);

  /// Writes again every meta change that could not be saved (update() and set_status() keep a
  /// change they could not write in memory, return its error, and leave the file on disk as it
  /// was). The server calls this on every scheduling tick. Returns the first error, naming the job.
  Status flush();

  /// The jobs with a change not yet on disk, with the reason (empty when all is saved).
  std::map<std::string, std::string> unsaved() const;

  /// Replaces how metas and tags are written (default: base::atomic_write), so a test can make
  /// the disk fail.
  using Writer = std::function<Status(const std::filesystem::path&, std::string_view)>;
  void set_writer_for_testing(Writer writer);

  const std::filesystem::path& root() const { return root_; }

 private:
  explicit JobStore(std::filesystem::path root);

  Result<std::string> finish_create(config::Value meta, const std::string& id,
                                    const std::filesystem::path& staging);
  // Writes `meta` for job `id` (and its `scheduled` tag) and updates the cache; a failed write of
  // a known job keeps `meta` in the cache and in unsaved_. Caller holds mu_.
  Status write_meta_locked(const std::string& id, config::Value meta);
  // Renames job `id`'s kept extraction to a hidden name in the root for the caller to remove once
  // unlocked; empty when there is none. Caller holds mu_.
  std::filesystem::path set_unpacked_aside_locked(const std::string& id);

  const std::filesystem::path root_;
  mutable std::mutex mu_;
  std::map<std::string, config::Value> jobs_;  // guarded by mu_: id → meta, as on disk unless in unsaved_
  std::map<std::string, std::string> unsaved_;  // guarded by mu_: id → why its meta is not on disk yet
  Writer writer_;                                // guarded by mu_
};

}  // namespace nvf::job
