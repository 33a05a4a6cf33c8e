#pragma once

// The seam between the HTTP front-end and the actor system. The front-end parses a request into
// plain values (a `process_request`, a `task_filter`, an id) and calls an `image_service`; the
// actor side answers through an `answer_channel` exactly once, with a domain value or a
// `failure`. Statuses, headers and response bodies are the front-end's alone (http/api_json):
// nothing behind this seam knows HTTP, and neither side includes the other's framework headers.

#include "core/errors.hpp"
#include "core/records.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

/// Where one call's answer goes. Implementations ignore every send after the first and answer
/// `internal` from their destructor if nobody answered: a request is never left hanging.
template <class T> class answer_channel {
public:
  virtual ~answer_channel() = default;
  virtual void send(result<T> answer) = 0;
};

template <class T> using answer_ptr = std::shared_ptr<answer_channel<T>>;

struct process_request {
  int pipeline_id = 0;
  std::string filename;              ///< already sanitized
  std::string_view image;            ///< the upload, a view into the HTTP request body
  std::shared_ptr<const void> owner; ///< keeps `image` alive
  std::chrono::steady_clock::time_point deadline;
  /// Set once the client has closed its connection (the front-end watches it): the work stops.
  std::shared_ptr<const std::atomic<bool>> client_gone;
  std::string request_id; ///< the X-Request-Id the answer carries, for log lines
  /// Queue the task (answered once it and its upload are committed) instead of running it now.
  bool async = false;
};

/// A processed (or queued) task, as stored: what POST /process-image answers.
struct task_answer {
  std::int64_t id = 0;
  int pipeline_id = 0;
  std::string status; ///< detected | undetected | processed, or queued
  std::string filename;
  nlohmann::json data; ///< the stored result; null for a queued task
  bool queued = false; ///< stored 'queued' to run later (?async=true), not run yet
  std::string node;    ///< the node that ran the image work, for the request log line
};

/// A dry run (POST /pipelines/{id}/dry-run, POST /pipelines/dry-run): the steps run on the upload
/// as for process(), each recorded with a preview, and nothing is stored.
struct dry_run_request {
  int pipeline_id = 0;    ///< a stored pipeline's current version, or 0 with `definition`
  std::string definition; ///< an unsaved pipeline, as POST /pipelines takes it (JSON text)
  std::string filename;   ///< already sanitized
  std::string_view image; ///< the upload, a view into the HTTP request body
  std::shared_ptr<const void> owner; ///< keeps `image` alive
  std::chrono::steady_clock::time_point deadline;
  /// Set once the client has closed its connection (the front-end watches it): the work stops.
  std::shared_ptr<const std::atomic<bool>> client_gone;
  std::string request_id;
};

/// What a dry run answers: the result a task would have stored, and every step's record
/// (core/dry_run.hpp: handler, params, time, output, preview).
struct dry_run_answer {
  int pipeline_id = 0;      ///< 0 for an unsaved definition
  int pipeline_version = 0; ///< 0 for an unsaved definition
  std::string title;
  std::string status; ///< detected | undetected | processed, as the task would be
  std::string filename;
  nlohmann::json data;
  std::string node;     ///< the node that ran the steps
  nlohmann::json steps; ///< one object per step
  double time_ms = 0;   ///< from the dry run's start (upload read and checked) to the answer
};

/// GET /tasks filters, already checked by the front-end.
struct task_filter {
  std::optional<int> pipeline_id;
  std::optional<std::string> status;
  int limit = 50;
  std::optional<std::int64_t> after_id; ///< keyset pagination: tasks older than this id
};

/// One page of tasks, newest first.
struct task_page {
  std::vector<task_record> items;
  std::optional<std::int64_t> next_after_id; ///< set when a full page may have more behind it
};

/// The step catalogue: every step kind with its parameters (core/step_catalogue).
struct step_list {
  nlohmann::json items;
};

struct pipeline_list {
  std::vector<pipeline_record> items;
};

/// A deleted pipeline: gone (it had no tasks) or retired (its tasks and versions are kept).
struct pipeline_removal {
  int id = 0;
  bool retired = false;
};

/// The service accepts work, some node can run jobs and the database answers.
struct service_ready {};

/// The nodes that run jobs, their capacity, work in flight and totals (core/dispatch_table).
struct cluster_view {
  nlohmann::json description;
};

/// Every call answers through its channel, exactly once, and never throws.
class image_service {
public:
  virtual ~image_service() = default;
  /// Runs the pipeline (or queues the task, with request.async).
  virtual void process(process_request request, answer_ptr<task_answer> answer) = 0;
  /// Runs the steps without storing a task (invalid_pipeline for a definition that does not
  /// validate, overloaded when too many dry runs are running).
  virtual void dry_run(dry_run_request request, answer_ptr<dry_run_answer> answer) = 0;
  /// The stored task, or task_not_found.
  virtual void get_task(std::int64_t id, answer_ptr<task_record> answer) = 0;
  virtual void list_tasks(task_filter filter, answer_ptr<task_page> answer) = 0;
  virtual void list_steps(answer_ptr<step_list> answer) = 0;
  virtual void list_pipelines(answer_ptr<pipeline_list> answer) = 0;
  /// The current version, or `version` from the history.
  virtual void get_pipeline(int id, std::optional<int> version,
                            answer_ptr<pipeline_record> answer) = 0;
  /// `body` is the JSON the client sent.
  virtual void create_pipeline(std::string body, answer_ptr<pipeline_record> answer) = 0;
  virtual void replace_pipeline(int id, std::string body, answer_ptr<pipeline_record> answer) = 0;
  /// Deletes a pipeline without tasks; retires one with tasks.
  virtual void delete_pipeline(int id, answer_ptr<pipeline_removal> answer) = 0;
  /// Readiness: the service accepts work, some node can run jobs and the database answers.
  virtual void check_ready(answer_ptr<service_ready> answer) = 0;
  virtual void cluster_status(answer_ptr<cluster_view> answer) = 0;
};

} // namespace imgproc
