#pragma once

// Actor tests on CAF 0.17's deterministic scheduler (`test_coordinator_fixture`): messages are
// delivered only when the test runs the scheduler, on the test's own thread, and time moves only
// when the test advances the clock. A deadline, a retry backoff or a late answer is then an
// exact step of the test, with no sleep and no race.
//
// The actor under test is real. What it talks to is scripted here (the test says which): each
// scripted actor answers the messages of the real typed interface and holds every request's
// response promise until the test answers it, in the order the test chooses. A promise must be
// delivered from inside its actor, so the test queues the answer (answer_later) and sends the
// scripted actor `answer_atom`, on which it delivers what is queued. That control message is not
// part of the interface: scripted actors are spawned untyped and handed out as typed handles.

#include "actors/cluster/dispatcher_actor.hpp"
#include "actors/messages.hpp"
#include "actors/storage/persistence_actor.hpp"
#include "actors/storage/pipeline_catalog_actor.hpp"

#include <caf/test/dsl.hpp>
// dsl.hpp's lower-case macros would rewrite any later `expect(...)`.
#undef expect
#undef inject
#undef allow
#undef disallow

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace imgproc::testing {

using answer_atom = caf::atom_constant<caf::atom("answer")>;

template <class Request, class Answer> struct held {
  Request request;
  caf::typed_response_promise<Answer> promise;
};

/// Answers a scripted actor delivers when it next receives `answer_atom`.
struct answer_queue {
  std::vector<std::function<void()>> queued;
  caf::weak_actor_ptr actor; ///< the scripted actor (weak: the actor holds this script)

  /// Queues `deliver` and tells the actor to run it; it runs when the test delivers messages.
  void answer_later(std::function<void()> deliver) {
    queued.push_back(std::move(deliver));
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(actor))
      caf::anon_send(caf::actor_cast<caf::actor>(strong), answer_atom::value);
  }

  void deliver_queued() {
    auto now = std::move(queued);
    queued.clear();
    for (auto& deliver : now)
      deliver();
  }
};

/// Row writes a persistence actor was asked for, unanswered until the test delivers.
struct persistence_script : answer_queue {
  std::vector<held<new_task, std::int64_t>> creates;
  std::vector<held<task_outcome, bool>> finishes;
  std::vector<held<task_failure, bool>> fails;
};

inline persistence_actor spawn_scripted_persistence(caf::actor_system& sys,
                                                    std::shared_ptr<persistence_script> script) {
  auto actor = sys.spawn([script](caf::event_based_actor* self) -> caf::behavior {
    auto unused = [] { return to_caf_error(make_failure(error_code::internal, "not scripted")); };
    return {
        [=](answer_atom) { script->deliver_queued(); },
        [=](create_atom, const new_task& task) -> caf::result<std::int64_t> {
          auto promise = self->make_response_promise<std::int64_t>();
          script->creates.push_back({task, promise});
          return promise;
        },
        [=](finish_atom, const task_outcome& outcome) -> caf::result<bool> {
          auto promise = self->make_response_promise<bool>();
          script->finishes.push_back({outcome, promise});
          return promise;
        },
        [=](fail_atom, const task_failure& failed) -> caf::result<bool> {
          auto promise = self->make_response_promise<bool>();
          script->fails.push_back({failed, promise});
          return promise;
        },
        [=](get_atom, std::int64_t) -> caf::result<task_record> { return unused(); },
        [=](list_atom, const task_filter&) -> caf::result<task_page> { return unused(); },
        [=](ping_atom) -> caf::result<std::string> { return std::string{}; },
        [=](sweep_atom, std::int64_t) -> caf::result<std::int64_t> { return unused(); },
        [=](enqueue_atom, const new_queued_task&) -> caf::result<std::int64_t> { return unused(); },
        [=](claim_atom, std::int32_t) -> caf::result<claimed_batch> { return unused(); },
        [=](release_atom, const task_release&) -> caf::result<bool> { return unused(); },
        [=](requeue_atom, std::int32_t, std::int64_t) -> caf::result<std::int64_t> {
          return unused();
        },
    };
  });
  script->actor = caf::actor_cast<caf::weak_actor_ptr>(actor);
  return caf::actor_cast<persistence_actor>(actor);
}

