#pragma once

// Pipelines and their ordered steps, read from `pipelines`, `pipeline_steps` and `step_kinds`,
// and written as whole definitions (title, description, step list).
//
// Versions: every committed change of a pipeline, whether made here or by plain SQL, bumps
// `pipelines.version` once, stores the resulting definition in `pipeline_versions` and sends
// NOTIFY pipeline_changed, '<id>' (database triggers, see db/migrations/0003_pipeline_versions.sql;
// db/change_listener.hpp receives the notifications).
//
// Functions use prepared statements that prepare_pipeline_statements() must have registered on
// the connection. pqxx exceptions pass through (pqxx::broken_connection when the database is
// unreachable; pqxx::in_doubt_error if the connection broke during a commit);
// nlohmann::json::parse_error cannot happen for jsonb but is not caught either.

#include "core/records.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgproc::db {

using imgproc::pipeline_record; ///< see core/records.hpp
using imgproc::step_record;

/// One step of a pipeline definition to store.
struct step_draft {
  std::string handler;   ///< must name a step kind (see create_pipeline)
  nlohmann::json params; ///< a JSON object; null is taken as {}
};

/// A whole pipeline definition as a client submits it.
struct pipeline_draft {
  std::string title;
  std::string description;
  std::vector<step_draft> steps; ///< in execution order
};

/// An active pipeline already has this title.
class pipeline_conflict : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A step names a handler that has no `step_kinds` row and none could be added (its handler
/// name is already another kind's title).
class unknown_handler : public std::runtime_error {
public:
  explicit unknown_handler(const std::string& handler)
      : std::runtime_error("unknown step handler '" + handler + "'"), handler_(handler) {}
  const std::string& handler() const noexcept { return handler_; }

private:
  std::string handler_;
};

enum class removal {
  deleted, ///< had no tasks: its steps, versions and row are gone
  retired, ///< has tasks: kept with retired_at set
  not_found,
};

/// Registers the statements below on `conn`. Call once per (new) connection.
void prepare_pipeline_statements(pqxx::connection& conn);

/// The pipeline with its steps and current version, active or retired (check `retired`), or
/// nullopt if there is no such id. Row, steps and version come from one statement, so they
/// always belong together: use this to load a pipeline for execution and record its `version`
/// on the task.
std::optional<pipeline_record> find_pipeline(pqxx::connection& conn, int id);

/// Every active pipeline with its steps, ordered by id.
std::vector<pipeline_record> list_pipelines(pqxx::connection& conn);

/// The pipeline as it was at `version` (from `pipeline_versions`), or nullopt if that version
/// does not exist. Step titles are today's titles of the step kinds (the handler itself if the
/// kind is gone); `retired` tells whether the pipeline is retired now.
std::optional<pipeline_record> find_pipeline_version(pqxx::connection& conn, int id, int version);

/// Stores a new pipeline with its steps in one transaction and returns it (version 1).
/// A handler missing from `step_kinds` gets a row (title = handler): the caller is expected to
/// have checked handlers against the step registry.
/// Throws pipeline_conflict if an active pipeline has the same title; unknown_handler if a
/// missing step kind cannot be added; std::invalid_argument if a step's params are neither an
/// object nor null, or text holds a NUL byte; pqxx::data_exception for invalid UTF-8.
pipeline_record create_pipeline(pqxx::connection& conn, const pipeline_draft& draft);

/// Replaces title, description and the whole step list of an active pipeline in one
/// transaction (one new version) and returns the result; nullopt if there is no such active
/// pipeline (missing or retired). Throws as create_pipeline.
std::optional<pipeline_record> replace_pipeline(pqxx::connection& conn, int id,
                                                const pipeline_draft& draft);

/// Removes a pipeline: one that tasks refer to is retired (retired_at set; tasks and versions
/// stay, nothing cascades; an already retired one is left as it is), any other is deleted with
/// its steps and versions, retired or not.
removal remove_pipeline(pqxx::connection& conn, int id);

} // namespace imgproc::db
