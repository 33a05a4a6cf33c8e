#include "core/dispatch_table.hpp"

#include <gtest/gtest.h>
#include <map>
#include <stdexcept>

namespace imgproc {
namespace {

using placement = dispatch_table::placement;
using job_ids = std::vector<dispatch_table::job_id>;

dispatch_table::node_description worker(std::string name, int capacity, bool local = false) {
  return {std::move(name), "host.example:pid 1234", local, capacity};
}

// How many of the given jobs each node runs, from node_of().
std::map<dispatch_table::node_id, int> spread(const dispatch_table& table, job_ids jobs) {
  std::map<dispatch_table::node_id, int> counts;
  for (auto job : jobs)
    if (auto node = table.node_of(job))
      ++counts[*node];
  return counts;
}

// A copy, so that it may be taken from a temporary to_json().
nlohmann::json node_json(const nlohmann::json& table, dispatch_table::node_id id) {
  for (const auto& node : table["nodes"])
    if (node["id"] == id)
      return node;
  throw std::out_of_range("no node " + std::to_string(id) + " in " + table.dump());
}

TEST(dispatch_table_test, spreads_jobs_evenly_over_two_idle_nodes) {
  dispatch_table table(16);
  table.add_node(1, worker("worker-a", 4));
  table.add_node(2, worker("worker-b", 4));
  auto first = table.submit(1);
  auto second = table.submit(2);
  ASSERT_EQ(first.kind, placement::assigned);
  ASSERT_EQ(second.kind, placement::assigned);
  EXPECT_NE(first.node, second.node);
  for (dispatch_table::job_id job = 3; job <= 8; ++job)
    EXPECT_EQ(table.submit(job).kind, placement::assigned);
  auto counts = spread(table, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(counts[1], 4);
  EXPECT_EQ(counts[2], 4);
  EXPECT_EQ(table.free_slots(), 0);
}

TEST(dispatch_table_test, rotates_ties_between_idle_nodes) {
  // Each job finishes before the next: both nodes are idle every time, so only the rotation
  // decides, and the jobs alternate.
  dispatch_table table(16);
  table.add_node(1, worker("worker-a", 4));
  table.add_node(2, worker("worker-b", 4));
  table.add_node(3, worker("worker-c", 4));
  std::vector<dispatch_table::node_id> nodes;
  for (dispatch_table::job_id job = 1; job <= 6; ++job) {
    auto placed = table.submit(job);
    ASSERT_EQ(placed.kind, placement::assigned);
    nodes.push_back(placed.node);
    EXPECT_TRUE(table.complete(job, true));
  }
  EXPECT_EQ(nodes, (std::vector<dispatch_table::node_id>{1, 2, 3, 1, 2, 3}));
}

TEST(dispatch_table_test, fills_by_load_ratio_with_unequal_capacities) {
  dispatch_table table(16);
  table.add_node(1, worker("small", 2));
  table.add_node(2, worker("large", 6));
  for (dispatch_table::job_id job = 1; job <= 4; ++job)
    ASSERT_EQ(table.submit(job).kind, placement::assigned);
  // Half full each way: 1 of 2 and 3 of 6.
  auto half = spread(table, {1, 2, 3, 4});
  EXPECT_EQ(half[1], 1);
  EXPECT_EQ(half[2], 3);
  for (dispatch_table::job_id job = 5; job <= 8; ++job)
    ASSERT_EQ(table.submit(job).kind, placement::assigned);
  auto full = spread(table, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(full[1], 2);
  EXPECT_EQ(full[2], 6);
  EXPECT_EQ(table.submit(9).kind, placement::queued);
}

TEST(dispatch_table_test, queues_when_full_and_assigns_in_fifo_order) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  table.add_node(2, worker("worker-b", 1));
  EXPECT_EQ(table.submit(1).kind, placement::assigned);
  EXPECT_EQ(table.submit(2).kind, placement::assigned);
  for (dispatch_table::job_id job : {3, 4, 5}) {
    auto placed = table.submit(job);
    EXPECT_EQ(placed.kind, placement::queued);
    EXPECT_FALSE(table.node_of(job));
  }
  EXPECT_EQ(table.queue_length(), 3u);
  EXPECT_TRUE(table.assign_queued().empty()); // nothing free yet

  ASSERT_TRUE(table.complete(1, true));
  auto assigned = table.assign_queued();
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].job, 3u);
  EXPECT_EQ(assigned[0].node, 1u);
  EXPECT_EQ(table.node_of(3), 1u);

