#pragma once

// Pipelines and their ordered steps, read from `pipelines`, `pipeline_steps` and `step_kinds`.
//
// Functions use prepared statements that prepare_pipeline_statements() must have registered on
// the connection. pqxx exceptions pass through (pqxx::broken_connection when the database is
// unreachable); nlohmann::json::parse_error cannot happen for jsonb but is not caught either.

#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

namespace imgproc::db {

struct step_record {
  int position = 0;
  std::string handler;   ///< the step registry's name for the implementation, e.g. "resize"
  std::string title;     ///< the step kind's human-readable title
  nlohmann::json params; ///< always a JSON object
};

struct pipeline_record {
  int id = 0;
  std::string title;
  std::vector<step_record> steps; ///< ordered by position; may be empty
};

/// Registers the statements below on `conn`. Call once per (new) connection.
void prepare_pipeline_statements(pqxx::connection& conn);

/// The pipeline with its steps, or nullopt if there is no such id.
std::optional<pipeline_record> find_pipeline(pqxx::connection& conn, int id);

/// Every pipeline with its steps, ordered by id.
std::vector<pipeline_record> list_pipelines(pqxx::connection& conn);

} // namespace imgproc::db
