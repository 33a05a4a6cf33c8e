#pragma once

// The HTTP contract, in one place: which status each outcome answers and the JSON body it carries.
// The actor side answers domain values or a `failure` (core/image_service.hpp); these functions
// turn them into responses. The task shape is the original service's, so that the HTTP answer and
// the stored row can never disagree.

#include "core/errors.hpp"
#include "core/image_service.hpp"
#include "core/records.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

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

/// The one table: the HTTP status every front-end answers for an error code.
int http_status(error_code code);

/// {"detail": "..."}: the original's error shape.
nlohmann::json error_body(const std::string& detail);

/// The HTTP answer for a failure: its status and {"detail": ...}; a 503 says when to retry.
http_reply failure_reply(const failure& f);

/// {"id", "pipeline_id", "status", "filename", "data"}, keys in the original's order (the box's
/// too, whatever order `data` has, e.g. as read back from jsonb).
nlohmann::ordered_json task_response(std::int64_t id, int pipeline_id, const std::string& status,
                                     const std::string& filename, const nlohmann::json& data);

/// task_response() plus the row's pipeline_version, created_at, finished_at (and error).
nlohmann::ordered_json task_json(const task_record& task);

/// {id, version, title, description, steps}: minus id and version, a valid POST body.
nlohmann::ordered_json pipeline_json(const pipeline_record& record);

/// The answers of each call, status included.
http_reply to_reply(const task_answer& task);   ///< 200, or 202 with Location when queued
http_reply to_reply(const task_record& task);   ///< 200
http_reply to_reply(const task_page& page);     ///< 200 {"items", "next_after_id"}
http_reply to_reply(const step_list& steps);    ///< 200 {"items"}
http_reply to_reply(const pipeline_list& list); ///< 200 {"items"}
http_reply to_reply(const pipeline_record& record, int status = 200);
http_reply to_reply(const pipeline_removal& removal); ///< 200 {"id", "status": deleted | retired}
http_reply to_reply(const service_ready&);            ///< 200 {"status": "ready"}
http_reply to_reply(const cluster_view& cluster);     ///< 200
/// 200 {"pipeline_id", "pipeline_version", "title", "status", "filename", "data", "node",
/// "time_ms", "steps"}; pipeline_id and pipeline_version null for an unsaved definition.
http_reply to_reply(const dry_run_answer& run);

/// Either the value's answer or the failure's.
template <class T> http_reply to_reply(const result<T>& outcome) {
  return outcome ? to_reply(outcome.value()) : failure_reply(outcome.error());
}

} // namespace imgproc
