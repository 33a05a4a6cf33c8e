// End-to-end: a gateway and worker nodes as real processes (tests/support/cluster.hpp). Jobs are
// spread over the workers; a worker that is killed, stopped or leaves loses and duplicates
// nothing; the cluster link admits only nodes with a certificate the cluster's CA signed.

#include "tests/e2e/helpers.hpp"
#include "tests/support/cluster.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/pki.hpp"

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using std::chrono::milliseconds;

const std::set<std::string> response_keys{"id", "pipeline_id", "status", "filename", "data"};

http_response process(const cluster_stack& stack, int seed) {
  return post_multipart(
      stack.url("/process-image?pipeline_id=1"),
      {file_field("image_file", make_jpeg(64, 48, seed), "img" + std::to_string(seed) + ".jpg")});
}

struct answer {
  int seed = 0;
  long status = 0;
  std::string body;
  std::string transport_error;
};

/// Sends requests seeded first_seed .. first_seed + total - 1 from `clients` threads at once and
/// returns every answer; `answered` (if given) counts them as they arrive.
std::vector<answer> send_requests(const cluster_stack& stack, int total, int clients,
                                  int first_seed = 0, std::atomic<int>* answered = nullptr) {
  std::atomic<int> next{0};
  std::mutex mutex;
  std::vector<answer> out;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (int i = next++; i < total; i = next++) {
        answer a;
        a.seed = first_seed + i;
        try {
          auto response = process(stack, a.seed);
          a.status = response.status;
          a.body = response.body;
        } catch (const std::exception& e) {
          a.transport_error = e.what();
        }
        if (answered)
          ++*answered;
        std::lock_guard<std::mutex> lock{mutex};
        out.push_back(std::move(a));
      }
    });
  for (auto& t : threads)
    t.join();
  return out;
}

