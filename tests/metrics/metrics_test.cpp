#include "metrics/metrics.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using imgproc::metrics::registry;
using labels = std::map<std::string, std::string>;

/// One sample line of the text format: `name{a="x",b="y"} value`.
struct sample_line {
  std::string name;
  labels label;
  double value = 0;
};

std::optional<sample_line> parse_line(const std::string& line) {
  if (line.empty() || line[0] == '#') {
    return std::nullopt;
  }
  sample_line s;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') {
    s.name += line[i++];
  }
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::string key;
      while (i < line.size() && line[i] != '=') {
        key += line[i++];
      }
      i += 2; // ="
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
        ++i;
      }
      ++i; // closing quote
      if (i < line.size() && line[i] == ',') {
        ++i;
      }
      s.label[key] = value;
    }
    ++i; // }
  }
  s.value = std::strtod(line.c_str() + i, nullptr);
  return s;
}

/// The value of the series `name{labels}` in a scrape, if present exactly once.
std::optional<double> value_of(const std::string& text, const std::string& name,
                               const labels& label) {
  std::istringstream in(text);
  std::string line;
  std::optional<double> found;
  int hits = 0;
  while (std::getline(in, line)) {
    auto s = parse_line(line);
    if (s && s->name == name && s->label == label) {
      found = s->value;
      ++hits;
    }
  }
  return hits == 1 ? found : std::nullopt;
}

int count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      ++n;
    }
  }
  return n;
}

TEST(metrics_registry, CafBucketsAreNewerCafsDefaults) {
  const std::vector<double> expected{1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 5};
  EXPECT_EQ(imgproc::metrics::caf_buckets(), expected);
}

TEST(metrics_registry, BothDispatchRefusalReasonsAreExportedAtZeroFromTheStart) {
  registry r("n1");
  const auto fresh = r.scrape();
  for (const char* reason : {"queue_full", "no_nodes"})
    EXPECT_EQ(
        value_of(fresh, "imgproc_dispatch_rejected_total", {{"node", "n1"}, {"reason", reason}}),
        0.0)
        << reason;
}

