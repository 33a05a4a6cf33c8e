#pragma once

// The typed interface every stage actor (image worker, detector client, local detector)
// implements, and nothing else; stage_actor.hpp documents it and spawns the actors.

#include "actors/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace imgproc {

/// Runs a run of consecutive steps of a request's plan on its payload.
using stage_actor = caf::typed_actor<caf::replies_to<run_atom, stage_job>::with<payload_ptr>>;

} // namespace imgproc