/// The answer is a 200 with a detection for a task not answered before; adds it to `tasks`
/// (task id -> status).
void check_answer(const answer& a, std::map<std::int64_t, std::string>& tasks) {
  SCOPED_TRACE("request with seed " + std::to_string(a.seed));
  ASSERT_EQ(a.transport_error, "");
  ASSERT_EQ(a.status, 200) << a.body;
  auto body = json::parse(a.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << a.body;
  ASSERT_EQ(keys_of(body), response_keys) << a.body;
  EXPECT_EQ(body["filename"], "img" + std::to_string(a.seed) + ".jpg");
  auto status = body["status"].get<std::string>();
  expect_detection_shape(status, body["data"]);
  EXPECT_TRUE(tasks.emplace(body["id"].get<std::int64_t>(), status).second)
      << "task id answered twice: " << a.body;
}

/// Checks every answer (see check_answer); returns task id -> status.
std::map<std::int64_t, std::string> expect_all_detections(const std::vector<answer>& answers) {
  std::map<std::int64_t, std::string> tasks;
  for (const auto& a : answers)
    check_answer(a, tasks);
  return tasks;
}

/// The tasks table holds exactly the answered tasks, each with the status of its answer.
void expect_rows_match(const std::string& dsn, const std::map<std::int64_t, std::string>& tasks) {
  std::map<std::int64_t, std::string> rows;
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  for (const auto& row : txn.exec("SELECT id, status FROM tasks"))
    rows.emplace(row[0].as<std::int64_t>(), row[1].as<std::string>());
  EXPECT_EQ(rows, tasks);
  EXPECT_EQ(query_number(dsn, "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);
}

/// The first node of /cluster's list named `name`: the live one if any, else the newest
/// departed one; null if none.
json node_named(const json& cluster, const std::string& name) {
  for (const auto& node : cluster.at("nodes"))
    if (node.at("name") == name)
      return node;
  return json{};
}

std::vector<json> nodes_named(const json& cluster, const std::string& name) {
  std::vector<json> out;
  for (const auto& node : cluster.at("nodes"))
    if (node.at("name") == name)
      out.push_back(node);
  return out;
}

int counter(const json& cluster, const std::string& name, const char* key) {
  auto node = node_named(cluster, name);
  return node.is_object() ? node.at(key).get<int>() : 0;
}

std::string state_of(const json& cluster, const std::string& name) {
  auto node = node_named(cluster, name);
  return node.is_object() ? node.at("state").get<std::string>() : "";
}

int total(const json& cluster, const char* key) {
  return cluster.at("totals").at(key).get<int>();
}

TEST(cluster, gateway_spreads_requests_over_two_workers) {
  cluster_stack stack;
  auto up = stack.wait_for_nodes_up(2, milliseconds(5000));
  EXPECT_EQ(state_of(up, "w1"), "up");
  EXPECT_EQ(state_of(up, "w2"), "up");

  auto tasks = expect_all_detections(send_requests(stack, 40, 4));
  EXPECT_EQ(tasks.size(), 40u);

  auto cluster = stack.cluster_json();
  EXPECT_GT(counter(cluster, "w1", "completed"), 0) << cluster.dump();
  EXPECT_GT(counter(cluster, "w2", "completed"), 0) << cluster.dump();
  EXPECT_EQ(counter(cluster, "w1", "completed") + counter(cluster, "w2", "completed"), 40)
      << cluster.dump();
  EXPECT_EQ(total(cluster, "completed"), 40) << cluster.dump();
  EXPECT_EQ(total(cluster, "in_flight"), 0) << cluster.dump();
  EXPECT_EQ(total(cluster, "failed"), 0) << cluster.dump();
  expect_rows_match(stack.dsn(), tasks);
}

TEST(cluster, gateway_metrics_include_every_workers_series) {
  cluster_stack stack;
  stack.wait_for_nodes_up(2, milliseconds(5000));
  auto tasks = expect_all_detections(send_requests(stack, 12, 4));
  ASSERT_EQ(tasks.size(), 12u);
  // Workers report every 2 s over the actor link: poll the gateway's /metrics (bounded) until
  // both workers' image workers together show the 12 jobs' image steps.
  auto decodes = [](const std::string& text, const std::string& node) {
    std::regex series{
        "caf_actor_processed_messages_total\\{[^}]*name=\"image_worker\"[^}]*node=\"" + node +
        "\"[^}]*\\} ([0-9.e+]+)"};
    std::smatch match;
    return std::regex_search(text, match, series) ? std::stod(match[1]) : 0.0;
  };
  std::string text;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    text = get(stack.url("/metrics")).body;
    if (decodes(text, "w1") + decodes(text, "w2") == 12)
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(decodes(text, "w1") + decodes(text, "w2"), 12) << text;
  EXPECT_GT(decodes(text, "w1"), 0);
  EXPECT_GT(decodes(text, "w2"), 0);
  // The gateway's own series and the node links' are there too, once per family.
  EXPECT_TRUE(std::regex_search(
      text, std::regex{"caf_actor_processed_messages_total\\{[^}]*name=\"dispatcher\""}))
      << text;
  EXPECT_NE(text.find("caf_middleman_outbound_messages_total"), std::string::npos);
  std::regex type_line{"# TYPE caf_actor_processed_messages_total counter"};
  EXPECT_EQ(std::distance(std::sregex_iterator(text.begin(), text.end(), type_line),
                          std::sregex_iterator()),
            1);
}

TEST(cluster, a_worker_serves_its_own_metrics_when_asked) {
  cluster_options options;
  options.workers = {};
  cluster_stack stack{options};
  auto& worker = stack.start_worker("w9", {"--metrics-port=0"});
  auto line = worker.wait_for_line(std::regex{"metrics on http://[0-9.]+:[0-9]+/metrics"},
                                   milliseconds(10000));
  std::smatch port;
  ASSERT_TRUE(std::regex_search(line, port, std::regex{":([0-9]+)/metrics"})) << line;
  auto url = "http://127.0.0.1:" + port[1].str();
  auto scrape = get(url + "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find(R"(node="w9")"), std::string::npos) << scrape.body;
  EXPECT_EQ(get(url + "/health").status, 200);
  EXPECT_EQ(get(url + "/tasks").status, 404); // a worker serves no API
}

TEST(cluster, a_node_name_that_is_not_plain_text_is_refused) {
  cluster_options options;
  options.workers = {};
  cluster_stack stack{options};
  auto& worker = stack.start_worker("bad name"); // a space: it would reach logs and labels
  EXPECT_THROW(worker.wait_for_line(worker_joined_line(), milliseconds(3000)), std::runtime_error);
  EXPECT_TRUE(stack.cluster_json()["nodes"].empty()) << stack.cluster_json().dump();
}

TEST(cluster, a_worker_that_joins_later_receives_work) {
  cluster_options options;
  options.workers = {"w1"};
  cluster_stack stack{options};
  auto before = send_requests(stack, 6, 1);

  stack.add_worker("w2");
  stack.wait_for_nodes_up(2, milliseconds(5000));
  auto after = send_requests(stack, 24, 4, 100);

  before.insert(before.end(), after.begin(), after.end());
  auto tasks = expect_all_detections(before);
  auto cluster = stack.cluster_json();
  EXPECT_GE(counter(cluster, "w1", "completed"), 6) << cluster.dump();
  EXPECT_GT(counter(cluster, "w2", "completed"), 0) << cluster.dump();
  EXPECT_EQ(total(cluster, "completed"), 30) << cluster.dump();
  expect_rows_match(stack.dsn(), tasks);
}

TEST(cluster, local_detectors_and_dry_runs_run_on_the_worker_and_report_through_the_gateway) {
  cluster_options options;
  options.workers = {"w1"};
  cluster_stack stack{options};
  // The worker printed that it joined; the dispatcher may hear of it a moment later.
  stack.wait_for_nodes_up(1, milliseconds(5000));
  // people-detection (id 2, seeded by the migrations) on the man of basketball1.png: the job,
  // upload bytes only, goes to w1, which decodes and detects; the gateway stores the boxes.
  auto response = post_multipart(
      stack.url("/process-image?pipeline_id=2"),
      {file_field("image_file", sample_photo_jpeg("basketball1.png"), "basketball1.jpg")});
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = json::parse(response.body);
  EXPECT_EQ(body["status"], "detected") << response.body;
  ASSERT_TRUE(body["data"].is_array()) << response.body;
  ASSERT_FALSE(body["data"].empty()) << response.body;
  EXPECT_EQ(counter(stack.cluster_json(), "w1", "completed"), 1);
  expect_rows_match(stack.dsn(), {{body["id"].get<std::int64_t>(), "detected"}});

  // A dry run crosses the link too: the worker records each step, previews as JPEG text.
  auto dry = post_multipart(
      stack.url("/pipelines/2/dry-run"),
      {file_field("image_file", sample_photo_jpeg("basketball1.png"), "basketball1.jpg")});
  ASSERT_EQ(dry.status, 200) << dry.body.substr(0, 500);
  auto run = json::parse(dry.body);
  EXPECT_EQ(run["node"], "w1");
  ASSERT_EQ(run["steps"].size(), 3u);
  EXPECT_EQ(run["steps"][2]["handler"], "detect_people");
  EXPECT_EQ(run["steps"][2]["output"]["boxes"], body["data"]);
  EXPECT_EQ(run["steps"][2]["preview"]["width"], 320);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 1)
      << "the dry run stored a task";

  // The worker's detector metrics reach the gateway's /metrics with its next report (every 2 s):
  // two detections, the request's and the dry run's.
  std::regex series{"imgproc_local_detector_duration_seconds_count\\{[^}]*detector=\"hog_people\""
                    "[^}]*node=\"w1\"[^}]*\\} 2"};
  std::string text;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    text = get(stack.url("/metrics")).body;
    if (std::regex_search(text, series))
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(std::regex_search(text, series)) << text;
}

TEST(cluster, gateway_without_nodes_answers_503_and_is_not_ready) {
  cluster_options options;
  options.workers = {};
  cluster_stack stack{options};

  expect_error(get(stack.url("/ready")), 503);
  auto response = process(stack, 1);
  auto detail = expect_error(response, 503);
  EXPECT_NE(detail.find("no worker node"), std::string::npos) << detail;
  EXPECT_EQ(response.header("retry-after"), "1");
  // A row for the refused request may exist, but only as 'failed'.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status <> 'failed'"), 0);
  auto cluster = stack.cluster_json();
  EXPECT_EQ(cluster["nodes"], json::array()) << cluster.dump();
  EXPECT_EQ(total(cluster, "nodes_up"), 0);

  // The first node to join makes the gateway ready and able to serve.
  stack.add_worker("w1");
  stack.wait_for_nodes_up(1, milliseconds(5000));
  EXPECT_EQ(get(stack.url("/ready")).status, 200);
  EXPECT_EQ(process(stack, 2).status, 200);
}

TEST(cluster, kill_9_of_a_worker_mid_stream_loses_and_duplicates_nothing) {
  cluster_stack stack;
  constexpr int requests = 120;
  std::atomic<int> answered{0};
  auto stream = std::async(std::launch::async,
                           [&] { return send_requests(stack, requests, 4, 0, &answered); });

  // Once the victim has answered a few (counted in its entry after it is gone), with more on
  // the way.
  stack.wait_for_cluster([](const json& c) { return counter(c, "w2", "completed") >= 3; },
                         milliseconds(10000), "w2 working");
  stack.worker("w2").kill();
  int answered_at_kill = answered.load();
  auto answers = stream.get();
  EXPECT_LT(answered_at_kill, requests) << "the stream ended before the kill";

  ASSERT_EQ(answers.size(), static_cast<std::size_t>(requests));
  auto tasks = expect_all_detections(answers);
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(requests));
  expect_rows_match(stack.dsn(), tasks);

  auto cluster = stack.wait_for_cluster([](const json& c) { return state_of(c, "w2") == "down"; },
                                        milliseconds(5000), "w2 down");
  EXPECT_EQ(state_of(cluster, "w1"), "up");
  EXPECT_EQ(total(cluster, "nodes_up"), 1);
  EXPECT_EQ(total(cluster, "completed"), requests) << cluster.dump();
  EXPECT_EQ(total(cluster, "in_flight"), 0) << cluster.dump();
}

TEST(cluster, sigstop_of_a_worker_is_detected_and_its_jobs_rerun_elsewhere) {
  // Fault injection: the victim's ML service never answers, so its jobs are surely in flight
  // when it is stopped. Only the heartbeat timeout can get them back.
  canned_server stuck{std::nullopt};
  cluster_options options;
  options.workers = {"w1"};
  options.node_args = {"--cluster-heartbeat-ms=200", "--cluster-timeout-ms=1000"};
  cluster_stack stack{options};
  auto& victim = stack.add_worker("w2", {"--ml-url=" + stuck.url(), "--ml-timeout-ms=60000"});
  stack.wait_for_nodes_up(2, milliseconds(5000));

  constexpr int requests = 40;
  auto stream = std::async(std::launch::async, [&] { return send_requests(stack, requests, 4); });
  stack.wait_for_cluster([](const json& c) { return counter(c, "w2", "in_flight") > 0; },
                         milliseconds(10000), "jobs in flight on w2");
  ASSERT_EQ(::kill(victim.pid(), SIGSTOP), 0);
  auto stopped_at = std::chrono::steady_clock::now();

  auto tasks = expect_all_detections(stream.get());
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(requests));
  // The stalled jobs waited for the timeout (1 s), not for the request deadline (30 s).
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(10));
  expect_rows_match(stack.dsn(), tasks);

  auto cluster = stack.wait_for_cluster([](const json& c) { return state_of(c, "w2") == "down"; },
                                        milliseconds(5000), "w2 down");
  EXPECT_GT(counter(cluster, "w2", "redispatched"), 0) << cluster.dump();
  EXPECT_EQ(counter(cluster, "w2", "completed"), 0) << cluster.dump();
  EXPECT_EQ(counter(cluster, "w1", "completed"), requests) << cluster.dump();
  EXPECT_EQ(total(cluster, "completed"), requests) << cluster.dump();

  // Continued, the victim finds its link gone and joins again as a new node of the same name.
  ASSERT_EQ(::kill(victim.pid(), SIGCONT), 0);
  EXPECT_NO_THROW(victim.wait_for_line(worker_joined_line(), milliseconds(10000)));
  cluster = stack.wait_for_nodes_up(2, milliseconds(5000));
  auto entries = nodes_named(cluster, "w2");
  ASSERT_EQ(entries.size(), 2u) << cluster.dump();
  EXPECT_EQ(entries[0]["state"], "up");
  EXPECT_EQ(entries[1]["state"], "down");
  EXPECT_NE(entries[0]["id"], entries[1]["id"]);
  // Its jobs still wait on the stuck ML service: no clean leave to wait for.
  victim.kill();
}