TEST(metrics_registry, CountersMoveByExactlyTheExpectedAmounts) {
  registry r("n1");
  EXPECT_EQ(r.node(), "n1");
  const labels node{{"node", "n1"}};
  const auto before = r.scrape();
  // Single-series families exist from the start, at 0.
  EXPECT_EQ(value_of(before, "imgproc_pipeline_reloads_total", node), 0.0);
  EXPECT_EQ(value_of(before, "caf_middleman_outbound_bytes_total", node), 0.0);
  EXPECT_FALSE(value_of(before, "imgproc_http_requests_total",
                        {{"node", "n1"}, {"route", "/x"}, {"status", "200"}}));

  r.http_request("/x", 200, 0.01);
  r.http_request("/x", 200, 0.02);
  r.http_request("/x", 500, 0.03);
  r.http_in_flight(+1);
  r.http_in_flight(+1);
  r.http_in_flight(-1);
  r.task_finished(7, "detected");
  r.task_finished(7, "detected");
  r.task_finished(8, "failed");
  r.step_duration("resize", 0.004);
  r.ml_call(0.1, true);
  r.ml_call(0.2, false);
  r.db_write("create", 0.001, true);
  r.db_write("create", 0.002, false);
  r.pipeline_reload();
  r.dispatch_state(5, 2);
  r.dispatch_rejected("queue_full");
  r.dispatch_rejected("queue_full");
  r.nodes_up(3);
  r.link_out(100, 0.001);
  r.link_out(50, 0.002);
  r.link_in(70, 0.003);

  const auto t = r.scrape();
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "n1"}, {"route", "/x"}, {"status", "200"}}),
            2.0);
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "n1"}, {"route", "/x"}, {"status", "500"}}),
            1.0);
  EXPECT_EQ(
      value_of(t, "imgproc_http_request_duration_seconds_count", {{"node", "n1"}, {"route", "/x"}}),
      3.0);
  EXPECT_NEAR(
      *value_of(t, "imgproc_http_request_duration_seconds_sum", {{"node", "n1"}, {"route", "/x"}}),
      0.06, 1e-9);
  EXPECT_EQ(value_of(t, "imgproc_http_request_duration_seconds_bucket",
                     {{"node", "n1"}, {"route", "/x"}, {"le", "0.01"}}),
            1.0);
  EXPECT_EQ(value_of(t, "imgproc_http_requests_in_flight", node), 1.0);
  EXPECT_EQ(value_of(t, "imgproc_tasks_total",
                     {{"node", "n1"}, {"pipeline", "7"}, {"outcome", "detected"}}),
            2.0);
  EXPECT_EQ(value_of(t, "imgproc_tasks_total",
                     {{"node", "n1"}, {"pipeline", "8"}, {"outcome", "failed"}}),
            1.0);
  EXPECT_EQ(
      value_of(t, "imgproc_step_duration_seconds_count", {{"node", "n1"}, {"handler", "resize"}}),
      1.0);
  EXPECT_EQ(value_of(t, "imgproc_ml_call_duration_seconds_count", node), 2.0);
  EXPECT_EQ(value_of(t, "imgproc_ml_call_failures_total", node), 1.0);
  EXPECT_EQ(value_of(t, "imgproc_db_write_duration_seconds_count",
                     {{"node", "n1"}, {"operation", "create"}}),
            2.0);
  EXPECT_EQ(
      value_of(t, "imgproc_db_write_failures_total", {{"node", "n1"}, {"operation", "create"}}),
      1.0);
  EXPECT_EQ(value_of(t, "imgproc_pipeline_reloads_total", node), 1.0);
  EXPECT_EQ(value_of(t, "imgproc_dispatch_queue_length", node), 5.0);
  EXPECT_EQ(value_of(t, "imgproc_dispatch_in_flight", node), 2.0);
  EXPECT_EQ(
      value_of(t, "imgproc_dispatch_rejected_total", {{"node", "n1"}, {"reason", "queue_full"}}),
      2.0);
  EXPECT_EQ(value_of(t, "imgproc_cluster_nodes_up", node), 3.0);
  EXPECT_EQ(value_of(t, "caf_middleman_outbound_messages_total", node), 2.0);
  EXPECT_EQ(value_of(t, "caf_middleman_outbound_bytes_total", node), 150.0);
  EXPECT_EQ(value_of(t, "caf_middleman_inbound_messages_total", node), 1.0);
  EXPECT_EQ(value_of(t, "caf_middleman_inbound_bytes_total", node), 70.0);
  EXPECT_EQ(value_of(t, "caf_middleman_serialization_time_seconds_count", node), 2.0);
  EXPECT_EQ(value_of(t, "caf_middleman_deserialization_time_seconds_count", node), 1.0);

  // One more of each moves by exactly one.
  r.pipeline_reload();
  r.http_request("/x", 200, 0.01);
  const auto after = r.scrape();
  EXPECT_EQ(value_of(after, "imgproc_pipeline_reloads_total", node), 2.0);
  EXPECT_EQ(value_of(after, "imgproc_http_requests_total",
                     {{"node", "n1"}, {"route", "/x"}, {"status", "500"}}),
            1.0);
  EXPECT_EQ(value_of(after, "imgproc_http_requests_total",
                     {{"node", "n1"}, {"route", "/x"}, {"status", "200"}}),
            3.0);
}

TEST(metrics_registry, EveryCounterEndsInTotalAndHasOneHelpAndType) {
  registry r("n1");
  r.actor("a")->rejected();
  r.http_request("/x", 200, 0.01);
  r.task_finished(1, "processed");
  r.dispatch_rejected("no_nodes");
  r.db_write("fail", 0.1, false);
  const auto t = r.scrape();
  std::istringstream in(t);
  std::string line;
  std::map<std::string, int> types;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      ++types[name];
      if (type == "counter") {
        EXPECT_GE(name.size(), 6u) << name;
        EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
      }
    }
  }
  EXPECT_GE(types.size(), 20u);
  for (const auto& [name, n] : types) {
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(count_lines_starting(t, "# HELP " + name + " "), 1) << name;
  }
}

