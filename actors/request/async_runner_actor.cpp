#include "actors/request/async_runner_actor.hpp"

#include "actors/metered.hpp"
#include "actors/request/pipeline_actor.hpp"
#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

struct async_runner_state {
  static inline const char* name = "async_runner";
  services_ptr services;
  async_settings settings;
  meter_ptr meter;
  int in_flight = 0;
  bool claiming = false; ///< a claim request is out: never two at once
  std::chrono::steady_clock::time_point paused_until;
};

using pointer = async_runner_actor::stateful_pointer<async_runner_state>;

/// Tells the runner a claimed run is over, once, whatever happened to it.
class run_finished final : public answer_channel<task_answer> {
public:
  explicit run_finished(async_runner_actor runner) : runner_(std::move(runner)) {}
  ~run_finished() override { send(make_failure(error_code::internal, "dropped unanswered")); }
  void send(result<task_answer> outcome) override {
    if (!runner_)
      return;
    // Released for lack of capacity, or the database is away: claiming more now would not help.
    bool not_now = !outcome && (outcome.error().code == error_code::overloaded ||
                                outcome.error().code == error_code::database_unavailable ||
                                outcome.error().code == error_code::shutting_down);
    caf::anon_send(runner_, done_atom::value, not_now);
    runner_ = nullptr;
  }

private:
  async_runner_actor runner_;
};

void report_running(pointer self) {
  if (auto* metrics = process_metrics())
    metrics->async_running(self->state.in_flight);
}

void start_run(pointer self, claimed_work work) {
  auto& st = self->state;
  process_request request;
  request.pipeline_id = work.pipeline_id;
  request.filename = std::move(work.filename);
  request.image = *work.image;
  request.owner = work.image;
  request.deadline = std::chrono::steady_clock::now() + st.settings.deadline;
  request.request_id = "task-" + std::to_string(work.task_id);
  ++st.in_flight;
  try {
    auto running = std::make_unique<running_pipeline>(st.services);
    spawn_claimed_pipeline(
        self->system(), st.services, std::move(request), {work.task_id, work.attempt},
        std::make_shared<run_finished>(caf::actor_cast<async_runner_actor>(self)),
        std::move(running));
  } catch (const std::exception& e) {
    // The claim stays 'processing' under this live process; the sweeper fails it in time.
    log::error("async", "task " + std::to_string(work.task_id) + " not started: " + e.what());
  }
}

void claim(pointer self) {
  auto& st = self->state;
  int room = st.settings.concurrency - st.in_flight;
  if (st.claiming || room <= 0 || std::chrono::steady_clock::now() < st.paused_until)
    return;
  st.claiming = true;
  self->request(st.services->persistence.pick(), st.services->db_timeout, claim_atom::value,
                static_cast<std::int32_t>(room))
      .then(metered(st.meter, false,
                    [self](claimed_batch& batch) {
                      // Runs that finish claim more; an empty queue is looked at next tick.
                      self->state.claiming = false;
                      if (auto* metrics = process_metrics(); metrics && !batch.empty())
                        metrics->async_tasks("claimed", batch.size());
                      for (auto& work : batch)
                        start_run(self, std::move(work));
                      report_running(self);
                    }),
            metered(st.meter, false, [self](caf::error&) {
              // The persistence actor logged why; the next tick tries again.
              self->state.claiming = false;
            }));
}

void requeue_abandoned(pointer self) {
  auto& st = self->state;
  self->request(st.services->persistence.pick(), st.services->db_timeout, requeue_atom::value,
                static_cast<std::int32_t>(st.settings.max_attempts),
                static_cast<std::int64_t>(st.settings.requeue_min_age.count()))
      .then(metered(st.meter, false,
                    [self](std::int64_t requeued) {
                      if (requeued > 0) {
                        if (auto* metrics = process_metrics())
                          metrics->async_tasks("requeued", static_cast<std::size_t>(requeued));
                        log::warning("async", "requeued " + std::to_string(requeued) +
                                                  " task(s) of stopped processes");
                        claim(self);
                      }
                    }),
            metered(st.meter, false, [](caf::error&) {}));
}

async_runner_actor::behavior_type async_runner(pointer self, services_ptr services,
                                               async_settings settings) {
  auto& st = self->state;
  st.services = std::move(services);
  st.settings = settings;
  st.meter = actor_meter_for("async_runner");
  count_running(self, st.meter);
  self->send(self, tick_atom::value);
  self->delayed_send(self, settings.requeue_interval, requeue_atom::value);
  return {
      metered(st.meter, false,
              [self](tick_atom) {
                claim(self);
                self->delayed_send(self, self->state.settings.poll, tick_atom::value);
              }),
      metered(st.meter, false, [self](claim_atom) { claim(self); }),
      metered(st.meter, false,
              [self](done_atom, bool not_now) {
                auto& st = self->state;
                --st.in_flight;
                report_running(self);
                // Let the nodes (or the database) catch up before claiming again.
                if (not_now)
                  st.paused_until = std::chrono::steady_clock::now() + 5 * st.settings.poll;
                else
                  claim(self);
              }),
      metered(st.meter, false,
              [self](requeue_atom) {
                requeue_abandoned(self);
                self->delayed_send(self, self->state.settings.requeue_interval,
                                   requeue_atom::value);
              }),
  };
}

} // namespace

async_runner_actor spawn_async_runner(caf::actor_system& sys, services_ptr services,
                                      async_settings settings) {
  return sys.spawn(async_runner, std::move(services), settings);
}

} // namespace imgproc
