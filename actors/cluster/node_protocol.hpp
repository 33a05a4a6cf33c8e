#pragma once

// What crosses a node boundary, and nothing else. A gateway sends a worker node one `node_job`
// per request: the uploaded JPEG as received, the pipeline's steps as JSON and the time left.
// The node runs every image step of the job itself and answers a `node_result` (the status and
// output JSON the gateway stores), or an `imgproc` error. Decoded images stay on the node that
// decoded them: the payload types in messages.hpp are not serializable at all.
//
//   gateway                                   worker node
//   membership ◀──(join, node, node_info)──── gateway_link      (on connect, and again after a
//   dispatcher ──(run, node_job)────────────▶ node ─▶ job_runner  lost link)
//              ◀──node_result | error───────
//   membership ◀──(leave, node)────────────── gateway_link      (draining before shutdown)
//
// Every type here is registered on every node by configure_cluster(): a type missing on one
// side fails quietly in CAF 0.17: the message never arrives and no error says why
// (docs/notes-caf-cluster.md).

#include "actors/messages.hpp"
#include "core/task_json.hpp"

#include <atomic>
#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/deserializer.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/serializer.hpp>
#include <caf/typed_actor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace imgproc {

/// Counts one message crossing a node link: payload bytes and (de)serialization time, in this
/// process's metrics (caf_middleman_*). Defined in node_protocol.cpp.
void record_link(bool outbound, std::size_t bytes, double seconds);

/// Runs `apply` (the inspector over a message's fields) and, when the inspector is CAF's
/// serializer or deserializer (a message crossing a node link, not a log rendering), counts it.
template <class Inspector, class Apply, class Size>
typename Inspector::result_type metered_inspect(Apply apply, Size payload_bytes) {
  constexpr bool crossing = std::is_base_of<caf::serializer, Inspector>::value ||
                            std::is_base_of<caf::deserializer, Inspector>::value;
  if constexpr (crossing) {
    auto start = std::chrono::steady_clock::now();
    auto result = apply();
    record_link(Inspector::reads_state, payload_bytes(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return result;
  } else {
    return apply();
  }
}

/// Bytes shared, not copied, within a process (a view plus whatever keeps it alive), and copied
/// into a string of their own when a message is deserialized on another node.
struct shared_bytes {
  std::shared_ptr<const void> owner;
  std::string_view view;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, shared_bytes& x) {
  if constexpr (Inspector::reads_state) {
    std::string copy{x.view};
    return f(copy);
  } else {
    auto storage = std::make_shared<std::string>();
    auto result = f(*storage);
    x.view = *storage;
    x.owner = std::move(storage);
    return result;
  }
}

/// One request's image work for one node.
struct node_job {
  std::int64_t task_id = 0; ///< for logs; the gateway owns the row
  int pipeline_id = 0;
  int pipeline_version = 1;
  std::string steps_json;        ///< pipeline_plan::steps_json
  shared_bytes image;            ///< the upload as received
  std::int64_t time_left_ms = 0; ///< relative: nodes' clocks are not compared
  bool trace = false; ///< a dry run: record every step (core/dry_run.hpp) into the result
  /// Within one process, the plan itself, so that the node runs it as it is. Never serialized:
  /// a worker node plans steps_json with its own registry (cached per pipeline version).
  plan_ptr plan;
  /// Within one process, the client's connection flag (core/work_stop.hpp): the work stops when
  /// it leaves. Never serialized: a worker node elsewhere stops at the deadline.
  std::shared_ptr<const std::atomic<bool>> client_gone;
  /// Within one process, a share of a limit (a dry-run slot) that the work holds until it ends,
  /// not only until its answer: a limit then counts running work. Never serialized.
  std::shared_ptr<const void> work_slot;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_job& x) {
  return metered_inspect<Inspector>(
      [&] {
        return f(caf::meta::type_name("node_job"), x.task_id, x.pipeline_id, x.pipeline_version,
                 x.steps_json, x.image, x.time_left_ms, x.trace);
      },
      [&] { return x.steps_json.size() + x.image.view.size(); });
}

/// What a node answers for a job that ran all its steps.
struct node_result {
  std::string status; ///< result_status(): detected, undetected or processed
  /// output_json() as a value: within one process it travels as it is; only a result that
  /// crosses to another node is written as text (data_json) and parsed there.
  std::shared_ptr<const nlohmann::json> data;
  std::string data_json; ///< the output as received from another node (data is then empty)
  std::string node;      ///< the node's name, for logs
  /// A dry run's steps (dry_run_trace::steps as JSON text, previews included); empty otherwise.
  std::string trace_json;

  /// The output, from whichever form it arrived in; nullopt if the text does not parse.
  std::optional<nlohmann::json> output() const {
    if (data)
      return *data;
    auto parsed = nlohmann::json::parse(data_json, nullptr, false);
    if (parsed.is_discarded())
      return std::nullopt;
    return parsed;
  }
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_result& x) {
  if constexpr (Inspector::reads_state) {
    // Leaving the process: the value becomes text here, and only here.
    std::string text = x.data ? to_text(*x.data) : x.data_json;
    return metered_inspect<Inspector>(
        [&] {
          return f(caf::meta::type_name("node_result"), x.status, text, x.node, x.trace_json);
        },
        [&] { return x.status.size() + text.size() + x.node.size() + x.trace_json.size(); });
  } else {
    x.data = nullptr;
    return metered_inspect<Inspector>(
        [&] {
          return f(caf::meta::type_name("node_result"), x.status, x.data_json, x.node,
                   x.trace_json);
        },
        [&] { return x.status.size() + x.data_json.size() + x.node.size() + x.trace_json.size(); });
  }
}

/// How a node introduces itself when it joins a gateway.
struct node_info {
  std::string name;
  std::string address; ///< host name and process id, as the node sees itself
  std::int32_t capacity = 1;
  bool local = false; ///< the gateway's own in-process node
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("node_info"), x.name, x.address, x.capacity, x.local);
}

/// A node's entry point: runs whole jobs. After (leave_atom) it refuses new ones with a CAF
/// error (not an `imgproc` one), which a dispatcher answers by sending the job elsewhere.
using node_actor = caf::typed_actor<caf::replies_to<run_atom, node_job>::with<node_result>,
                                    caf::replies_to<leave_atom>::with<bool>>;

/// What a gateway publishes on its cluster port. join answers the gateway's name; a joined
/// node reports its metrics (metrics::registry::export_json) every few seconds, which the
/// gateway serves with its own on GET /metrics.
using membership_actor =
    caf::typed_actor<caf::replies_to<join_atom, caf::actor, node_info>::with<std::string>,
                     caf::replies_to<leave_atom, caf::actor>::with<bool>,
                     caf::reacts_to<metrics_atom, std::string, std::string>>;

} // namespace imgproc