TEST(metrics_actor_meter, MailboxSizeAndTimeFollowTheStamps) {
  registry r("n1");
  auto m = r.actor("decoder");
  EXPECT_EQ(r.actor("decoder"), m);
  EXPECT_NE(r.actor("preprocessor"), m);
  const labels l{{"node", "n1"}, {"name", "decoder"}};

  m->sent();
  m->sent();
  m->sent();
  EXPECT_EQ(value_of(r.scrape(), "caf_actor_mailbox_size", l), 3.0);

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto s1 = m->begin(true);
  m->handled(s1, false);
  const auto s2 = m->begin(true);
  m->handled(s2, true);
  auto t = r.scrape();
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_size", l), 1.0);
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_time_seconds_count", l), 2.0);
  EXPECT_GE(*value_of(t, "caf_actor_mailbox_time_seconds_sum", l), 0.04);
  EXPECT_EQ(value_of(t, "caf_actor_processing_time_seconds_count", l), 2.0);
  EXPECT_EQ(value_of(t, "caf_actor_processed_messages_total", l), 2.0);
  EXPECT_EQ(value_of(t, "caf_actor_failed_messages_total", l), 1.0);

  // An unstamped message neither pops a stamp nor observes mailbox time.
  m->handled(m->begin(false), false);
  t = r.scrape();
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_size", l), 1.0);
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_time_seconds_count", l), 2.0);
  EXPECT_EQ(value_of(t, "caf_actor_processed_messages_total", l), 3.0);

  // More stamped handlings than sends: the size stays at 0.
  m->begin(true);
  m->begin(true);
  m->begin(true);
  t = r.scrape();
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_size", l), 0.0);
  EXPECT_EQ(value_of(t, "caf_actor_mailbox_time_seconds_count", l), 3.0);

  m->actor_started();
  m->actor_started();
  m->actor_stopped();
  m->rejected();
  t = r.scrape();
  EXPECT_EQ(value_of(t, "caf_system_running_actors", l), 1.0);
  EXPECT_EQ(value_of(t, "caf_system_rejected_messages_total", l), 1.0);
  m->actor_stopped();
  m->actor_stopped();
  EXPECT_EQ(value_of(r.scrape(), "caf_system_running_actors", l), 0.0);
  // The other kind's series are separate.
  EXPECT_EQ(
      value_of(t, "caf_actor_processed_messages_total", {{"node", "n1"}, {"name", "preprocessor"}}),
      0.0);
}

TEST(metrics_actor_meter, LostMessagesCannotGrowTheStampsForever) {
  registry r("n1");
  auto m = r.actor("sink");
  for (int i = 0; i < 100005; ++i) {
    m->sent();
  }
  EXPECT_EQ(value_of(r.scrape(), "caf_actor_mailbox_size", {{"node", "n1"}, {"name", "sink"}}),
            100000.0);
}

TEST(metrics_actor_meter, CountsExactlyUnderConcurrentUse) {
  registry r("n1");
  auto m = r.actor("busy");
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        m->sent();
        m->handled(m->begin(true), i % 2 == 0);
        r.http_request("/c", 200, 0.0);
      }
    });
  }
  for (auto& t : pool) {
    t.join();
  }
  const labels l{{"node", "n1"}, {"name", "busy"}};
  const auto text = r.scrape();
  EXPECT_EQ(value_of(text, "caf_actor_processed_messages_total", l), threads * per_thread);
  EXPECT_EQ(value_of(text, "caf_actor_failed_messages_total", l), threads * per_thread / 2);
  EXPECT_EQ(value_of(text, "caf_actor_mailbox_size", l), 0.0);
  EXPECT_EQ(value_of(text, "caf_actor_mailbox_time_seconds_count", l), threads * per_thread);
  EXPECT_EQ(value_of(text, "imgproc_http_requests_total",
                     {{"node", "n1"}, {"route", "/c"}, {"status", "200"}}),
            threads * per_thread);
}

TEST(metrics_remote, SameFamilyAppearsOnceWithBothNodesSeries) {
  registry gateway("gw");
  registry worker("w1");
  gateway.http_request("/process-image", 200, 0.1);
  worker.http_request("/process-image", 200, 0.2);
  worker.http_request("/process-image", 200, 0.3);
  worker.actor("decoder")->rejected();
  gateway.import_remote("w1", worker.export_json());

  auto t = gateway.scrape();
  EXPECT_EQ(count_lines_starting(t, "# TYPE imgproc_http_requests_total "), 1);
  EXPECT_EQ(count_lines_starting(t, "# HELP imgproc_http_requests_total "), 1);
  EXPECT_EQ(count_lines_starting(t, "# TYPE process_open_fds "), 1);
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "gw"}, {"route", "/process-image"}, {"status", "200"}}),
            1.0);
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "w1"}, {"route", "/process-image"}, {"status", "200"}}),
            2.0);
  EXPECT_EQ(value_of(t, "imgproc_http_request_duration_seconds_count",
                     {{"node", "w1"}, {"route", "/process-image"}}),
            2.0);
  EXPECT_TRUE(value_of(t, "process_open_fds", {{"node", "w1"}}));
  EXPECT_TRUE(value_of(t, "process_open_fds", {{"node", "gw"}}));
  // A family only the worker has is served too.
  EXPECT_EQ(
      value_of(t, "caf_system_rejected_messages_total", {{"node", "w1"}, {"name", "decoder"}}),
      1.0);

  // A newer report replaces the old one: no duplicate series.
  worker.http_request("/process-image", 200, 0.3);
  gateway.import_remote("w1", worker.export_json());
  t = gateway.scrape();
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "w1"}, {"route", "/process-image"}, {"status", "200"}}),
            3.0);

  // A failed import keeps the previous report.
  EXPECT_THROW(gateway.import_remote("w1", "{"), std::invalid_argument);
  EXPECT_EQ(value_of(gateway.scrape(), "imgproc_http_requests_total",
                     {{"node", "w1"}, {"route", "/process-image"}, {"status", "200"}}),
            3.0);

  gateway.forget_remote("w1");
  t = gateway.scrape();
  EXPECT_FALSE(value_of(t, "process_open_fds", {{"node", "w1"}}));
  EXPECT_FALSE(value_of(t, "imgproc_http_requests_total",
                        {{"node", "w1"}, {"route", "/process-image"}, {"status", "200"}}));
  EXPECT_EQ(value_of(t, "imgproc_http_requests_total",
                     {{"node", "gw"}, {"route", "/process-image"}, {"status", "200"}}),
            1.0);
}

