#include "actors/storage/pipeline_admin_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"
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

caf::error problem(error_code code, std::string detail) {
  return to_caf_error(make_failure(code, std::move(detail)));
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
template <class T, class F> caf::result<T> with_db(pointer self, const char* what, F&& fn) {
  try {
    caf::result<T> result = self->state.session->run(std::forward<F>(fn));
    db::outage_log::process().succeeded();
    return result;
  } catch (const pqxx::broken_connection& e) {
    return database_away(what, e); // one log line for the whole outage, not one per call
  } catch (const db::pipeline_conflict& e) {
    return problem(error_code::conflict, e.what());
  } catch (const db::unknown_handler& e) {
    return problem(error_code::invalid_pipeline, e.what());
  } catch (const std::invalid_argument& e) {
    return problem(error_code::bad_request, e.what());
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
                return with_db<pipeline_list>(
                    self, "listing pipelines",
                    [](pqxx::connection& conn) { return pipeline_list{db::list_pipelines(conn)}; });
              }),
      metered(meter, false,
              [self](get_atom, int id, int version) {
                return with_db<pipeline_record>(
                    self, "reading a pipeline",
                    [&](pqxx::connection& conn) -> caf::result<pipeline_record> {
                      if (version > 0) {
                        auto record = db::find_pipeline_version(conn, id, version);
                        if (!record)
                          return problem(error_code::pipeline_not_found,
                                         "pipeline " + std::to_string(id) + " has no version " +
                                             std::to_string(version));
                        return std::move(*record);
                      }
                      auto record = db::find_pipeline(conn, id);
                      if (!record)
                        return problem(error_code::pipeline_not_found, not_found(id));
                      if (record->retired)
                        return problem(error_code::pipeline_retired,
                                       "pipeline " + std::to_string(id) +
                                           " was deleted; its tasks and versions are kept");
                      return std::move(*record);
                    });
              }),
      metered(meter, false,
              [self](create_atom, const pipeline_definition& def) {
                return with_db<pipeline_record>(self, "creating a pipeline",
                                                [&](pqxx::connection& conn) {
                                                  return db::create_pipeline(conn, to_draft(def));
                                                });
              }),
      metered(meter, false,
              [self](put_atom, int id, const pipeline_definition& def) {
                return with_db<pipeline_record>(
                    self, "replacing a pipeline",
                    [&](pqxx::connection& conn) -> caf::result<pipeline_record> {
                      auto existing = db::find_pipeline(conn, id);
                      if (!existing)
                        return problem(error_code::pipeline_not_found, not_found(id));
                      if (existing->retired)
                        return problem(error_code::pipeline_retired,
                                       "pipeline " + std::to_string(id) + " was deleted");
                      auto record = db::replace_pipeline(conn, id, to_draft(def));
                      if (!record)
                        return problem(error_code::pipeline_not_found, not_found(id));
                      return std::move(*record);
                    });
              }),
      metered(meter, false,
              [self](delete_atom, int id) {
                return with_db<pipeline_removal>(
                    self, "deleting a pipeline",
                    [&](pqxx::connection& conn) -> caf::result<pipeline_removal> {
                      switch (db::remove_pipeline(conn, id)) {
                        case db::removal::deleted:
                          return pipeline_removal{id, false};
                        case db::removal::retired:
                          return pipeline_removal{id, true};
                        case db::removal::not_found:
                          break;
                      }
                      return problem(error_code::pipeline_not_found, not_found(id));
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
