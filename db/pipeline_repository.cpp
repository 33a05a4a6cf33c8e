#include "db/pipeline_repository.hpp"

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

namespace imgproc::db {

namespace {

constexpr const char* find_stmt = "imgproc_pipeline_find";
constexpr const char* list_stmt = "imgproc_pipeline_list";
constexpr const char* find_version_stmt = "imgproc_pipeline_find_version";
constexpr const char* add_kinds_stmt = "imgproc_pipeline_add_kinds";
constexpr const char* missing_kind_stmt = "imgproc_pipeline_missing_kind";
constexpr const char* insert_stmt = "imgproc_pipeline_insert";
constexpr const char* update_stmt = "imgproc_pipeline_update";
constexpr const char* insert_steps_stmt = "imgproc_pipeline_insert_steps";
constexpr const char* delete_steps_stmt = "imgproc_pipeline_delete_steps";
constexpr const char* lock_stmt = "imgproc_pipeline_lock";
constexpr const char* has_tasks_stmt = "imgproc_pipeline_has_tasks";
constexpr const char* retire_stmt = "imgproc_pipeline_retire";
constexpr const char* delete_versions_stmt = "imgproc_pipeline_delete_versions";
constexpr const char* delete_stmt = "imgproc_pipeline_delete";

// One round trip per call: pipelines joined to their steps, one row per step. LEFT JOIN keeps a
// pipeline that has no steps yet (one row with NULL step columns). Being one statement, it sees
// one snapshot: the version always matches the steps.
#define IMGPROC_PIPELINE_SELECT                                                                    \
  "SELECT p.id, p.title, s.position, k.handler, k.title, s.params::text,"                          \
  " p.version, p.description, p.retired_at IS NOT NULL"                                            \
  " FROM pipelines p"                                                                              \
  " LEFT JOIN pipeline_steps s ON s.pipeline_id = p.id"                                            \
  " LEFT JOIN step_kinds k ON k.id = s.step_kind_id"

// Rows shaped as IMGPROC_PIPELINE_SELECT, grouped by pipeline id in order.
std::vector<pipeline_record> to_pipelines(const pqxx::result& rows) {
  std::vector<pipeline_record> pipelines;
  for (const auto& row : rows) {
    const int id = row[0].as<int>();
    if (pipelines.empty() || pipelines.back().id != id) {
      pipeline_record record;
      record.id = id;
      record.title = row[1].as<std::string>();
      record.version = row[6].as<int>();
      record.description = row[7].as<std::string>();
      record.retired = row[8].as<bool>();
      pipelines.push_back(std::move(record));
    }
    if (row[2].is_null())
      continue;
    pipelines.back().steps.push_back(step_record{row[2].as<int>(), row[3].as<std::string>(),
                                                 row[4].as<std::string>(),
                                                 nlohmann::json::parse(row[5].c_str())});
  }
  return pipelines;
}

std::optional<pipeline_record> first(std::vector<pipeline_record> pipelines) {
  if (pipelines.empty())
    return std::nullopt;
  return std::move(pipelines.front());
}

// libpq passes text parameters as C strings: a NUL would silently cut the value short.
const std::string& checked_text(const std::string& value, const char* what) {
  if (value.find('\0') != std::string::npos)
    throw std::invalid_argument(std::string(what) + " contains a NUL byte");
  return value;
}

// Steps travel as one jsonb parameter ([{"handler":..., "params":{...}}, ...]), expanded in SQL
// with WITH ORDINALITY: one statement for any number of steps, no array literal to build.
std::string steps_json(const pipeline_draft& draft) {
  auto steps = nlohmann::json::array();
  for (const auto& step : draft.steps) {
    checked_text(step.handler, "step handler");
    if (!step.params.is_null() && !step.params.is_object())
      throw std::invalid_argument("params of step '" + step.handler + "' must be a JSON object");
    steps.push_back({{"handler", step.handler},
                     {"params", step.params.is_null() ? nlohmann::json::object() : step.params}});
  }
  try {
    return steps.dump();
  } catch (const nlohmann::json::type_error& e) {
    // Thrown for invalid UTF-8; storing a replacement character would change the definition.
    throw std::invalid_argument(std::string("pipeline steps are not valid UTF-8: ") + e.what());
  }
}

// Makes sure every handler has a step kind, adding missing ones.
void add_missing_kinds(pqxx::work& txn, const std::string& steps) {
  txn.exec_prepared(add_kinds_stmt, steps);
  // ON CONFLICT DO NOTHING above also skips a handler whose name is another kind's title.
  const auto missing = txn.exec_prepared(missing_kind_stmt, steps);
  if (!missing.empty())
    throw unknown_handler(missing[0][0].as<std::string>());
}

void insert_steps(pqxx::work& txn, int id, const std::string& steps, std::size_t count) {
  const auto inserted = txn.exec_prepared(insert_steps_stmt, id, steps).affected_rows();
  if (inserted != count) // add_missing_kinds has checked; a concurrent kind change could do it
    throw std::runtime_error("pipeline " + std::to_string(id) + ": stored " +
                             std::to_string(inserted) + " of " + std::to_string(count) + " steps");
}

pipeline_conflict title_taken(const std::string& title) {
  return pipeline_conflict("an active pipeline is already titled '" + title + "'");
}

} // namespace

void prepare_pipeline_statements(pqxx::connection& conn) {
  conn.prepare(find_stmt, IMGPROC_PIPELINE_SELECT " WHERE p.id = $1 ORDER BY s.position");
  conn.prepare(list_stmt,
               IMGPROC_PIPELINE_SELECT " WHERE p.retired_at IS NULL ORDER BY p.id, s.position");
  // Same columns as IMGPROC_PIPELINE_SELECT, from the snapshot.
  conn.prepare(find_version_stmt,
               "SELECT v.pipeline_id, v.title, e.ord, e.step->>'handler',"
               " coalesce(k.title, e.step->>'handler'), (e.step->'params')::text,"
               " v.version, v.description, p.retired_at IS NOT NULL"
               " FROM pipeline_versions v"
               " JOIN pipelines p ON p.id = v.pipeline_id"
               " LEFT JOIN LATERAL jsonb_array_elements(v.steps) WITH ORDINALITY AS e (step, ord)"
               "   ON true"
               " LEFT JOIN step_kinds k ON k.handler = e.step->>'handler'"
               " WHERE v.pipeline_id = $1 AND v.version = $2 ORDER BY e.ord");
  // Filtered first so that conflicts do not burn step_kinds ids.
  conn.prepare(
      add_kinds_stmt,
      "INSERT INTO step_kinds (title, handler)"
      " SELECT DISTINCT h, h FROM (SELECT e->>'handler' FROM jsonb_array_elements($1::jsonb)"
      "   AS e) AS s (h)"
      " WHERE NOT EXISTS (SELECT 1 FROM step_kinds k WHERE k.handler = s.h)"
      " ON CONFLICT DO NOTHING");
  conn.prepare(missing_kind_stmt,
               "SELECT e.step->>'handler' FROM jsonb_array_elements($1::jsonb)"
               "   WITH ORDINALITY AS e (step, ord)"
               " WHERE NOT EXISTS (SELECT 1 FROM step_kinds k WHERE k.handler = e.step->>'handler')"
               " ORDER BY e.ord LIMIT 1");
  conn.prepare(insert_stmt,
               "INSERT INTO pipelines (title, description) VALUES ($1, $2) RETURNING id");
  conn.prepare(update_stmt, "UPDATE pipelines SET title = $2, description = $3"
                            " WHERE id = $1 AND retired_at IS NULL");
  conn.prepare(insert_steps_stmt,
               "INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)"
               " SELECT $1, e.ord, k.id, e.step->'params'"
               " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e (step, ord)"
               " JOIN step_kinds k ON k.handler = e.step->>'handler'");
  conn.prepare(delete_steps_stmt, "DELETE FROM pipeline_steps WHERE pipeline_id = $1");
  conn.prepare(lock_stmt, "SELECT retired_at IS NOT NULL FROM pipelines WHERE id = $1 FOR UPDATE");
  conn.prepare(has_tasks_stmt, "SELECT EXISTS (SELECT 1 FROM tasks WHERE pipeline_id = $1)");
  conn.prepare(retire_stmt, "UPDATE pipelines SET retired_at = now() WHERE id = $1");
  conn.prepare(delete_versions_stmt, "DELETE FROM pipeline_versions WHERE pipeline_id = $1");
  conn.prepare(delete_stmt, "DELETE FROM pipelines WHERE id = $1");
}

#undef IMGPROC_PIPELINE_SELECT

std::optional<pipeline_record> find_pipeline(pqxx::connection& conn, int id) {
  pqxx::nontransaction txn{conn};
  return first(to_pipelines(txn.exec_prepared(find_stmt, id)));
}

std::vector<pipeline_record> list_pipelines(pqxx::connection& conn) {
  pqxx::nontransaction txn{conn};
  return to_pipelines(txn.exec_prepared(list_stmt));
}

std::optional<pipeline_record> find_pipeline_version(pqxx::connection& conn, int id, int version) {
  pqxx::nontransaction txn{conn};
  return first(to_pipelines(txn.exec_prepared(find_version_stmt, id, version)));
}

pipeline_record create_pipeline(pqxx::connection& conn, const pipeline_draft& draft) {
  const std::string steps = steps_json(draft);
  pqxx::work txn{conn, "imgproc_create_pipeline"};
  add_missing_kinds(txn, steps);
  int id = 0;
  try {
    id = txn.exec_prepared1(insert_stmt, checked_text(draft.title, "title"),
                            checked_text(draft.description, "description"))[0]
             .as<int>();
  } catch (const pqxx::unique_violation&) {
    // The only unique index a fresh row can hit is the one on active titles.
    throw title_taken(draft.title);
  }
  insert_steps(txn, id, steps, draft.steps.size());
  // Read inside the transaction: exactly what this commit stores, whatever happens after it.
  auto record = first(to_pipelines(txn.exec_prepared(find_stmt, id)));
  txn.commit();
  return std::move(*record);
}

std::optional<pipeline_record> replace_pipeline(pqxx::connection& conn, int id,
                                                const pipeline_draft& draft) {
  const std::string steps = steps_json(draft);
  pqxx::work txn{conn, "imgproc_replace_pipeline"};
  add_missing_kinds(txn, steps);
  // The pipeline row first: a second replace (or a delete) waits here, and its DELETE of the
  // steps then sees this one's committed steps. (A plain-SQL step edit locks the other way
  // round; should both meet, PostgreSQL detects the deadlock and fails one of them cleanly.)
  const auto locked = txn.exec_prepared(lock_stmt, id);
  if (locked.empty() || locked[0][0].as<bool>())
    return std::nullopt; // missing or retired
  txn.exec_prepared(delete_steps_stmt, id);
  try {
    const auto updated = txn.exec_prepared(update_stmt, id, checked_text(draft.title, "title"),
                                           checked_text(draft.description, "description"));
    if (updated.affected_rows() == 0)
      return std::nullopt; // missing or retired; the destructor rolls back the deletion
  } catch (const pqxx::unique_violation&) {
    throw title_taken(draft.title);
  }
  insert_steps(txn, id, steps, draft.steps.size());
  auto record = first(to_pipelines(txn.exec_prepared(find_stmt, id)));
  txn.commit();
  return record;
}

removal remove_pipeline(pqxx::connection& conn, int id) {
  pqxx::work txn{conn, "imgproc_remove_pipeline"};
  // The row lock makes a concurrent task insert (which takes a key-share lock on the pipeline
  // for its foreign key) wait for us, or us for it; the check below then runs in a new
  // statement, whose snapshot sees any task committed while we waited.
  const auto locked = txn.exec_prepared(lock_stmt, id);
  if (locked.empty())
    return removal::not_found;
  if (txn.exec_prepared1(has_tasks_stmt, id)[0].as<bool>()) {
    // Retiring again would move retired_at and make a new version for nothing.
    if (!locked[0][0].as<bool>()) {
      txn.exec_prepared(retire_stmt, id);
      txn.commit();
    }
    return removal::retired;
  }
  txn.exec_prepared(delete_steps_stmt, id);
  txn.exec_prepared(delete_versions_stmt, id);
  txn.exec_prepared(delete_stmt, id);
  txn.commit();
  return removal::deleted;
}

} // namespace imgproc::db