  ASSERT_TRUE(table.complete(2, true));
  ASSERT_TRUE(table.complete(3, false));
  assigned = table.assign_queued();
  ASSERT_EQ(assigned.size(), 2u);
  EXPECT_EQ(assigned[0].job, 4u);
  EXPECT_EQ(assigned[1].job, 5u);
  EXPECT_EQ(table.queue_length(), 0u);
}

TEST(dispatch_table_test, rejects_when_queue_is_full_and_counts_it) {
  dispatch_table table(2);
  table.add_node(1, worker("worker-a", 1));
  EXPECT_EQ(table.submit(1).kind, placement::assigned);
  EXPECT_EQ(table.submit(2).kind, placement::queued);
  EXPECT_EQ(table.submit(3).kind, placement::queued);
  EXPECT_EQ(table.submit(4).kind, placement::rejected_queue_full);
  EXPECT_EQ(table.submit(5).kind, placement::rejected_queue_full);
  EXPECT_EQ(table.queue_length(), 2u);
  EXPECT_EQ(table.to_json()["queue"]["rejected"], 2);
  // A rejected job is forgotten: its id may come back.
  EXPECT_FALSE(table.cancel(4));
  ASSERT_TRUE(table.cancel(3));
  EXPECT_EQ(table.submit(4).kind, placement::queued);
}

TEST(dispatch_table_test, queue_limit_zero_rejects_at_once) {
  dispatch_table table(0);
  table.add_node(1, worker("worker-a", 1));
  EXPECT_EQ(table.submit(1).kind, placement::assigned);
  EXPECT_EQ(table.submit(2).kind, placement::rejected_queue_full);
  EXPECT_EQ(table.queue_length(), 0u);
  EXPECT_EQ(table.to_json()["queue"]["rejected"], 1);
}

TEST(dispatch_table_test, rejects_without_queueing_when_no_node_is_up) {
  dispatch_table table(8);
  EXPECT_FALSE(table.has_capacity());
  EXPECT_EQ(table.submit(1).kind, placement::rejected_no_nodes);
  EXPECT_EQ(table.resubmit(2).kind, placement::rejected_no_nodes);

  table.add_node(1, worker("worker-a", 2));
  table.drain_node(1); // a draining node takes nothing new
  EXPECT_FALSE(table.has_capacity());
  EXPECT_EQ(table.submit(3).kind, placement::rejected_no_nodes);

  EXPECT_EQ(table.queue_length(), 0u);
  EXPECT_EQ(table.to_json()["queue"]["rejected"], 0); // only a full queue counts
  EXPECT_FALSE(table.cancel(1));
}

TEST(dispatch_table_test, resubmit_queues_at_front_beyond_the_limit) {
  dispatch_table table(1);
  table.add_node(1, worker("worker-a", 1));
  EXPECT_EQ(table.submit(1).kind, placement::assigned);
  EXPECT_EQ(table.submit(2).kind, placement::queued);
  EXPECT_EQ(table.submit(3).kind, placement::rejected_queue_full);
  EXPECT_EQ(table.resubmit(10).kind, placement::queued);
  EXPECT_EQ(table.resubmit(11).kind, placement::queued);
  EXPECT_EQ(table.queue_length(), 3u);
  // Still full for new jobs.
  EXPECT_EQ(table.submit(4).kind, placement::rejected_queue_full);

  // Resubmitted jobs first, in the order they came back, then the submitted one.
  job_ids order;
  for (dispatch_table::job_id running = 1; table.queue_length() > 0;) {
    ASSERT_TRUE(table.complete(running, true));
    auto assigned = table.assign_queued();
    ASSERT_EQ(assigned.size(), 1u);
    running = assigned[0].job;
    order.push_back(running);
  }
  EXPECT_EQ(order, (job_ids{10, 11, 2}));

  auto json = table.to_json();
  EXPECT_EQ(json["queue"]["rejected"], 2);
  EXPECT_EQ(json["totals"]["redispatched"], 0); // resubmit counts nothing
}

TEST(dispatch_table_test, resubmit_assigns_when_a_slot_is_free) {
  dispatch_table table(0);
  table.add_node(1, worker("worker-a", 1));
  auto placed = table.resubmit(7);
  EXPECT_EQ(placed.kind, placement::assigned);
  EXPECT_EQ(placed.node, 1u);
  EXPECT_EQ(table.node_of(7), 1u);
}

TEST(dispatch_table_test, remove_node_returns_in_flight_jobs_in_assignment_order) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 4));
  table.add_node(2, worker("worker-b", 4));
  for (dispatch_table::job_id job = 1; job <= 6; ++job)
    ASSERT_EQ(table.submit(job).kind, placement::assigned);
  // Alternating: 1, 3, 5 on node 1.
  ASSERT_EQ(table.node_of(1), 1u);
  ASSERT_TRUE(table.complete(3, true));

  auto taken = table.remove_node(1);
  EXPECT_EQ(taken, (job_ids{1, 5}));
  EXPECT_FALSE(table.node_of(1));
  EXPECT_FALSE(table.node_of(5));
  EXPECT_FALSE(table.complete(5, true)); // a late answer from the lost node is ignored

  auto json = table.to_json();
  auto removed = node_json(json, 1);
  EXPECT_EQ(removed["state"], "down");
  EXPECT_EQ(removed["in_flight"], 0);
  EXPECT_EQ(removed["completed"], 1);
  EXPECT_EQ(removed["redispatched"], 2);
  EXPECT_EQ(json["totals"]["redispatched"], 2);
  EXPECT_EQ(json["totals"]["nodes_up"], 1);

  // The caller puts them back: node 2 has one slot left.
  auto first = table.resubmit(1);
  EXPECT_EQ(first.kind, placement::assigned);
  EXPECT_EQ(first.node, 2u);
  EXPECT_EQ(table.resubmit(5).kind, placement::queued);

  EXPECT_TRUE(table.remove_node(1).empty()); // already gone
  EXPECT_TRUE(table.remove_node(99).empty());
}

