#include "core/dispatch_table.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace imgproc {

dispatch_table::dispatch_table(std::size_t queue_limit) : queue_limit_(queue_limit) {}

void dispatch_table::add_node(node_id id, node_description description) {
  if (live_.count(id))
    throw std::invalid_argument("dispatch_table: node " + std::to_string(id) + " added twice");
  if (description.capacity < 1)
    throw std::invalid_argument("dispatch_table: node " + std::to_string(id) + " has capacity " +
                                std::to_string(description.capacity));
  node_entry entry;
  entry.id = id;
  entry.description = std::move(description);
  live_.emplace(id, std::move(entry));
}

void dispatch_table::drain_node(node_id id) {
  if (auto it = live_.find(id); it != live_.end())
    it->second.state = node_state::draining;
}

std::vector<dispatch_table::job_id> dispatch_table::remove_node(node_id id,
                                                                const std::string& state) {
  // Checked before the lookup: a wrong state is a caller bug even for an unknown node.
  if (state != "down" && state != "left")
    throw std::invalid_argument("dispatch_table: departed state must be down or left, not " +
                                state);
  auto it = live_.find(id);
  if (it == live_.end())
    return {};
  node_entry node = std::move(it->second);
  live_.erase(it);

  std::vector<job_id> jobs = std::move(node.jobs);
  node.jobs.clear();
  for (job_id job : jobs)
    running_.erase(job);
  node.redispatched += jobs.size();
  node.state = state == "down" ? node_state::down : node_state::left;

  departed_.push_front(std::move(node));
  if (departed_.size() > history_limit) {
    const node_entry& oldest = departed_.back();
    evicted_completed_ += oldest.completed;
    evicted_failed_ += oldest.failed;
    evicted_redispatched_ += oldest.redispatched;
    departed_.pop_back();
  }
  return jobs;
}

std::optional<dispatch_table::decision> dispatch_table::place_now(job_id job) {
  check_unknown(job);
  if (!has_capacity())
    return decision{placement::rejected_no_nodes};
  if (node_entry* node = pick()) {
    assign(job, *node);
    return decision{placement::assigned, node->id};
  }
  return std::nullopt;
}

dispatch_table::decision dispatch_table::submit(job_id job) {
  if (auto now = place_now(job))
    return *now;
  if (queue_.size() >= queue_limit_) {
    ++rejected_;
    return {placement::rejected_queue_full};
  }
  queue_.push_back({job, false});
  queued_ids_.insert(job);
  return {placement::queued};
}

dispatch_table::decision dispatch_table::resubmit(job_id job) {
  if (auto now = place_now(job))
    return *now;
  // Ahead of every submitted job, but behind jobs resubmitted before it: pushing each one to the
  // very front would reverse the order of a removed node's jobs.
  auto pos = std::find_if(queue_.begin(), queue_.end(),
                          [](const queued_job& queued) { return !queued.resubmitted; });
  queue_.insert(pos, {job, true});
  queued_ids_.insert(job);
  return {placement::queued};
}

bool dispatch_table::complete(job_id job, bool ok) {
  auto it = running_.find(job);
  if (it == running_.end())
    return false;
  // A running job's node is always live: remove_node() takes its jobs out of running_.
  node_entry& node = live_.at(it->second);
  running_.erase(it);
  node.jobs.erase(std::find(node.jobs.begin(), node.jobs.end(), job));
  ++(ok ? node.completed : node.failed);
  return true;
}

bool dispatch_table::cancel(job_id job) {
  if (auto it = running_.find(job); it != running_.end()) {
    node_entry& node = live_.at(it->second);
    running_.erase(it);
    node.jobs.erase(std::find(node.jobs.begin(), node.jobs.end(), job));
    return true;
  }
  if (queued_ids_.erase(job) == 0)
    return false;
  queue_.erase(std::find_if(queue_.begin(), queue_.end(),
                            [job](const queued_job& queued) { return queued.job == job; }));
  return true;
}

std::vector<dispatch_table::assignment> dispatch_table::assign_queued() {
  std::vector<assignment> assigned;
  while (!queue_.empty()) {
    node_entry* node = pick();
    if (!node)
      break;
    job_id job = queue_.front().job;
    queue_.pop_front();
    queued_ids_.erase(job);
    assign(job, *node);
    assigned.push_back({job, node->id});
  }
  return assigned;
}

