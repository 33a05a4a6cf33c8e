#pragma once

// The interface every stage actor (image worker, detector client) implements: run a run of
// consecutive steps of a request's plan on its payload and answer the payload, or an error.
//
///   receives: (run_atom, stage_job)
///   answers:  payload_ptr (the same payload, transformed in place)
///   fails:    the first failing step's failure as an `imgproc` error, its detail prefixed
///             "step N (handler): "; internal if the step threw

#include "actors/stages/protocol.hpp"
#include "actors/worker_pool.hpp"
#include "core/step_registry.hpp"

#include <caf/make_message.hpp>
#include <caf/replies_to.hpp>
#include <caf/result.hpp>
#include <caf/typed_actor.hpp>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

namespace imgproc {

/// The stages one actor runs (an image worker runs decode and transform steps).
class stage_set {
public:
  stage_set(std::initializer_list<stage_kind> kinds) {
    for (auto kind : kinds)
      bits_ |= bit(kind);
  }
  bool contains(stage_kind kind) const { return (bits_ & bit(kind)) != 0; }

private:
  static unsigned bit(stage_kind kind) { return 1u << static_cast<unsigned>(kind); }
  unsigned bits_ = 0;
};

/// "step 3 (resize)": how errors name the step at `index` of `plan`.
std::string step_name(const pipeline_plan& plan, std::size_t index);

/// Runs `job`'s steps in order with `resources`, checking that each belongs to `accepted`
/// stages and that the request still has time. Stops at the first failure, which names its
/// step. Catches every exception: an actor handler must not throw.
result<payload_ptr> run_stage_steps(stage_set accepted, stage_resources& resources, stage_job& job);

/// What one stage actor owns for its steps: its tool (a decoder, an image scratch, an ML client)
/// and the resources view the steps use, which points into it.
struct stage_tools {
  std::shared_ptr<void> owner; ///< keeps the tool alive for the actor's life
  stage_resources resources;
};

/// Tools that own one `T`, built from `args`, which the steps see through `slot` (e.g.
/// `owning<detector_client>(&stage_resources::detector, settings)`).
template <class T, class Pointer, class... Args>
stage_tools owning(Pointer stage_resources::*slot, Args&&... args) {
  auto tool = std::make_shared<T>(std::forward<Args>(args)...);
  stage_tools tools;
  tools.resources.*slot = tool.get();
  tools.owner = std::move(tool);
  return tools;
}

/// The one stage actor, whatever its stages: it builds its tools with `make_tools` when it
/// starts, then runs each job's steps (of the `stages` it accepts) with them. `name` labels its
/// metrics (`caf_actor_*{name=...}`; a string with static storage); a detect stage also records
/// `imgproc_ml_call_*`. `detached` gives it its own thread, for stages whose work blocks (the ML
/// call); the others run on CAF's scheduler.
stage_actor spawn_stage(caf::actor_system& sys, stage_set stages, const char* name,
                        std::function<stage_tools()> make_tools, load_ptr load, bool detached);

} // namespace imgproc
