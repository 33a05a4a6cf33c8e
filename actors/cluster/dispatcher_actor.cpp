#include "actors/cluster/dispatcher_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"
#include "core/dispatch_table.hpp"

#include <algorithm>
#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cctype>
#include <chrono>
#include <map>
#include <unordered_map>
#include <vector>

namespace imgproc {
namespace {

using clock = std::chrono::steady_clock;
using job_id = dispatch_table::job_id;
using node_id = dispatch_table::node_id;

struct job_entry {
  node_job job;
  caf::typed_response_promise<node_result> promise;
  clock::time_point deadline;
  std::uint64_t attempt = 0; ///< increments with every send; older answers are stale
  int sends = 0;
  bool overdue = false; ///< the deadline passed while a node ran the job
};

/// How long past the deadline a running job's node may take to report which step ran out of
/// time (it uses the same deadline), before the dispatcher answers without that detail.
constexpr std::chrono::milliseconds overdue_grace{250};

struct node_entry {
  node_actor handle;
  node_info info;
  bool draining = false;
};

struct dispatcher_state {
  static inline const char* name = "dispatcher";
  dispatcher_settings settings;
  dispatch_table table{0}; ///< replaced with the configured queue limit at spawn
  std::unordered_map<job_id, job_entry> jobs;
  std::map<node_id, node_entry> nodes;
  std::map<caf::actor_addr, node_id> node_by_address;
  job_id next_job = 1;
  node_id next_node = 1;
  meter_ptr meter;
};

using pointer = dispatcher_actor::stateful_pointer<dispatcher_state>;

std::chrono::milliseconds time_left(const job_entry& entry) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(entry.deadline - clock::now());
}

void give_up(pointer self, job_id id, const failure& f);

void send_to(pointer self, job_id id, node_id node);

void count_rejection(pointer self, const char* reason) {
  self->state.meter->rejected();
  if (auto* metrics = process_metrics())
    metrics->dispatch_rejected(reason);
}
void place(pointer self, job_id id, dispatch_table::decision decision, bool retry);
void refuse_queued_without_nodes(pointer self);

void publish_admission(pointer self) {
  const auto& table = self->state.table;
  if (auto* metrics = process_metrics()) {
    metrics->dispatch_state(table.queue_length(), self->state.jobs.size() - table.queue_length());
    metrics->nodes_up(table.nodes_up());
  }
  self->state.settings.admission->store(!table.has_capacity() ? admission_state::no_nodes
                                        : table.can_accept()  ? admission_state::accepting
                                                              : admission_state::full);
}

/// Answers the requester with `f` and forgets the job (the table must already be updated).
void give_up(pointer self, job_id id, const failure& f) {
  auto it = self->state.jobs.find(id);
  if (it == self->state.jobs.end())
    return;
  auto promise = std::move(it->second.promise);
  self->state.jobs.erase(it);
  // Published before the answer leaves: a client answered at once must not find the place it
  // freed still taken (another scheduler thread may carry the answer out before this one
  // returns).
  publish_admission(self);
  promise.deliver(to_caf_error(f));
}

/// Sends queued jobs to nodes that have a free slot.
void pump(pointer self) {
  for (const auto& a : self->state.table.assign_queued())
    send_to(self, a.job, a.node);
  publish_admission(self);
}

/// The node did not answer this attempt (lost link, dead actor): another node gets the job.
void retry_elsewhere(pointer self, job_id id, const std::string& why) {
  auto& st = self->state;
  auto it = st.jobs.find(id);
  if (it == st.jobs.end())
    return;
  st.table.cancel(id);
  if (it->second.sends >= st.settings.max_attempts) {
    give_up(self, id,
            make_failure(error_code::internal, "the job failed on " +
                                                   std::to_string(it->second.sends) +
                                                   " nodes; last: " + why));
    pump(self);
    return;
  }
  log::info("dispatcher", "task " + std::to_string(it->second.job.task_id) + ": " + why +
                              "; sending it to another node");
  it->second.attempt += 1; // whatever the old node still answers is stale now
  place(self, id, st.table.resubmit(id), true);
  pump(self);
}

/// The node takes no new jobs (it is leaving): its running jobs finish there. Idempotent.
void drain(pointer self, node_id node) {
  auto& st = self->state;
  auto n = st.nodes.find(node);
  if (n == st.nodes.end() || n->second.draining)
    return;
  st.table.drain_node(node);
  n->second.draining = true;
  log::info("dispatcher",
            "node " + n->second.info.name + " is leaving: no new jobs, finishing its own");
  refuse_queued_without_nodes(self);
  publish_admission(self);
}

void send_to(pointer self, job_id id, node_id node) {
  auto& st = self->state;
  auto job_it = st.jobs.find(id);
  auto node_it = st.nodes.find(node);
  if (job_it == st.jobs.end() || node_it == st.nodes.end()) {
    st.table.cancel(id);
    return;
  }
  auto& entry = job_it->second;
  auto left = time_left(entry);
  if (left <= std::chrono::milliseconds(0)) {
    st.table.cancel(id);
    give_up(self, id,
            make_failure(error_code::deadline_exceeded,
                         "the request ran out of time waiting for a node"));
    return;
  }
  entry.attempt += 1;
  entry.sends += 1;
  entry.job.time_left_ms = left.count();
  auto attempt = entry.attempt;
  auto node_name = node_it->second.info.name;
  // The expire timer answers at the deadline; this timeout only clears the pending request.
  self->request(node_it->second.handle, left + std::chrono::seconds(1), run_atom::value, entry.job)
      .then(
          metered(self->state.meter, false,
                  [self, id, attempt](node_result& result) {
                    auto it = self->state.jobs.find(id);
                    if (it == self->state.jobs.end() || it->second.attempt != attempt)
                      return; // a stale answer: the job was re-sent or has expired
                    self->state.table.complete(id, true);
                    auto promise = std::move(it->second.promise);
                    self->state.jobs.erase(it);
                    pump(self); // publishes the freed slot before the answer leaves (give_up)
                    promise.deliver(std::move(result));
                  }),
          metered(self->state.meter, false, [self, id, attempt, node, node_name](caf::error& err) {
            auto it = self->state.jobs.find(id);
            if (it == self->state.jobs.end() || it->second.attempt != attempt)
              return;
            if (err == caf::sec::request_receiver_down) {
              // The job never ran there: the node refused it because it is leaving (its leave
              // may reach us only after this answer) or its actor is gone. Drain the node first,
              // or the least-loaded pick sends the job straight back to it, and do not count the
              // send: bouncing off a leaving node max_attempts times would answer the client 500.
              drain(self, node);
              it->second.sends -= 1;
            } else if (err.category() == error_category) {
              // The node ran the job and it failed (a bad image, the ML service down): final.
              self->state.table.complete(id, false);
              give_up(self, id, from_caf_error(err));
              pump(self);
              return;
            }
            retry_elsewhere(self, id,
                            "node " + node_name + " did not answer (" + caf::to_string(err) + ")");
          }));
}

void place(pointer self, job_id id, dispatch_table::decision decision, bool retry) {
  auto& st = self->state;
  switch (decision.kind) {
    case dispatch_table::placement::assigned:
      send_to(self, id, decision.node);
      break;
    case dispatch_table::placement::queued:
      break;
    case dispatch_table::placement::rejected_queue_full:
      count_rejection(self, "queue_full");
      give_up(self, id,
              make_failure(error_code::overloaded, "every node is busy and " +
                                                       std::to_string(st.table.queue_length()) +
                                                       " jobs are waiting; retry shortly"));
      break;
    case dispatch_table::placement::rejected_no_nodes:
      st.settings.refused->fetch_add(1);
      count_rejection(self, "no_nodes");
      give_up(self, id,
              make_failure(error_code::overloaded,
                           retry ? "the node running the request was lost and no other node "
                                   "is available"
                                 : "no worker node is available to run the request"));
      break;
  }
}

/// With no node up, nothing would ever take the queued jobs: answer them now (503) rather than
/// at their deadline.
void refuse_queued_without_nodes(pointer self) {
  auto& st = self->state;
  if (st.table.has_capacity())
    return;
  std::vector<job_id> queued;
  for (const auto& [id, entry] : st.jobs)
    if (!st.table.node_of(id))
      queued.push_back(id);
  for (auto id : queued) {
    st.table.cancel(id);
    st.settings.refused->fetch_add(1);
    count_rejection(self, "no_nodes");
    give_up(self, id,
            make_failure(error_code::overloaded,
                         "no worker node is available to run the request (the last one left)"));
  }
}

void on_node_down(pointer self, const caf::down_msg& down) {
  auto& st = self->state;
  auto by_addr = st.node_by_address.find(down.source);
  if (by_addr == st.node_by_address.end())
    return;
  auto id = by_addr->second;
  st.node_by_address.erase(by_addr);
  auto node = st.nodes.find(id);
  bool draining = node != st.nodes.end() && node->second.draining;
  std::string name = node != st.nodes.end() ? node->second.info.name : "?";
  auto orphans = st.table.remove_node(id, draining ? "left" : "down");
  if (auto* metrics = process_metrics();
      metrics && node != st.nodes.end() && !node->second.info.local)
    metrics->forget_remote(name);
  st.nodes.erase(id);
  if (draining)
    log::info("dispatcher", "node " + name + " left");
  else
    log::warning("dispatcher", "node " + name + " is down (" + caf::to_string(down.reason) + "); " +
                                   std::to_string(orphans.size()) + " job(s) go to other nodes");
  for (auto job : orphans) {
    auto it = st.jobs.find(job);
    if (it == st.jobs.end())
      continue;
    if (it->second.sends >= st.settings.max_attempts) {
      give_up(self, job,
              make_failure(error_code::internal, "the job's nodes failed " +
                                                     std::to_string(it->second.sends) +
                                                     " times; last: node " + name + " went down"));
      continue;
    }
    it->second.attempt += 1; // whatever the lost node still answers is stale now
    place(self, job, st.table.resubmit(job), true);
  }
  refuse_queued_without_nodes(self);
  pump(self);
}

dispatcher_actor::behavior_type dispatcher(pointer self, dispatcher_settings settings) {
  self->state.table = dispatch_table{settings.queue_limit};
  self->state.settings = std::move(settings);
  auto meter = actor_meter_for("dispatcher");
  self->state.meter = meter;
  count_running(self, meter);
  self->set_down_handler(
      metered(meter, false, [self](caf::down_msg& down) { on_node_down(self, down); }));
  return {
      metered(meter, true,
              [self](run_atom, node_job& job) -> caf::result<node_result> {
                auto& st = self->state;
                auto id = st.next_job++;
                job_entry entry;
                entry.deadline = clock::now() + std::chrono::milliseconds(job.time_left_ms);
                entry.job = std::move(job);
                entry.promise = self->make_response_promise<node_result>();
                auto promise = entry.promise;
                auto left = std::max(time_left(entry), std::chrono::milliseconds(0));
                st.jobs.emplace(id, std::move(entry));
                self->delayed_send(self, left, expire_atom::value, id);
                place(self, id, st.table.submit(id), false);
                publish_admission(self);
                return promise;
              }),
      metered(meter, false,
              [self](expire_atom, job_id id) {
                auto& st = self->state;
                auto job = st.jobs.find(id);
                if (job == st.jobs.end())
                  return;
                auto node = st.table.node_of(id);
                if (node && !job->second.overdue) {
                  job->second.overdue = true;
                  self->delayed_send(self, overdue_grace, expire_atom::value, id);
                  return;
                }
                st.table.cancel(id);
                std::string where = "waiting for a node";
                if (node)
                  if (auto it = st.nodes.find(*node); it != st.nodes.end())
                    where = "running on node " + it->second.info.name;
                give_up(self, id,
                        make_failure(error_code::deadline_exceeded,
                                     "the request ran out of time " + where));
                pump(self);
              }),
      metered(
          meter, false,
          [self](join_atom, caf::actor node, node_info& info) -> caf::result<std::string> {
            auto& st = self->state;
            if (!node)
              return to_caf_error(make_failure(error_code::bad_request, "join without a node"));
            // The name goes into logs, /cluster and metric labels: plain text only.
            if (info.name.empty() || info.name.size() > 64 ||
                !std::all_of(info.name.begin(), info.name.end(), [](char c) {
                  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                         c == '.' || c == ':';
                }))
              return to_caf_error(make_failure(
                  error_code::bad_request, "a node name is 1-64 letters, digits and - _ . : (got " +
                                               std::to_string(info.name.size()) + " bytes)"));
            if (info.address.size() > 256)
              info.address.resize(256);
            if (info.capacity < 1 || info.capacity > 100000)
              return to_caf_error(
                  make_failure(error_code::bad_request, "a node's capacity must be 1..100000"));
            if (st.node_by_address.count(node.address()))
              return st.settings.gateway_name; // joined already (a repeated join is harmless)
            auto id = st.next_node++;
            self->monitor(node);
            st.node_by_address.emplace(node.address(), id);
            st.table.add_node(id, {info.name, info.address, info.local, info.capacity});
            st.nodes.emplace(id, node_entry{caf::actor_cast<node_actor>(node), info, false});
            log::info("dispatcher", "node " + info.name + " (" + info.address +
                                        ") joined with capacity " + std::to_string(info.capacity));
            pump(self);
            return st.settings.gateway_name;
          }),
      metered(meter, false,
              [self](leave_atom, caf::actor node) {
                auto& st = self->state;
                auto it = st.node_by_address.find(node.address());
                if (it == st.node_by_address.end())
                  return false;
                drain(self, it->second);
                return true;
              }),
      metered(meter, false,
              [self](status_atom) {
                auto body = self->state.table.to_json();
                body["queue"]["rejected"] = body["queue"]["rejected"].get<std::uint64_t>() +
                                            self->state.settings.refused->load();
                body["gateway"] = self->state.settings.gateway_name;
                return cluster_view{std::move(body)};
              }),
      metered(meter, false, [self](ping_atom) { return self->state.table.has_capacity(); }),
  };
}

} // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys, dispatcher_settings settings) {
  return sys.spawn(dispatcher, std::move(settings));
}

} // namespace imgproc
