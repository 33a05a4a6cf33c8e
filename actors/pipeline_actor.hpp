#pragma once

// Pipeline actor: one per HTTP request. Walks the pipeline's steps and answers the request.
//
//   HTTP handler ──spawn──▶ pipeline ──get──────▶ pipeline_catalog   (plan, cached)
//                              │ ────create─────▶ persistence        (row: processing)
//                              │ ────run step 1─▶ decoder            (JPEG -> image)
//                              │ ────run 2..5───▶ preprocessor       (resize, normalize, encode,
//                              │                                      base64)
//                              │ ────run 6──────▶ detector_client    (ML service over HTTP)
//                              │ ────finish/fail▶ persistence        (row: outcome)
//                              └──reply_channel─▶ HTTP response, exactly once
//
///   receives: (deadline_atom) from itself when the request's deadline passes
///   answers:  nothing to actors; the HTTP request through its reply_channel
//
// Every request it sends carries the time left until the request's deadline as its timeout, so
// nothing waits forever. A failure after the task row exists is stored on the row (naming the
// step) before the client hears of it; a success is answered only once its row is stored.

#include "actors/pipeline_services.hpp"
#include "core/service_api.hpp"

#include <caf/fwd.hpp>
#include <cstdint>
#include <string>

namespace imgproc {

struct pipeline_state {
  static inline const char* name = "pipeline";
  process_request request;
  reply_ptr reply;
  services_ptr services;
  plan_ptr plan;
  payload_ptr data;
  std::int64_t task_id = 0; ///< 0 until the row exists
  std::size_t step = 0;     ///< the step running now
  bool finished = false;
};

void spawn_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                    reply_ptr reply);

} // namespace imgproc