TEST(dispatch_table_test, remove_node_records_the_given_state) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  table.add_node(2, worker("worker-b", 1));
  EXPECT_THROW(table.remove_node(1, "gone"), std::invalid_argument);
  EXPECT_TRUE(table.has_capacity());
  table.remove_node(1, "left");
  table.remove_node(2);
  auto nodes = table.to_json()["nodes"];
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]["id"], 2); // newest departure first
  EXPECT_EQ(nodes[0]["state"], "down");
  EXPECT_EQ(nodes[1]["id"], 1);
  EXPECT_EQ(nodes[1]["state"], "left");
  EXPECT_FALSE(table.has_capacity());
}

TEST(dispatch_table_test, draining_node_gets_nothing_new_but_counts_completions) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 2));
  table.add_node(2, worker("worker-b", 2));
  ASSERT_EQ(table.submit(1).node, 1u);
  ASSERT_EQ(table.submit(2).node, 2u);
  table.drain_node(1);
  table.drain_node(99); // unknown: nothing happens
  EXPECT_EQ(table.free_slots(), 1);

  EXPECT_EQ(table.submit(3).node, 2u);
  EXPECT_EQ(table.submit(4).kind, placement::queued);

  EXPECT_TRUE(table.complete(1, true));
  EXPECT_TRUE(table.assign_queued().empty()); // node 1's free slots are not offered

  auto json = table.to_json();
  auto drained = node_json(json, 1);
  EXPECT_EQ(drained["state"], "draining"); // still listed with nothing in flight
  EXPECT_EQ(drained["in_flight"], 0);
  EXPECT_EQ(drained["completed"], 1);
  EXPECT_EQ(json["totals"]["nodes_up"], 1);
  EXPECT_EQ(json["totals"]["capacity"], 4); // draining nodes still count
  EXPECT_EQ(json["totals"]["in_flight"], 2);

  EXPECT_TRUE(table.remove_node(1, "left").empty());
  EXPECT_EQ(node_json(table.to_json(), 1)["state"], "left");
}

TEST(dispatch_table_test, complete_counts_results_and_failures) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  ASSERT_EQ(table.submit(1).kind, placement::assigned);
  ASSERT_EQ(table.submit(2).kind, placement::queued);
  EXPECT_FALSE(table.complete(2, true)); // queued, not running
  EXPECT_FALSE(table.complete(42, true));
  EXPECT_TRUE(table.complete(1, false));
  EXPECT_FALSE(table.complete(1, true)); // only once
  EXPECT_EQ(table.assign_queued().size(), 1u);
  EXPECT_TRUE(table.complete(2, true));

  auto node = node_json(table.to_json(), 1);
  EXPECT_EQ(node["completed"], 1);
  EXPECT_EQ(node["failed"], 1);
  EXPECT_EQ(node["in_flight"], 0);
}

