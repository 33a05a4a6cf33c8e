#pragma once

// The interface every stage actor (decoder, preprocessor, detector client) implements: run one
// step of a request's plan on its payload and answer the payload, or an error.
//
///   receives: (run_atom, stage_job)
///   answers:  payload_ptr (the same payload, transformed in place)
///   fails:    the step's failure as an `imgproc` error; internal if the step threw

#include "actors/messages.hpp"
#include "actors/stages/worker_pool.hpp"
#include "core/step_registry.hpp"

#include <caf/make_message.hpp>
#include <caf/replies_to.hpp>
#include <caf/result.hpp>
#include <caf/typed_actor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace imgproc {

using stage_actor = caf::typed_actor<caf::replies_to<run_atom, stage_job>::with<payload_ptr>>;

/// Runs `job`'s step with `resources`, checking that the step belongs to `expected` stage.
/// Catches every exception: an actor handler must not throw.
caf::result<payload_ptr> run_stage_job(stage_kind expected, stage_resources& resources,
                                       stage_job& job);

/// What one stage actor owns for its steps: its tool (a decoder, an image scratch, an ML client)
/// and the resources view the steps use, which points into it.
struct stage_tools {
  std::shared_ptr<void> owner; ///< keeps the tool alive for the actor's life
  stage_resources resources;
};

/// Tools that own one `T`, built from `args`, which the steps see through `slot` (e.g.
/// `owning<jpeg_decoder>(&stage_resources::decoder, settings)`).
template <class T, class Pointer, class... Args>
stage_tools owning(Pointer stage_resources::*slot, Args&&... args) {
  auto tool = std::make_shared<T>(std::forward<Args>(args)...);
  stage_tools tools;
  tools.resources.*slot = tool.get();
  tools.owner = std::move(tool);
  return tools;
}

/// The one stage actor, whatever its stage: it builds its tools with `make_tools` when it
/// starts, then runs each job's step of stage `kind` with them. `name` labels its metrics
/// (`caf_actor_*{name=...}`; a string with static storage); a detect stage also records
/// `imgproc_ml_call_*`. `detached` gives it its own thread, for stages whose work blocks (the ML
/// call); the others run on CAF's scheduler.
stage_actor spawn_stage(caf::actor_system& sys, stage_kind kind, const char* name,
                        std::function<stage_tools()> make_tools, load_ptr load, bool detached);

} // namespace imgproc