TEST(cluster, mutual_tls_admits_a_signed_worker_and_refuses_others) {
  auto pki = make_test_pki();
  cluster_options options;
  options.workers = {};
  options.gateway_args = cluster_tls_args(pki.node_cert, pki.node_key, pki.ca);
  cluster_stack stack{options};
  EXPECT_NE(stack.cluster_line().find("(mutual TLS)"), std::string::npos) << stack.cluster_line();

  stack.add_worker("signed", cluster_tls_args(pki.other_node_cert, pki.other_node_key, pki.ca));
  stack.wait_for_nodes_up(1, milliseconds(5000));
  auto ok = process(stack, 1);
  EXPECT_EQ(ok.status, 200) << ok.body;

  // Started together, so both have had the whole wait to get in.
  auto& rogue =
      stack.start_worker("rogue", cluster_tls_args(pki.rogue_cert, pki.rogue_key, pki.ca));
  auto& plain = stack.start_worker("plain");
  EXPECT_THROW(rogue.wait_for_line(worker_joined_line(), milliseconds(3000)), std::runtime_error);
  EXPECT_THROW(plain.wait_for_line(worker_joined_line(), milliseconds(200)), std::runtime_error);
  for (auto* refused : {&rogue, &plain}) {
    SCOPED_TRACE(refused->name());
    EXPECT_TRUE(refused->running()); // still retrying
    EXPECT_NE(refused->stderr_tail().find("cannot reach gateway"), std::string::npos)
        << refused->stderr_tail();
  }

  auto cluster = stack.cluster_json();
  ASSERT_EQ(cluster["nodes"].size(), 1u) << cluster.dump();
  EXPECT_EQ(cluster["nodes"][0]["name"], "signed");
  EXPECT_EQ(cluster["nodes"][0]["state"], "up");
  EXPECT_EQ(total(cluster, "nodes_up"), 1);
}