TEST(metrics_remote, ConflictingTypeOrDuplicateSeriesIsDropped) {
  registry gateway("gw");
  gateway.pipeline_reload();
  // A remote that calls the gateway's counter a gauge, and repeats the gateway's own series.
  const std::string json = R"({"families":[
    {"name":"imgproc_pipeline_reloads_total","help":"x","type":"gauge",
     "metrics":[{"labels":{"node":"w"},"value":5}]},
    {"name":"imgproc_cluster_nodes_up","help":"x","type":"gauge",
     "metrics":[{"labels":{"node":"gw"},"value":9},{"labels":{"node":"w"},"value":4}]}]})";
  gateway.import_remote("w", json);
  const auto t = gateway.scrape();
  EXPECT_EQ(value_of(t, "imgproc_pipeline_reloads_total", {{"node", "gw"}}), 1.0);
  EXPECT_FALSE(value_of(t, "imgproc_pipeline_reloads_total", {{"node", "w"}}));
  EXPECT_EQ(value_of(t, "imgproc_cluster_nodes_up", {{"node", "gw"}}), 0.0);
  EXPECT_EQ(value_of(t, "imgproc_cluster_nodes_up", {{"node", "w"}}), 4.0);
}

TEST(metrics_json, ExportImportRoundTrip) {
  registry a("a");
  registry b("b");
  a.http_request("/r", 404, 0.7);
  a.step_duration("detect", 2.5);
  a.step_duration("detect", 10.0); // beyond the last finite bucket
  a.actor("decoder")->sent();
  a.dispatch_state(3, 1);
  a.link_out(1234567, 0.00002);

  const auto exported = a.export_json();
  const auto text_a = a.scrape();
  b.import_remote("a", exported);
  const auto text_b = b.scrape();

  // Every series of a (but the process metrics, which moved in between) is in b's scrape.
  std::istringstream in(text_a);
  std::string line;
  int compared = 0;
  while (std::getline(in, line)) {
    auto s = parse_line(line);
    if (!s || s->name.rfind("process_", 0) == 0) {
      continue;
    }
    EXPECT_EQ(value_of(text_b, s->name, s->label), s->value) << line;
    ++compared;
  }
  EXPECT_GT(compared, 50);

  // The JSON itself: compact, with +Inf as a string.
  const auto doc = nlohmann::json::parse(exported);
  ASSERT_TRUE(doc.at("families").is_array());
  EXPECT_EQ(exported.find('\n'), std::string::npos);
  bool saw_inf = false;
  for (const auto& f : doc.at("families")) {
    if (f.at("name") == "imgproc_step_duration_seconds") {
      EXPECT_EQ(f.at("type"), "histogram");
      const auto& m = f.at("metrics").at(0);
      EXPECT_EQ(m.at("count"), 2);
      EXPECT_EQ(m.at("labels").at("handler"), "detect");
      EXPECT_EQ(m.at("buckets").back().at(0), "+Inf");
      EXPECT_EQ(m.at("buckets").back().at(1), 2);
      saw_inf = true;
    }
  }
  EXPECT_TRUE(saw_inf);
}

