#pragma once

// Pipeline actor: one per HTTP request. Plans the request, sends its image work to a node as
// one job, stores the outcome and answers the request.
//
//   HTTP handler ──spawn──▶ pipeline ──get──────▶ pipeline_catalog   (plan, cached)
//                              │ ────create─────▶ persistence        (row: processing)
//                              │ ────run job────▶ dispatcher ──▶ a node (local or a worker):
//                              │                   node ─▶ job_runner ─▶ stage pools:
//                              │                   every image step, on one node
//                              │ ────finish/fail▶ persistence        (row: outcome)
//                              └──answer_channel▶ the front-end, exactly once
//
///   receives: (deadline_atom) from itself when the request's deadline passes
///   answers:  nothing to actors; the caller through its answer_channel (a task_answer or a
///             failure, which the front-end turns into an HTTP response)
//
// The job carries the time left until the request's deadline as its timeout; database
// requests carry their own timeout, because the actor must learn whether a row it asked for
// exists. When the deadline passes the client gets 504 at once, but the actor stays until any
// row write in flight has returned and marks the row failed: no row is left `processing`.
// A failure after the row exists is stored (naming the step) before the client hears of it; a
// success is answered only once its row is stored. A final write that fails because the database
// is away is answered 503 at once and retried in the background until the row is closed (failed:
// the client was told its result was not stored).
//
// Three modes, one walk:
//   run          POST /process-image: plan, create row, run, finish row, answer.
//   enqueue      POST /process-image?async=true: plan, store the task 'queued' with its upload,
//                answer 202 (the async runner claims it later).
//   run_claimed  a queued task the async runner claimed: plan, run, finish the row under the
//                claim's attempt number, tell the runner. No client waits, so a final write that
//                fails is retried as it is (the result is still true), and a job refused for lack
//                of capacity, or a plan the database cannot give now, goes back to the queue
//                instead of failing.

#include "actors/metered.hpp"
#include "actors/request/pipeline_services.hpp"
#include "core/image_service.hpp"

#include <caf/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace imgproc {

/// Counts the pipeline actor as running until its state is destroyed.
class running_pipeline {
public:
  explicit running_pipeline(std::shared_ptr<pipeline_services> services)
      : services_(std::move(services)) {
    services_->running_pipelines.fetch_add(1);
  }
  ~running_pipeline() { services_->running_pipelines.fetch_sub(1); }
  running_pipeline(const running_pipeline&) = delete;
  running_pipeline& operator=(const running_pipeline&) = delete;

private:
  std::shared_ptr<pipeline_services> services_;
};

enum class pipeline_phase { loading, creating, running, storing };
enum class pipeline_mode { run, enqueue, run_claimed };

/// A queued task's claim, for run_claimed.
struct task_claim {
  std::int64_t task_id = 0;
  int attempt = 0;
};

struct pipeline_state {
  static inline const char* name = "pipeline";
  std::unique_ptr<running_pipeline> running;
  pipeline_phase phase = pipeline_phase::loading;
  process_request request;
  answer_ptr<task_answer> reply;
  services_ptr services;
  plan_ptr plan;
  pipeline_mode mode = pipeline_mode::run;
  std::int64_t task_id = 0; ///< 0 until the row exists
  int attempt = 0;          ///< the claim's number (run_claimed), else 0
  /// A final row write to try again (retry_atom) while the database is away.
  std::function<void()> retry_write;
  int write_retries = 0;
  std::chrono::steady_clock::time_point give_up_writes;
  std::string node; ///< the node that ran the image work, once known
  meter_ptr meter;
  bool answered = false; ///< the client has its answer (the actor may still await a write)
};

/// `running` was created by the caller, so that shutdown counts the actor from the moment the
/// request is accepted.
/// Runs (or, with request.async, queues) the request's task.
void spawn_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                    answer_ptr<task_answer> reply, std::unique_ptr<running_pipeline> running);

/// Runs a queued task this process claimed; `reply` hears the outcome (overloaded when the task
/// went back to the queue for lack of capacity).
void spawn_claimed_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                            task_claim claim, answer_ptr<task_answer> reply,
                            std::unique_ptr<running_pipeline> running);

} // namespace imgproc