TEST(cluster, worker_sigterm_leaves_cleanly) {
  cluster_stack stack;
  constexpr int requests = 80;
  auto stream = std::async(std::launch::async, [&] { return send_requests(stack, requests, 4); });
  stack.wait_for_cluster([](const json& c) { return counter(c, "w2", "completed") > 0; },
                         milliseconds(10000), "w2 working");
  // It finishes what it has and the gateway sends it nothing new: the stream goes on.
  EXPECT_EQ(stack.worker("w2").stop(SIGTERM, milliseconds(10000)), 0);
  auto answers = stream.get();

  auto cluster = stack.wait_for_cluster([](const json& c) { return state_of(c, "w2") == "left"; },
                                        milliseconds(5000), "w2 left");
  EXPECT_EQ(state_of(cluster, "w1"), "up");
  EXPECT_EQ(total(cluster, "nodes_up"), 1);
  EXPECT_EQ(counter(cluster, "w2", "redispatched"), 0) << cluster.dump();
  int w1_before = counter(cluster, "w1", "completed");

  auto more = send_requests(stack, 5, 1, 1000);
  answers.insert(answers.end(), more.begin(), more.end());
  auto tasks = expect_all_detections(answers);
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(requests + 5));
  expect_rows_match(stack.dsn(), tasks);
  cluster = stack.cluster_json();
  EXPECT_EQ(counter(cluster, "w1", "completed"), w1_before + 5) << cluster.dump();
  EXPECT_EQ(total(cluster, "completed"), requests + 5) << cluster.dump();
}

} // namespace
} // namespace imgproc::testing::e2e