std::optional<dispatch_table::node_id> dispatch_table::node_of(job_id job) const {
  if (auto it = running_.find(job); it != running_.end())
    return it->second;
  return std::nullopt;
}

bool dispatch_table::has_capacity() const {
  return std::any_of(live_.begin(), live_.end(),
                     [](const auto& entry) { return entry.second.state == node_state::up; });
}

std::size_t dispatch_table::nodes_up() const {
  return static_cast<std::size_t>(std::count_if(live_.begin(), live_.end(), [](const auto& entry) {
    return entry.second.state == node_state::up;
  }));
}

std::size_t dispatch_table::queue_length() const {
  return queue_.size();
}

int dispatch_table::free_slots() const {
  long long slots = 0;
  for (const auto& [id, node] : live_)
    if (node.state == node_state::up)
      slots += node.description.capacity - static_cast<long long>(node.jobs.size());
  return static_cast<int>(std::min<long long>(slots, INT_MAX)); // capacities are ints: may add up
}

nlohmann::json dispatch_table::to_json() const {
  auto nodes = nlohmann::json::array();
  long long capacity = 0;
  long long in_flight = 0;
  int nodes_up = 0;
  std::uint64_t completed = evicted_completed_;
  std::uint64_t failed = evicted_failed_;
  std::uint64_t redispatched = evicted_redispatched_;
  for (const auto& [id, node] : live_) {
    nodes.push_back(describe(node));
    nodes_up += node.state == node_state::up;
    capacity += node.description.capacity;
    in_flight += static_cast<long long>(node.jobs.size());
    completed += node.completed;
    failed += node.failed;
    redispatched += node.redispatched;
  }
  for (const node_entry& node : departed_) {
    nodes.push_back(describe(node));
    completed += node.completed;
    failed += node.failed;
    redispatched += node.redispatched;
  }
  return {
      {"nodes", std::move(nodes)},
      {"queue", {{"length", queue_.size()}, {"limit", queue_limit_}, {"rejected", rejected_}}},
      {"totals",
       {{"nodes_up", nodes_up},
        {"capacity", capacity},
        {"in_flight", in_flight},
        {"completed", completed},
        {"failed", failed},
        {"redispatched", redispatched}}},
  };
}

dispatch_table::node_entry* dispatch_table::pick() {
  if (live_.empty())
    return nullptr;
  // One pass over all nodes, starting at the round-robin cursor and wrapping; only a strictly
  // lower load replaces the best so far, so ties go to the first node after the last pick.
  node_entry* best = nullptr;
  auto start = live_.lower_bound(next_start_);
  if (start == live_.end())
    start = live_.begin();
  auto it = start;
  do {
    node_entry& node = it->second;
    long long used = static_cast<long long>(node.jobs.size());
    long long cap = node.description.capacity;
    // used/cap < best_used/best_cap, cross-multiplied to stay in integers.
    if (node.state == node_state::up && used < cap &&
        (!best ||
         used * best->description.capacity < static_cast<long long>(best->jobs.size()) * cap))
      best = &node;
    if (++it == live_.end())
      it = live_.begin();
  } while (it != start);
  if (best)
    next_start_ = best->id + 1; // wraps to 0 after the largest id, which is what we want
  return best;
}

void dispatch_table::assign(job_id job, node_entry& node) {
  node.jobs.push_back(job);
  running_.emplace(job, node.id);
}

void dispatch_table::check_unknown(job_id job) const {
  if (running_.count(job) || queued_ids_.count(job))
    throw std::logic_error("dispatch_table: job " + std::to_string(job) + " submitted twice");
}

const char* dispatch_table::state_name(node_state state) {
  switch (state) {
    case node_state::up:
      return "up";
    case node_state::draining:
      return "draining";
    case node_state::down:
      return "down";
    case node_state::left:
      return "left";
  }
  return "?";
}

nlohmann::json dispatch_table::describe(const node_entry& node) {
  return {{"id", node.id},
          {"name", node.description.name},
          {"address", node.description.address},
          {"local", node.description.local},
          {"state", state_name(node.state)},
          {"capacity", node.description.capacity},
          {"in_flight", node.jobs.size()},
          {"completed", node.completed},
          {"failed", node.failed},
          {"redispatched", node.redispatched}};
}

} // namespace imgproc
