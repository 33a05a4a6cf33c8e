#include "actors/storage/pipeline_catalog_actor.hpp"

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

using pointer = pipeline_catalog_actor::stateful_pointer<pipeline_catalog_state>;

pipeline_catalog_state::entry load(pointer self, int id) {
  pipeline_catalog_state::entry out;
  out.loaded_at = std::chrono::steady_clock::now();
  if (auto* metrics = process_metrics())
    metrics->pipeline_reload();
  auto record =
      self->state.session->run([&](pqxx::connection& conn) { return db::find_pipeline(conn, id); });
  if (!record) {
    out.problem = make_failure(error_code::pipeline_not_found,
                               "pipeline " + std::to_string(id) + " not found");
    return out;
  }
  if (record->retired) {
    out.problem = make_failure(error_code::pipeline_retired,
                               "pipeline " + std::to_string(id) + " was deleted");
    return out;
  }
  std::vector<step_definition> steps;
  for (const auto& step : record->steps)
    steps.push_back({step.handler, step.params});
  auto plan = plan_pipeline(*self->state.registry, record->id, record->title, steps);
  if (!plan) {
    log::warning("pipeline_catalog", plan.error().detail);
    out.problem = plan.error();
    return out;
  }
  plan->version = record->version;
  out.plan = std::make_shared<const pipeline_plan>(std::move(plan.value()));
  return out;
}

pipeline_catalog_actor::behavior_type catalog(pointer self, pipeline_catalog_settings settings,
                                              std::shared_ptr<const step_registry> registry) {
  self->state.session = db::bounded_session(std::move(settings.dsn), settings.statement_timeout,
                                            db::prepare_pipeline_statements);
  self->state.registry = std::move(registry);
  self->state.cache_ttl = settings.cache_ttl;
  auto meter = actor_meter_for("pipeline_catalog");
  count_running(self, meter);
  return {
      metered(
          meter, false,
          [self](get_atom, int id) -> caf::result<plan_ptr> {
            auto now = std::chrono::steady_clock::now();
            auto& cache = self->state.cache;
            auto it = cache.find(id);
            if (it == cache.end() || now - it->second.loaded_at >= self->state.cache_ttl) {
              try {
                it = cache.insert_or_assign(id, load(self, id)).first;
                db::outage_log::process().succeeded();
              } catch (const pqxx::broken_connection& e) {
                db::outage_log::process().failed("loading pipeline " + std::to_string(id),
                                                 e.what());
                return to_caf_error(make_failure(error_code::database_unavailable,
                                                 "database unavailable: cannot load the pipeline"));
              } catch (const std::exception& e) {
                log::warning("pipeline_catalog",
                             "loading pipeline " + std::to_string(id) + " failed: " + e.what());
                return to_caf_error(make_failure(error_code::database_unavailable,
                                                 "database unavailable: cannot load the pipeline"));
              }
            }
            if (it->second.problem)
              return to_caf_error(*it->second.problem);
            return it->second.plan;
          }),
      metered(meter, false,
              [self](invalidate_atom, int id) {
                if (id == 0)
                  self->state.cache.clear();
                else
                  self->state.cache.erase(id);
              }),
  };
}

} // namespace

pipeline_catalog_actor spawn_pipeline_catalog(caf::actor_system& sys,
                                              pipeline_catalog_settings settings,
                                              std::shared_ptr<const step_registry> registry) {
  return sys.spawn<caf::detached>(catalog, std::move(settings), std::move(registry));
}

} // namespace imgproc