TEST(metrics_json, ImportsSummariesUntypedAndSpecialValues) {
  registry r("gw");
  r.import_remote("w", R"({"families":[
    {"name":"w_latency_seconds","help":"a \\ help\nwith a break","type":"summary",
     "metrics":[{"labels":{"node":"w","q":"a\"b"},"count":4,"sum":1.5,
                 "quantiles":[[0.5,0.25],[0.99,"NaN"]]}]},
    {"name":"w_thing","help":"u","type":"untyped","metrics":[{"labels":{},"value":"-Inf"}]},
    {"name":"w_temp","help":"g","type":"gauge","metrics":[{"labels":{"node":"w"},"value":-3}]}
  ]})");
  const auto t = r.scrape();
  EXPECT_EQ(value_of(t, "w_latency_seconds_count", {{"node", "w"}, {"q", "a\"b"}}), 4.0);
  EXPECT_EQ(value_of(t, "w_latency_seconds", {{"node", "w"}, {"q", "a\"b"}, {"quantile", "0.5"}}),
            0.25);
  EXPECT_EQ(value_of(t, "w_temp", {{"node", "w"}}), -3.0);
  EXPECT_EQ(count_lines_starting(t, "# HELP w_latency_seconds a \\\\ help\\nwith a break"), 1);
  EXPECT_EQ(count_lines_starting(t, "w_thing -Inf"), 1);
}

TEST(metrics_json, HostileInputIsRefused) {
  registry r("gw");
  const std::string ok_metric = R"({"labels":{"node":"w"},"value":1})";
  auto family = [](const std::string& name, const std::string& type, const std::string& metric) {
    return R"({"families":[{"name":")" + name + R"(","help":"h","type":")" + type +
           R"(","metrics":[)" + metric + "]}]}";
  };
  r.import_remote("w", family("good_total", "counter", ok_metric)); // the baseline is accepted

  std::vector<std::string> bad{
      "",
      "not json",
      "{",
      "[]",
      "null",
      "42",
      R"({"families":5})",
      R"({"families":[5]})",
      R"({"families":[{}]})",
      R"({"families":[{"name":1,"help":"h","type":"counter","metrics":[]}]})",
      R"({"families":[{"name":"x","help":["h"],"type":"counter","metrics":[]}]})",
      R"({"families":[{"name":"x","help":"h","type":"counter","metrics":{}}]})",
      R"({"families":[{"name":"x","help":"h","type":"counter"}]})",
      family("x", "weird", ok_metric),
      family("1bad", "counter", ok_metric),
      family("bad name", "counter", ok_metric),
      family("x", "counter", "5"),
      family("x", "counter", R"({"labels":[],"value":1})"),
      family("x", "counter", R"({"labels":{"__reserved":"v"},"value":1})"),
      family("x", "counter", R"({"labels":{"bad-name":"v"},"value":1})"),
      family("x", "counter", R"({"labels":{"a":5},"value":1})"),
      family("x", "counter", R"({"labels":{"a":"nul\u0000"},"value":1})"),
      family("x", "counter", R"({"labels":{},"value":"12"})"),
      family("x", "counter", R"({"labels":{},"value":null})"),
      family("x", "counter", R"({"labels":{},"value":true})"),
      family("x", "counter", R"({"labels":{}})"),
      family("x", "histogram", R"({"labels":{},"count":-1,"sum":0,"buckets":[]})"),
      family("x", "histogram", R"({"labels":{},"count":1.5,"sum":0,"buckets":[]})"),
      family("x", "histogram", R"({"labels":{},"count":1e30,"sum":0,"buckets":[]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[[1,2],[0.5,2]]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[[1,2],[2,1]]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[[1,3]]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[["NaN",1]]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[[1]]})"),
      family("x", "histogram", R"({"labels":{},"count":2,"sum":0,"buckets":[5]})"),
      family("x", "histogram", R"({"labels":{"le":"1"},"count":0,"sum":0,"buckets":[]})"),
      family("x", "summary", R"({"labels":{},"count":1,"sum":0,"quantiles":[[2,1]]})"),
      family("x", "summary", R"({"labels":{"quantile":"1"},"count":1,"sum":0,"quantiles":[]})"),
      R"({"families":[{"name":"x","help":"h","type":"gauge","metrics":[]},)"
      R"({"name":"x","help":"h","type":"gauge","metrics":[]}]})",
      std::string(1000000, '['),
      std::string(100000, '[') + std::string(100000, ']'),
      [] {
        std::string s;
        for (int i = 0; i < 100000; ++i) {
          s += R"({"a":)";
        }
        return s + "1" + std::string(100000, '}');
      }(),
      R"({"families":[[[[[[[[[[[[1]]]]]]]]]]]]})",
      std::string(17u << 20, ' '),
      std::string("{\"families\":[]}\xff"),
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THROW(r.import_remote("w", bad[i]), std::invalid_argument)
        << "input " << i << ": " << bad[i].substr(0, 120);
  }
  // Nothing was replaced by the refused inputs.
  EXPECT_EQ(value_of(r.scrape(), "good_total", {{"node", "w"}}), 1.0);

  // Deep nesting inside a string is just text, and braces in strings do not count.
  r.import_remote(
      "w", family("good_total", "counter",
                  R"({"labels":{"node":"w","a":")" + std::string(1000, '[') + R"("},"value":2})"));
  EXPECT_EQ(value_of(r.scrape(), "good_total", {{"node", "w"}, {"a", std::string(1000, '[')}}),
            2.0);
}

