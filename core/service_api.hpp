#pragma once

// The seam between the HTTP front-end and the actor system. The front-end parses a request into
// a `process_request` and hands it to an `image_service` with a `reply_channel`; the actor side
// answers through the channel exactly once. Neither side includes the other's framework headers.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace imgproc {

struct http_reply {
  http_reply() = default;
  http_reply(int status_code, std::string json, std::string retry_after_seconds = {})
      : status(status_code), body(std::move(json)), retry_after(std::move(retry_after_seconds)) {}

  int status = 200;
  std::string body;        ///< JSON text
  std::string retry_after; ///< seconds, sent as Retry-After when not empty
  std::string location;    ///< sent as Location when not empty (202 for a queued task)
  std::string node;        ///< the node that ran the image work, for the request log line
};

/// Answers one HTTP request. Implementations ignore every send after the first, and answer
/// 500 from their destructor if nobody answered: a request is never left hanging.
class reply_channel {
public:
  virtual ~reply_channel() = default;
  virtual void send(http_reply reply) = 0;
};

using reply_ptr = std::shared_ptr<reply_channel>;

struct process_request {
  int pipeline_id = 0;
  std::string filename;              ///< already sanitized
  std::string_view image;            ///< the upload, a view into the HTTP request body
  std::shared_ptr<const void> owner; ///< keeps `image` alive
  std::chrono::steady_clock::time_point deadline;
  std::string request_id; ///< the X-Request-Id the answer carries, for log lines
  /// Queue the task (202 once it and its upload are committed) instead of running it now.
  bool async = false;
};

/// GET /tasks filters, already checked by the front-end.
struct task_filter {
  std::optional<int> pipeline_id;
  std::optional<std::string> status;
  int limit = 50;
  std::optional<std::int64_t> after_id; ///< keyset pagination: tasks older than this id
};

/// Every call answers through `reply`, exactly once, and never throws.
class image_service {
public:
  virtual ~image_service() = default;
  /// Runs the pipeline.
  virtual void process(process_request request, reply_ptr reply) = 0;
  /// The stored task, or 404.
  virtual void get_task(std::int64_t id, reply_ptr reply) = 0;
  /// Tasks newest first: {"items": [...], "next_after_id": id or null}.
  virtual void list_tasks(task_filter filter, reply_ptr reply) = 0;
  /// The step catalogue (GET /steps).
  virtual void list_steps(reply_ptr reply) = 0;
  virtual void list_pipelines(reply_ptr reply) = 0;
  /// The current version, or `version` from the history.
  virtual void get_pipeline(int id, std::optional<int> version, reply_ptr reply) = 0;
  /// `body` is the JSON the client sent.
  virtual void create_pipeline(std::string body, reply_ptr reply) = 0;
  virtual void replace_pipeline(int id, std::string body, reply_ptr reply) = 0;
  /// Deletes a pipeline without tasks; retires one with tasks.
  virtual void delete_pipeline(int id, reply_ptr reply) = 0;
  /// Readiness: 200 while the service accepts work, some node can run jobs and the database
  /// answers; else 503.
  virtual void check_ready(reply_ptr reply) = 0;
  /// GET /cluster: the nodes that run jobs, their capacity, work in flight and totals.
  virtual void cluster_status(reply_ptr reply) = 0;
};

} // namespace imgproc
