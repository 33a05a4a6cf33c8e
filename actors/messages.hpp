#pragma once

// Every atom of the actor system, and every message type that stays within a process, in one
// place. The types that cross a node boundary are in cluster/node_protocol.hpp; the typed
// interfaces that use these are in each folder's protocol.hpp.
//
// The payload-carrying types below are local-only on purpose: they hold cv::Mat images and views
// into HTTP request bodies, so they are marked unsafe (not serializable). Should one ever be sent
// to another node, CAF refuses to serialize it instead of copying a decoded image over the network.

#include "core/errors.hpp"
#include "core/image_service.hpp"
#include "core/payload.hpp"
#include "core/pipeline_plan.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

// -- requests to stages -------------------------------------------------------------------------
using run_atom = caf::atom_constant<caf::atom("run")>;

// -- pipeline catalogue -------------------------------------------------------------------------
using get_atom = caf::atom_constant<caf::atom("get")>;

// -- pipeline catalogue and administration ------------------------------------------------------
using invalidate_atom = caf::atom_constant<caf::atom("invalidate")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;

// -- persistence --------------------------------------------------------------------------------
using create_atom = caf::atom_constant<caf::atom("create")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using requeue_atom = caf::atom_constant<caf::atom("requeue")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

// -- cluster: node links, membership and dispatch -----------------------------------------------
using join_atom = caf::atom_constant<caf::atom("join")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;

// -- timers -------------------------------------------------------------------------------------
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// A run of consecutive steps of one request for a stage actor: steps `step_index` up to
/// `step_index + step_count`. The stage mutates `data` in place, step by step, and returns it.
struct stage_job {
  plan_ptr plan;
  std::size_t step_index = 0;
  payload_ptr data;
  std::size_t step_count = 1;
};

/// A task row to create: answered with its id.
struct new_task {
  int pipeline_id = 0;
  int pipeline_version = 1; ///< the version whose steps the task runs
  std::string filename;
};

/// The outcome of a finished task: answered with whether the row changed.
struct task_outcome {
  std::int64_t task_id = 0;
  std::string status; ///< detected or undetected
  nlohmann::json data;
  int attempt = 0;          ///< the claim it finishes; 0 for a synchronous task
  int pipeline_version = 0; ///< the version that ran; 0 keeps the row's
};

/// A failed task: answered with whether the row changed.
struct task_failure {
  std::int64_t task_id = 0;
  std::string error;
  int attempt = 0; ///< the claim it fails; 0 for a synchronous task
};

/// An asynchronous task to store, queued, with its upload: answered with its id.
struct new_queued_task {
  int pipeline_id = 0;
  int pipeline_version = 1;
  std::string filename;
  std::string_view image;            ///< the upload
  std::shared_ptr<const void> owner; ///< keeps `image` alive
  int queue_limit = 10000;           ///< refused (overloaded) when this many are queued
};

/// A queued task claimed by this process: its row is 'processing' under `attempt`.
struct claimed_work {
  std::int64_t task_id = 0;
  int pipeline_id = 0;
  int pipeline_version = 0;
  std::string filename;
  int attempt = 0;
  std::shared_ptr<const std::string> image;
};
using claimed_batch = std::vector<claimed_work>;

/// A claimed task handed back to the queue: answered with whether the row changed.
struct task_release {
  std::int64_t task_id = 0;
  int attempt = 0;
};

// -- errors as values ---------------------------------------------------------------------------
constexpr caf::atom_value error_category = caf::atom("imgproc");

/// A failure as a CAF error: code and category, the detail in the context message.
caf::error to_caf_error(const failure& f);

/// A call (`what`, e.g. "creating a task") that found the database away: reported to the
/// process's outage log (one line per outage) and answered as database_unavailable.
caf::error database_away(const char* what, const std::exception& e);

/// Back from CAF: our own errors keep their code; CAF's request timeout becomes
/// deadline_exceeded; anything else (a dead actor, an unexpected message) is internal.
failure from_caf_error(const caf::error& err);

/// Renders our error category in CAF's logs.
std::string render_error(std::uint8_t code, caf::atom_value category, const caf::message& ctx);

} // namespace imgproc

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::stage_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::payload_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::plan_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::new_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_failure)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::new_queued_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::claimed_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_release)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::pipeline_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::pipeline_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::pipeline_removal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::cluster_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::task_filter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::pipeline_definition)
