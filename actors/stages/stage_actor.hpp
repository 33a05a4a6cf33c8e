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

namespace imgproc {

using stage_actor = caf::typed_actor<caf::replies_to<run_atom, stage_job>::with<payload_ptr>>;

/// Runs `job`'s step with `resources`, checking that the step belongs to `expected` stage.
/// Catches every exception: an actor handler must not throw.
caf::result<payload_ptr> run_stage_job(stage_kind expected, stage_resources& resources,
                                       stage_job& job);

} // namespace imgproc