/// A catalogue that knows one plan and answers at once.
inline pipeline_catalog_actor spawn_scripted_catalog(caf::actor_system& sys, plan_ptr plan) {
  return sys.spawn(
      [plan](pipeline_catalog_actor::pointer) -> pipeline_catalog_actor::behavior_type {
        return {
            [plan](get_atom, int id) -> caf::result<plan_ptr> {
              if (id != plan->id)
                return to_caf_error(make_failure(error_code::pipeline_not_found, "unknown"));
              return plan;
            },
            [](invalidate_atom, int) {},
        };
      });
}

/// A node's answer as a node of this process gives it: the output as a value.
inline node_result node_answer(std::string status, nlohmann::json data, std::string node) {
  node_result result;
  result.status = std::move(status);
  result.data = std::make_shared<const nlohmann::json>(std::move(data));
  result.node = std::move(node);
  return result;
}

/// Jobs a node was given, unanswered until the test delivers; or refused, as a node that is
/// leaving refuses them (a CAF error, not an `imgproc` one).
struct node_script : answer_queue {
  std::string name;
  bool refuses = false;
  int refused = 0;
  std::vector<held<node_job, node_result>> jobs;

  /// Queues the answer to the oldest job this node still holds, as this node.
  void finish_oldest(const std::string& status = "detected") {
    auto job = std::move(jobs.front());
    jobs.erase(jobs.begin());
    answer_later([promise = job.promise, status, name = name]() mutable {
      promise.deliver(node_answer(status, {{"top_left_x", 1}}, name));
    });
  }
};

inline node_actor spawn_scripted_node(caf::actor_system& sys, std::shared_ptr<node_script> script) {
  auto actor = sys.spawn([script](caf::event_based_actor* self) -> caf::behavior {
    return {
        [=](answer_atom) { script->deliver_queued(); },
        [=](run_atom, const node_job& job) -> caf::result<node_result> {
          if (script->refuses) {
            ++script->refused;
            return caf::make_error(caf::sec::request_receiver_down);
          }
          auto promise = self->make_response_promise<node_result>();
          script->jobs.push_back({job, promise});
          return promise;
        },
        [](leave_atom) { return true; },
    };
  });
  script->actor = caf::actor_cast<caf::weak_actor_ptr>(actor);
  return caf::actor_cast<node_actor>(actor);
}

/// Jobs the dispatcher was given by pipeline actors, unanswered until the test delivers.
struct dispatcher_script : answer_queue {
  std::vector<held<node_job, node_result>> jobs;
};

inline dispatcher_actor spawn_scripted_dispatcher(caf::actor_system& sys,
                                                  std::shared_ptr<dispatcher_script> script) {
  auto actor = sys.spawn([script](caf::event_based_actor* self) -> caf::behavior {
    return {
        [=](answer_atom) { script->deliver_queued(); },
        [=](run_atom, const node_job& job) -> caf::result<node_result> {
          auto promise = self->make_response_promise<node_result>();
          script->jobs.push_back({job, promise});
          return promise;
        },
        [](ping_atom) { return true; },
        [](status_atom) { return cluster_view{}; },
    };
  });
  script->actor = caf::actor_cast<caf::weak_actor_ptr>(actor);
  return caf::actor_cast<dispatcher_actor>(actor);
}

/// Collects what the dispatcher answers each job.
struct job_answers {
  std::vector<result<node_result>> answers;
};

/// Sends `job` to the dispatcher from a fresh actor that records the answer.
inline void submit(caf::actor_system& sys, const dispatcher_actor& dispatcher, node_job job,
                   std::shared_ptr<job_answers> out) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(dispatcher, caf::infinite, run_atom::value, job)
        .then([out](node_result& result) { out->answers.emplace_back(std::move(result)); },
              [out](caf::error& err) { out->answers.emplace_back(from_caf_error(err)); });
  });
}

} // namespace imgproc::testing
