#include "actors/storage/pipeline_admin_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"
#include "core/task_json.hpp"
#include "db/outage_log.hpp"
#include "db/pipeline_repository.hpp"
#include "db/session.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

using pointer = pipeline_admin_actor::stateful_pointer<pipeline_admin_state>;

/// {id, version, title, description, steps}: minus id and version, a valid POST body.
nlohmann::ordered_json render(const db::pipeline_record& record) {
  nlohmann::ordered_json out;
  out["id"] = record.id;
  out["version"] = record.version;
  out["title"] = record.title;
  out["description"] = record.description;
  out["steps"] = nlohmann::ordered_json::array();
  for (const auto& step : record.steps)
    out["steps"].push_back({{"handler", step.handler}, {"params", step.params}});
  return out;
}

json_reply ok(int status, const nlohmann::ordered_json& body) {
  return {status, to_text(body)};
}

json_reply problem(int status, const std::string& detail) {
  return {status, to_text(error_body(detail))};
}

db::pipeline_draft to_draft(const pipeline_definition& def) {
  db::pipeline_draft draft;
  draft.title = def.title;
  draft.description = def.description;
  for (const auto& step : def.steps)
    draft.steps.push_back({step.handler, step.params});
  return draft;
}

std::string not_found(int id) {
  return "pipeline " + std::to_string(id) + " not found";
}

/// Runs one repository call; database failures become database_unavailable.
template <class F> caf::result<json_reply> with_db(pointer self, const char* what, F&& fn) {
  try {
    caf::result<json_reply> result = self->state.session->run(std::forward<F>(fn));
    db::outage_log::process().succeeded();
    return result;
  } catch (const pqxx::broken_connection& e) {
    return database_away(what, e); // one log line for the whole outage, not one per call
  } catch (const db::pipeline_conflict& e) {
    return problem(409, e.what());
  } catch (const db::unknown_handler& e) {
    return problem(422, e.what());
  } catch (const std::invalid_argument& e) {
    return problem(400, e.what());
  } catch (const std::exception& e) {
    log::warning("pipeline_admin", std::string{what} + " failed: " + e.what());
    return to_caf_error(make_failure(error_code::database_unavailable,
                                     std::string{"database unavailable: "} + what + " failed"));
  }
}

pipeline_admin_actor::behavior_type admin(pointer self, std::string dsn,
                                          std::chrono::milliseconds statement_timeout) {
  self->state.session =
      db::bounded_session(std::move(dsn), statement_timeout, db::prepare_pipeline_statements);
  auto meter = actor_meter_for("pipeline_admin");
  count_running(self, meter);
  return {
      metered(meter, false,
              [self](list_atom) {
                return with_db(self, "listing pipelines", [](pqxx::connection& conn) {
                  nlohmann::ordered_json items = nlohmann::ordered_json::array();
                  for (const auto& record : db::list_pipelines(conn))
                    items.push_back(render(record));
                  return ok(200, {{"items", items}});
                });
              }),
      metered(meter, false,
              [self](get_atom, int id, int version) {
                return with_db(self, "reading a pipeline", [&](pqxx::connection& conn) {
                  if (version > 0) {
                    auto record = db::find_pipeline_version(conn, id, version);
                    if (!record)
                      return problem(404, "pipeline " + std::to_string(id) + " has no version " +
                                              std::to_string(version));
                    return ok(200, render(*record));
                  }
                  auto record = db::find_pipeline(conn, id);
                  if (!record)
                    return problem(404, not_found(id));
                  if (record->retired)
                    return problem(410, "pipeline " + std::to_string(id) +
                                            " was deleted; its tasks and versions are kept");
                  return ok(200, render(*record));
                });
              }),
      metered(meter, false,
              [self](create_atom, const pipeline_definition& def) {
                return with_db(self, "creating a pipeline", [&](pqxx::connection& conn) {
                  return ok(201, render(db::create_pipeline(conn, to_draft(def))));
                });
              }),
      metered(meter, false,
              [self](put_atom, int id, const pipeline_definition& def) {
                return with_db(self, "replacing a pipeline", [&](pqxx::connection& conn) {
                  auto existing = db::find_pipeline(conn, id);
                  if (!existing)
                    return problem(404, not_found(id));
                  if (existing->retired)
                    return problem(410, "pipeline " + std::to_string(id) + " was deleted");
                  auto record = db::replace_pipeline(conn, id, to_draft(def));
                  if (!record)
                    return problem(404, not_found(id));
                  return ok(200, render(*record));
                });
              }),
      metered(meter, false,
              [self](delete_atom, int id) {
                return with_db(self, "deleting a pipeline", [&](pqxx::connection& conn) {
                  switch (db::remove_pipeline(conn, id)) {
                    case db::removal::deleted:
                      return ok(200, {{"id", id}, {"status", "deleted"}});
                    case db::removal::retired:
                      return ok(200, {{"id", id}, {"status", "retired"}});
                    case db::removal::not_found:
                      break;
                  }
                  return problem(404, not_found(id));
                });
              }),
  };
}

} // namespace

pipeline_admin_actor spawn_pipeline_admin(caf::actor_system& sys, std::string dsn,
                                          std::chrono::milliseconds statement_timeout) {
  return sys.spawn<caf::detached>(admin, std::move(dsn), statement_timeout);
}

} // namespace imgproc