TEST(dispatch_table_test, cancel_drops_queued_and_running_jobs_without_counting) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  ASSERT_EQ(table.submit(1).kind, placement::assigned);
  ASSERT_EQ(table.submit(2).kind, placement::queued);
  ASSERT_EQ(table.submit(3).kind, placement::queued);

  EXPECT_TRUE(table.cancel(2));
  EXPECT_EQ(table.queue_length(), 1u);
  EXPECT_FALSE(table.cancel(2));

  EXPECT_TRUE(table.cancel(1));
  EXPECT_FALSE(table.node_of(1));
  EXPECT_EQ(table.free_slots(), 1);
  auto assigned = table.assign_queued();
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].job, 3u); // 2 was cancelled

  EXPECT_FALSE(table.cancel(99));
  auto totals = table.to_json()["totals"];
  EXPECT_EQ(totals["completed"], 0);
  EXPECT_EQ(totals["failed"], 0);
  EXPECT_EQ(totals["in_flight"], 1);
}

TEST(dispatch_table_test, history_keeps_the_last_16_departed_nodes) {
  dispatch_table table(8);
  for (dispatch_table::node_id id = 1; id <= 20; ++id)
    table.add_node(id, worker("worker-" + std::to_string(id), 1));
  table.add_node(100, worker("local", 2, true));
  for (dispatch_table::node_id id = 1; id <= 20; ++id)
    table.remove_node(id);

  auto nodes = table.to_json()["nodes"];
  ASSERT_EQ(nodes.size(), 1u + dispatch_table::history_limit);
  EXPECT_EQ(nodes[0]["id"], 100); // live first
  EXPECT_EQ(nodes[1]["id"], 20);  // then newest departure
  EXPECT_EQ(nodes[16]["id"], 5);  // 1 to 4 evicted
}

TEST(dispatch_table_test, totals_include_evicted_nodes) {
  dispatch_table table(8);
  dispatch_table::job_id job = 0;
  for (dispatch_table::node_id id = 1; id <= 20; ++id) {
    table.add_node(id, worker("worker-" + std::to_string(id), 3));
    ASSERT_EQ(table.submit(++job).node, id);
    ASSERT_TRUE(table.complete(job, true));
    ASSERT_EQ(table.submit(++job).node, id);
    ASSERT_TRUE(table.complete(job, false));
    ASSERT_EQ(table.submit(++job).node, id);
    ASSERT_EQ(table.remove_node(id), job_ids{job}); // redispatched once
    EXPECT_FALSE(table.cancel(job));                // taken away: no longer known here
  }
  auto json = table.to_json();
  EXPECT_EQ(json["nodes"].size(), dispatch_table::history_limit);
  auto totals = json["totals"];
  EXPECT_EQ(totals["completed"], 20);
  EXPECT_EQ(totals["failed"], 20);
  EXPECT_EQ(totals["redispatched"], 20);
  EXPECT_EQ(totals["nodes_up"], 0);
  EXPECT_EQ(totals["capacity"], 0);
}

