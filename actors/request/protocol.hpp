#pragma once

// The typed interface of the request side's one long-lived actor, and nothing else. Pipeline and
// dry-run actors are spawned per request and answer through an answer channel, not a handle.

#include "actors/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace imgproc {

/// The async runner (async_runner_actor.hpp): a pipeline actor that
/// queued a task says `claim`; a finished run says `done`; tick and requeue are its own timers.
using async_runner_actor =
    caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<claim_atom>,
                     caf::reacts_to<done_atom, bool>, caf::reacts_to<requeue_atom>>;

} // namespace imgproc
