#pragma once

// Dry-run actor: one per POST /pipelines/{id}/dry-run or /pipelines/dry-run. Runs a pipeline's
// steps on the upload like a pipeline actor, but stores nothing: no task row, no outcome.
//
//   HTTP handler ──spawn──▶ dry_run ──get──────▶ pipeline_catalog   (a stored pipeline's plan;
//                              │                                      an unsaved one comes planned)
//                              │ ────run job────▶ dispatcher ──▶ a node, with trace = true: every
//                              │                  step recorded with a preview (core/dry_run.hpp)
//                              └──answer_channel▶ the front-end, exactly once
//
///   receives: (deadline_atom) from itself when the request's deadline passes
///   answers:  nothing to actors; the caller through its answer_channel (a dry_run_answer or a
///             failure)
//
// The job is dispatched like any other (the same admission, queue, deadline and re-dispatch),
// so a dry run costs what the request would, plus the previews. The detect step calls the ML
// service as usual.

#include "actors/request/pipeline_actor.hpp"
#include "core/image_service.hpp"

#include <caf/fwd.hpp>
#include <memory>

namespace imgproc {

/// Runs `plan` (an unsaved definition, already planned) or, when it is null, the stored pipeline
/// `request.pipeline_id`. `running` counts the actor for shutdown; `slot` is released when the
/// actor ends (the gateway's bound on dry runs at once).
void spawn_dry_run(caf::actor_system& sys, services_ptr services, dry_run_request request,
                   plan_ptr plan, answer_ptr<dry_run_answer> reply,
                   std::unique_ptr<running_pipeline> running, std::shared_ptr<void> slot);

} // namespace imgproc
