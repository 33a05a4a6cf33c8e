#pragma once

// What the service stores and answers, as plain values: a task row and a pipeline with its
// steps. db/ reads and writes them; http/ renders them; the actors in between pass them on.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace imgproc {

struct task_record {
  std::int64_t id = 0;
  int pipeline_id = 0;
  std::optional<int> pipeline_version; ///< the version it ran; empty for rows from older binaries
  std::string status; ///< queued | processing | detected | undetected | processed | failed
  std::string filename;
  nlohmann::json data; ///< null if the column is SQL NULL
  std::optional<std::string> error;
  std::string created_at;                 ///< ISO 8601 UTC, e.g. 2024-05-01T12:00:00.123456Z
  std::optional<std::string> finished_at; ///< same format; empty while processing
  /// The application_name of the session that created the row ("imgproc:<instance id>", see
  /// db::instance_application_name); empty for rows from older binaries or plain SQL, or made by
  /// a session without an application_name.
  std::optional<std::string> owner;
  int attempts = 0; ///< claims of an asynchronous task; 0 for a synchronous one
};

struct step_record {
  int position = 0;      ///< 1-based order within the pipeline
  std::string handler;   ///< the step registry's name for the implementation, e.g. "resize"
  std::string title;     ///< the step kind's human-readable title
  nlohmann::json params; ///< always a JSON object
};

struct pipeline_record {
  int id = 0;
  std::string title;
  std::vector<step_record> steps; ///< ordered by position; may be empty
  int version = 1;                ///< the version these steps are (starts at 1)
  std::string description;
  bool retired = false; ///< retired pipelines keep their tasks but cannot run (HTTP 410)
};

} // namespace imgproc
