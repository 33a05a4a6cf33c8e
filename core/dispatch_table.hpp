#pragma once

// Where jobs run in a cluster: the gateway sends each job (one request's image work) to one node,
// itself or a remote worker, and this table decides which. Plain data with no actor or locking:
// the one actor that owns it is single-threaded. Node and job ids come from the caller.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace imgproc {

class dispatch_table {
public:
  using node_id = std::uint64_t;
  using job_id = std::uint64_t;

  struct node_description {
    std::string name;    ///< e.g. "worker-a" or "local"
    std::string address; ///< free text, e.g. "host.example:pid 1234"
    bool local = false;
    int capacity = 1; ///< jobs at once, >= 1; anything less throws std::invalid_argument
  };

  enum class placement { assigned, queued, rejected_queue_full, rejected_no_nodes };

  struct decision {
    placement kind;
    node_id node = 0; ///< valid only when assigned
  };

  struct assignment {
    job_id job;
    node_id node;
  };

  /// How many departed nodes to_json() still lists; older ones only count in the totals.
  static constexpr std::size_t history_limit = 16;

  /// queue_limit 0: no queue, a job that finds every node full is rejected at once.
  explicit dispatch_table(std::size_t queue_limit);

  /// A node joined (state "up"). Throws std::invalid_argument if the id is live (up or draining)
  /// or the capacity is below 1. A departed id may rejoin; its old entry stays in the history.
  void add_node(node_id id, node_description description);

  /// The node finishes its jobs but gets no new ones (state "draining"). Unknown id: no-op.
  void drain_node(node_id id);

  /// The node is gone: returns its in-flight jobs in the order they were assigned, for the caller
  /// to resubmit(), and counts them as the node's "redispatched". The node stays listed with
  /// state `state` and frozen counters among the last history_limit departed nodes. `state` must
  /// be "down" or "left" (else std::invalid_argument). Unknown or departed id: empty, no change.
  std::vector<job_id> remove_node(node_id id, const std::string& state = "down");

  /// A new job: to the up node with a free slot and the lowest in_flight/capacity, ties taken in
  /// turn (round-robin) so idle nodes share jobs evenly. Every up node full: queued at the back
  /// if there is room, else rejected_queue_full (counted). No up node: rejected_no_nodes, not
  /// queued since nobody would take it. Throws std::logic_error if the job is running or queued.
  decision submit(job_id job);

  /// A job taken from a removed node, already accepted once: placed like submit() but, if every
  /// node is full, queued ahead of all submitted jobs (behind earlier resubmitted ones, so a
  /// node's jobs keep their order) even beyond the queue limit. rejected_no_nodes if no node is
  /// up. Counts nothing: remove_node() already did. Throws std::logic_error if the job is known.
  decision resubmit(job_id job);

  /// The job's node answered (ok: a result, !ok: the job failed there). Frees the slot and counts
  /// completed or failed on the node, draining ones too. False, and no change, for a job that is
  /// not running (unknown, queued, or taken from a removed node).
  bool complete(job_id job, bool ok);

  /// The job is no longer wanted (deadline passed): leaves the queue or frees its slot, counting
  /// neither completed nor failed. Returns whether the job was queued or running.
  bool cancel(job_id job);

  /// Pops queued jobs, front first, while some up node has a free slot, placing each like
  /// submit(). Call after add_node, complete, cancel and remove_node.
  std::vector<assignment> assign_queued();

  std::optional<node_id> node_of(job_id job) const; ///< where a running job is
  bool has_capacity() const;
  std::size_t
  nodes_up() const; ///< nodes in state up                        ///< at least one node is up
  std::size_t queue_length() const;
  int free_slots() const; ///< over up nodes
  /// A new job would be assigned or queued now (not rejected).
  bool can_accept() const {
    return has_capacity() && (free_slots() > 0 || queue_length() < queue_limit_);
  }

  /// {"nodes": [live nodes in id order, then departed ones newest first; each {"id", "name",
  /// "address", "local", "state": "up"|"draining"|"down"|"left", "capacity", "in_flight",
  /// "completed", "failed", "redispatched"}],
  ///  "queue": {"length", "limit", "rejected"},
  ///  "totals": {"nodes_up", "capacity", "in_flight" (over up and draining nodes), "completed",
  ///  "failed", "redispatched" (over every node ever, evicted departed ones included)}}
  nlohmann::json to_json() const;

private:
  enum class node_state { up, draining, down, left };

  struct node_entry {
    node_id id = 0;
    node_description description;
    node_state state = node_state::up;
    std::vector<job_id> jobs; ///< in flight, in assignment order (remove_node returns them so)
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
    std::uint64_t redispatched = 0;
  };

  struct queued_job {
    job_id job;
    bool resubmitted; ///< resubmitted jobs stay ahead of submitted ones
  };

  node_entry* pick();
  /// Rejects when no node is up or assigns to a free slot; nullopt when the job must queue.
  std::optional<decision> place_now(job_id job);
  void assign(job_id job, node_entry& node);
  void check_unknown(job_id job) const;
  static const char* state_name(node_state state);
  static nlohmann::json describe(const node_entry& node);

  std::size_t queue_limit_;
  std::map<node_id, node_entry> live_; // ordered: to_json() and round-robin go by id
  std::deque<node_entry> departed_;    // newest first, at most history_limit
  std::deque<queued_job> queue_;
  std::unordered_set<job_id> queued_ids_; // duplicate checks without scanning the queue
  std::unordered_map<job_id, node_id> running_;
  node_id next_start_ = 0; // round-robin: ties go to the first node at or after this id
  std::uint64_t rejected_ = 0;
  // Counters of departed nodes dropped from the history, so that totals never go backwards.
  std::uint64_t evicted_completed_ = 0;
  std::uint64_t evicted_failed_ = 0;
  std::uint64_t evicted_redispatched_ = 0;
};

} // namespace imgproc