TEST(metrics_process, PresentAndPlausible) {
  registry r("n1");
  const labels node{{"node", "n1"}};
  // Keep some CPU time and an extra descriptor visible.
  volatile double x = 0;
  for (int i = 0; i < 2000000; ++i) {
    x = x + i * 0.5;
  }
  FILE* extra = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(extra, nullptr);
  const auto t = r.scrape();
  std::fclose(extra);

  const auto fds = value_of(t, "process_open_fds", node);
  const auto rss = value_of(t, "process_resident_memory_bytes", node);
  const auto cpu = value_of(t, "process_cpu_seconds_total", node);
  const auto start = value_of(t, "process_start_time_seconds", node);
  ASSERT_TRUE(fds && rss && cpu && start) << t;
  EXPECT_GE(*fds, 4.0); // stdin, stdout, stderr, the extra one
  EXPECT_LT(*fds, 100000.0);
  EXPECT_GT(*rss, 1024.0 * 1024.0);
  EXPECT_LT(*rss, 64.0 * 1024 * 1024 * 1024);
  EXPECT_GE(*cpu, 0.0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*start, now + 2.0);
  EXPECT_GT(*start, now - 7 * 24 * 3600.0);
  EXPECT_EQ(count_lines_starting(t, "# TYPE process_cpu_seconds_total counter"), 1);
}

TEST(metrics_process_registry, SetAndGet) {
  const auto previous = registry::process_registry();
  auto r = std::make_shared<registry>("p");
  registry::set_process_registry(r);
  EXPECT_EQ(registry::process_registry(), r);
  registry::set_process_registry(nullptr);
  EXPECT_EQ(registry::process_registry(), nullptr);
  registry::set_process_registry(previous);
}

TEST(metrics_promtool, ScrapePassesPromtoolCheckMetrics) {
  const char* promtool = "/usr/bin/promtool";
  ASSERT_EQ(access(promtool, X_OK), 0)
      << promtool << " is missing: scripts/setup installs it (Debian package prometheus)";

  registry gateway("gw");
  registry worker("w1");
  for (auto* r : {&gateway, &worker}) {
    r->http_request("/process-image", 200, 0.05);
    r->http_request("/health", 503, 0.0001);
    r->http_in_flight(1);
    r->task_finished(3, "undetected");
    r->step_duration("normalize", 0.002);
    r->ml_call(0.3, false);
    r->db_write("finish", 0.01, true);
    r->db_write("fail", 0.01, false);
    r->pipeline_reload();
    r->dispatch_state(2, 1);
    r->dispatch_rejected("no_nodes");
    r->nodes_up(1);
    r->link_out(10, 1e-6);
    r->link_in(20, 2e-6);
    auto m = r->actor("job_runner");
    m->sent();
    m->handled(m->begin(true), true);
    m->actor_started();
    m->rejected();
  }
  gateway.import_remote("w1", worker.export_json());
  gateway.import_remote("w2", R"({"families":[{"name":"w_latency_seconds",
      "help":"odd \\ help\n","type":"summary","metrics":[{"count":1,"sum":2,
      "labels":{"node":"w2","v":"a\"b\\c\nd"},"quantiles":[[0.5,"NaN"]]}]}]})");
  const auto text = gateway.scrape();

  char path[] = "/tmp/imgproc_metrics_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) {
    output.append(buffer, n);
  }
  const int status = pclose(pipe);
  std::remove(path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool said:\n" << output << "\non:\n" << text;
  EXPECT_EQ(output, "");
}

} // namespace
