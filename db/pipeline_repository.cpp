#include "db/pipeline_repository.hpp"

#include <pqxx/nontransaction>
#include <pqxx/result>

namespace imgproc::db {

namespace {

constexpr const char* find_stmt = "imgproc_pipeline_find";
constexpr const char* list_stmt = "imgproc_pipeline_list";

// One round trip per call: pipelines joined to their steps, one row per step. LEFT JOIN keeps a
// pipeline that has no steps yet (one row with NULL step columns).
#define IMGPROC_PIPELINE_SELECT                                                                    \
  "SELECT p.id, p.title, s.position, k.handler, k.title, s.params::text"                           \
  " FROM pipelines p"                                                                              \
  " LEFT JOIN pipeline_steps s ON s.pipeline_id = p.id"                                            \
  " LEFT JOIN step_kinds k ON k.id = s.step_kind_id"

std::vector<pipeline_record> to_pipelines(const pqxx::result& rows) {
  std::vector<pipeline_record> pipelines;
  for (const auto& row : rows) {
    const int id = row[0].as<int>();
    if (pipelines.empty() || pipelines.back().id != id)
      pipelines.push_back(pipeline_record{id, row[1].as<std::string>(), {}});
    if (row[2].is_null())
      continue;
    pipelines.back().steps.push_back(step_record{row[2].as<int>(), row[3].as<std::string>(),
                                                 row[4].as<std::string>(),
                                                 nlohmann::json::parse(row[5].c_str())});
  }
  return pipelines;
}

} // namespace

void prepare_pipeline_statements(pqxx::connection& conn) {
  conn.prepare(find_stmt, IMGPROC_PIPELINE_SELECT " WHERE p.id = $1 ORDER BY s.position");
  conn.prepare(list_stmt, IMGPROC_PIPELINE_SELECT " ORDER BY p.id, s.position");
}

#undef IMGPROC_PIPELINE_SELECT

std::optional<pipeline_record> find_pipeline(pqxx::connection& conn, int id) {
  pqxx::nontransaction txn{conn};
  auto pipelines = to_pipelines(txn.exec_prepared(find_stmt, id));
  if (pipelines.empty())
    return std::nullopt;
  return std::move(pipelines.front());
}

std::vector<pipeline_record> list_pipelines(pqxx::connection& conn) {
  pqxx::nontransaction txn{conn};
  return to_pipelines(txn.exec_prepared(list_stmt));
}

} // namespace imgproc::db