TEST(dispatch_table_test, to_json_has_the_documented_shape) {
  dispatch_table table(256);
  table.add_node(2, {"worker-a", "host.example:pid 1234", false, 8});
  table.add_node(1, {"local", "gateway", true, 2});
  table.add_node(3, {"worker-b", "other.example:pid 9", false, 4});
  ASSERT_EQ(table.submit(10).node, 1u);
  ASSERT_EQ(table.submit(11).node, 2u);
  ASSERT_TRUE(table.complete(11, false));
  table.drain_node(3);
  table.add_node(4, {"worker-c", "gone.example", false, 1});
  ASSERT_EQ(table.submit(12).node, 4u);
  ASSERT_EQ(table.remove_node(4, "left"), job_ids{12});

  auto expected = nlohmann::json::parse(R"({
    "nodes": [
      {"id": 1, "name": "local", "address": "gateway", "local": true, "state": "up",
       "capacity": 2, "in_flight": 1, "completed": 0, "failed": 0, "redispatched": 0},
      {"id": 2, "name": "worker-a", "address": "host.example:pid 1234", "local": false,
       "state": "up", "capacity": 8, "in_flight": 0, "completed": 0, "failed": 1,
       "redispatched": 0},
      {"id": 3, "name": "worker-b", "address": "other.example:pid 9", "local": false,
       "state": "draining", "capacity": 4, "in_flight": 0, "completed": 0, "failed": 0,
       "redispatched": 0},
      {"id": 4, "name": "worker-c", "address": "gone.example", "local": false, "state": "left",
       "capacity": 1, "in_flight": 0, "completed": 0, "failed": 0, "redispatched": 1}
    ],
    "queue": {"length": 0, "limit": 256, "rejected": 0},
    "totals": {"nodes_up": 2, "capacity": 14, "in_flight": 1, "completed": 0, "failed": 1,
               "redispatched": 1}
  })");
  EXPECT_EQ(table.to_json(), expected) << table.to_json().dump(2);
}

TEST(dispatch_table_test, known_job_ids_throw) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  ASSERT_EQ(table.submit(1).kind, placement::assigned);
  ASSERT_EQ(table.submit(2).kind, placement::queued);
  EXPECT_THROW(table.submit(1), std::logic_error);   // running
  EXPECT_THROW(table.submit(2), std::logic_error);   // queued
  EXPECT_THROW(table.resubmit(1), std::logic_error); // a resubmitted job must have been taken
  EXPECT_EQ(table.queue_length(), 1u);
  // Once finished, an id is free again.
  ASSERT_TRUE(table.complete(1, true));
  EXPECT_EQ(table.submit(1).kind, placement::assigned);
}

TEST(dispatch_table_test, live_node_ids_throw_but_departed_ones_may_rejoin) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  EXPECT_THROW(table.add_node(1, worker("again", 1)), std::invalid_argument);
  table.drain_node(1);
  EXPECT_THROW(table.add_node(1, worker("again", 1)), std::invalid_argument);

  table.remove_node(1);
  table.add_node(1, worker("worker-a", 2));
  auto nodes = table.to_json()["nodes"];
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]["state"], "up");
  EXPECT_EQ(nodes[0]["capacity"], 2);
  EXPECT_EQ(nodes[1]["state"], "down");
  EXPECT_EQ(table.free_slots(), 2);
}

TEST(dispatch_table_test, capacity_below_one_throws) {
  dispatch_table table(8);
  EXPECT_THROW(table.add_node(1, worker("none", 0)), std::invalid_argument);
  EXPECT_THROW(table.add_node(2, worker("negative", -3)), std::invalid_argument);
  EXPECT_FALSE(table.has_capacity());
  EXPECT_TRUE(table.to_json()["nodes"].empty());
}

TEST(dispatch_table_test, free_slots_count_up_nodes_only) {
  dispatch_table table(8);
  EXPECT_EQ(table.free_slots(), 0);
  table.add_node(1, worker("worker-a", 3));
  table.add_node(2, worker("worker-b", 5));
  EXPECT_EQ(table.free_slots(), 8);
  ASSERT_EQ(table.submit(1).kind, placement::assigned);
  EXPECT_EQ(table.free_slots(), 7);
  table.drain_node(2);
  EXPECT_EQ(table.free_slots(), 2); // node 2's five are not offered
  EXPECT_TRUE(table.has_capacity());
}

TEST(dispatch_table_test, a_new_node_takes_queued_jobs) {
  dispatch_table table(8);
  table.add_node(1, worker("worker-a", 1));
  ASSERT_EQ(table.submit(1).kind, placement::assigned);
  ASSERT_EQ(table.submit(2).kind, placement::queued);
  ASSERT_EQ(table.submit(3).kind, placement::queued);
  table.add_node(2, worker("worker-b", 4));
  auto assigned = table.assign_queued();
  ASSERT_EQ(assigned.size(), 2u);
  EXPECT_EQ(assigned[0].job, 2u);
  EXPECT_EQ(assigned[0].node, 2u);
  EXPECT_EQ(assigned[1].job, 3u);
  EXPECT_EQ(assigned[1].node, 2u);
  EXPECT_EQ(table.queue_length(), 0u);
}

} // namespace
} // namespace imgproc
