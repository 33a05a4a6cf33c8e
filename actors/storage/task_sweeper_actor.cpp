#include "actors/storage/task_sweeper_actor.hpp"

#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace imgproc {
namespace {

caf::behavior task_sweeper(caf::event_based_actor* self, persistence_pool_ptr persistence,
                           sweep_settings settings) {
  self->delayed_send(self, settings.interval, sweep_atom::value);
  return {
      [self, persistence, settings](sweep_atom) {
        self->request(persistence->pick(), std::chrono::seconds(30), sweep_atom::value,
                      static_cast<std::int64_t>(settings.min_age.count()))
            .then(
                [](std::int64_t failed) {
                  if (failed > 0)
                    log::warning("sweeper", "marked " + std::to_string(failed) +
                                                " task(s) of a stopped gateway as failed");
                },
                [](caf::error&) {}); // the persistence actor logged it; the next round retries
        self->delayed_send(self, settings.interval, sweep_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_task_sweeper(caf::actor_system& sys, persistence_pool_ptr persistence,
                              sweep_settings settings) {
  return sys.spawn(task_sweeper, std::move(persistence), settings);
}

} // namespace imgproc
