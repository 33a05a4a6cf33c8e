#include "metrics/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <prometheus/check_names.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace imgproc::metrics {

namespace {

using steady = std::chrono::steady_clock;
using json = nlohmann::json;
using prometheus::ClientMetric;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// Send stamps kept per actor kind: a message that is never handled (lost, or its handler forgot
/// begin(true)) must not grow memory forever. Past the cap the oldest stamp is dropped.
constexpr std::size_t max_stamps = 100000;

double seconds_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// -- families and their series ------------------------------------------------------------------

template <typename T>
Family<T>& make_family(prometheus::detail::Builder<T> builder, prometheus::Registry& registry,
                       const std::string& node, const std::string& name, const std::string& help) {
  return builder.Name(name).Help(help).Labels({{"node", node}}).Register(registry);
}

/// The series of one family by label values, cached: prometheus::Family::Add builds a new metric
/// (for a histogram, its bucket vectors) on every call before it looks the labels up.
template <typename T> class series {
public:
  series(Family<T>& family, std::vector<std::string> label_names)
      : family_(family), names_(std::move(label_names)) {}

  template <typename... Args> T& at(const std::vector<std::string>& values, const Args&... args) {
    std::string key;
    for (const auto& v : values) {
      key += v;
      key += '\0';
    }
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      return *it->second;
    }
    prometheus::Labels labels;
    for (std::size_t i = 0; i < names_.size() && i < values.size(); ++i) {
      labels.emplace(names_[i], values[i]);
    }
    T& metric = family_.Add(labels, args...);
    cache_.emplace(std::move(key), &metric);
    return metric;
  }

private:
  Family<T>& family_;
  const std::vector<std::string> names_;
  std::mutex mutex_;
  std::unordered_map<std::string, T*> cache_;
};

// -- actor meters -------------------------------------------------------------------------------

class meter final : public actor_meter {
public:
  struct parts {
    Histogram* processing_time;
    Histogram* mailbox_time;
    Gauge* mailbox_size;
    Counter* processed;
    Counter* failed;
    Gauge* running;
    Counter* rejected;
  };

  /// `keep` owns the families the parts live in, should the meter outlive its registry.
  meter(std::shared_ptr<prometheus::Registry> keep, parts p) : keep_(std::move(keep)), p_(p) {}

  void sent() override {
    const auto now = steady::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stamps_.size() >= max_stamps) {
      stamps_.pop_front();
    }
    stamps_.push_back(now);
    p_.mailbox_size->Set(static_cast<double>(stamps_.size()));
  }

  steady::time_point begin(bool stamped) override {
    const auto now = steady::now();
    if (!stamped) {
      return now;
    }
    std::optional<steady::time_point> sent_at;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!stamps_.empty()) {
        sent_at = stamps_.front();
        stamps_.pop_front();
        p_.mailbox_size->Set(static_cast<double>(stamps_.size()));
      }
    }
    if (sent_at) {
      p_.mailbox_time->Observe(std::max(0.0, seconds_between(*sent_at, now)));
    }
    return now;
  }

  void handled(steady::time_point start, bool failed) override {
    p_.processing_time->Observe(std::max(0.0, seconds_between(start, steady::now())));
    p_.processed->Increment();
    if (failed) {
      p_.failed->Increment();
    }
  }

  void actor_started() override {
    std::lock_guard<std::mutex> lock(mutex_);
    p_.running->Increment();
  }

  void actor_stopped() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (p_.running->Value() >= 1) {
      p_.running->Decrement();
    }
  }

  void rejected() override { p_.rejected->Increment(); }

private:
  std::shared_ptr<prometheus::Registry> keep_;
  parts p_;
  std::mutex mutex_;
  std::deque<steady::time_point> stamps_;
};

// -- process metrics ----------------------------------------------------------------------------

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

struct process_sample {
  std::optional<double> cpu_seconds;
  std::optional<double> resident_bytes;
  std::optional<double> open_fds;
  std::optional<double> start_time;
};

std::optional<double> boot_time() {
  auto stat = read_file("/proc/stat");
  if (!stat) {
    return std::nullopt;
  }
  std::istringstream lines(*stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr);
    }
  }
  return std::nullopt;
}

process_sample sample_process() {
  process_sample s;
  const long ticks = sysconf(_SC_CLK_TCK);
  // /proc/self/stat: "pid (comm) state ...": comm may hold spaces and parentheses, so fields
  // are counted from the last ')'. Field 3 (state) is token 0 after it.
  if (auto stat = read_file("/proc/self/stat"); stat && ticks > 0) {
    const auto close = stat->rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(stat->substr(close + 1));
      std::vector<std::string> tokens{std::istream_iterator<std::string>(fields),
                                      std::istream_iterator<std::string>()};
      if (tokens.size() > 19) {
        const double utime = std::strtod(tokens[11].c_str(), nullptr); // field 14
        const double stime = std::strtod(tokens[12].c_str(), nullptr); // field 15
        s.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
        if (auto btime = boot_time()) {
          const double start_ticks = std::strtod(tokens[19].c_str(), nullptr); // field 22
          s.start_time = *btime + start_ticks / static_cast<double>(ticks);
        }
      }
    }
  }
  if (auto statm = read_file("/proc/self/statm")) {
    std::istringstream fields(*statm);
    double size = 0;
    double resident = 0;
    const long page = sysconf(_SC_PAGESIZE);
    if (fields >> size >> resident && page > 0) {
      s.resident_bytes = resident * static_cast<double>(page);
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    double count = 0;
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") {
        ++count;
      }
    }
    closedir(dir);
    s.open_fds = count;
  }
  return s;
}

void add_process_family(std::vector<MetricFamily>& out, const std::string& node, const char* name,
                        const char* help, MetricType type, std::optional<double> value) {
  if (!value) {
    return;
  }
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  ClientMetric metric;
  metric.label.push_back({"node", node});
  if (type == MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  family.metric.push_back(std::move(metric));
  out.push_back(std::move(family));
}

void append_process_families(std::vector<MetricFamily>& out, const std::string& node) {
  const auto s = sample_process();
  add_process_family(out, node, "process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.", MetricType::Counter,
                     s.cpu_seconds);
  add_process_family(out, node, "process_resident_memory_bytes", "Resident memory size in bytes.",
                     MetricType::Gauge, s.resident_bytes);
  add_process_family(out, node, "process_open_fds", "Number of open file descriptors.",
                     MetricType::Gauge, s.open_fds);
  add_process_family(out, node, "process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                     s.start_time);
}

// -- merging and text ---------------------------------------------------------------------------

std::string label_key(const ClientMetric& metric) {
  auto labels = metric.label;
  std::sort(labels.begin(), labels.end());
  std::string key;
  for (const auto& l : labels) {
    key += l.name;
    key += '\0';
    key += l.value;
    key += '\0';
  }
  return key;
}

/// Families with the same name become one (first HELP and TYPE win); a family whose type differs
/// from the first one's cannot be merged and is dropped, as is a series already present.
std::vector<MetricFamily> merge(std::vector<MetricFamily> families) {
  std::vector<MetricFamily> out;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::set<std::string>> seen;
  for (auto& family : families) {
    if (family.metric.empty()) {
      continue;
    }
    auto it = index.find(family.name);
    if (it == index.end()) {
      it = index.emplace(family.name, out.size()).first;
      MetricFamily head;
      head.name = family.name;
      head.help = family.help;
      head.type = family.type;
      out.push_back(std::move(head));
      seen.emplace_back();
    }
    auto& target = out[it->second];
    if (target.type != family.type) {
      continue;
    }
    for (auto& metric : family.metric) {
      if (seen[it->second].insert(label_key(metric)).second) {
        target.metric.push_back(std::move(metric));
      }
    }
  }
  return out;
}

/// TextSerializer writes HELP verbatim: a backslash or a line break would corrupt the text.
std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// -- JSON ---------------------------------------------------------------------------------------

/// Limits for families that arrive over the network.
constexpr std::size_t max_json_bytes = 1u << 20;
constexpr int max_json_depth = 8; // root, families, family, metrics, metric, buckets, bucket
constexpr std::size_t max_families = 512;
constexpr std::size_t max_metrics_per_family = 8192;
constexpr std::size_t max_labels = 32;
constexpr std::size_t max_buckets = 512;

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Summary:
      return "summary";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Untyped:
      break;
  }
  return "untyped";
}

/// JSON has no NaN or infinities: those travel as the strings Prometheus uses.
json number(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  return v;
}

json encode(const std::vector<MetricFamily>& families) {
  json out = json::array();
  for (const auto& family : families) {
    json metrics = json::array();
    for (const auto& metric : family.metric) {
      json m = json::object();
      json labels = json::object();
      for (const auto& l : metric.label) {
        labels[l.name] = l.value;
      }
      m["labels"] = std::move(labels);
      switch (family.type) {
        case MetricType::Counter:
          m["value"] = number(metric.counter.value);
          break;
        case MetricType::Gauge:
          m["value"] = number(metric.gauge.value);
          break;
        case MetricType::Untyped:
          m["value"] = number(metric.untyped.value);
          break;
        case MetricType::Histogram: {
          m["count"] = metric.histogram.sample_count;
          m["sum"] = number(metric.histogram.sample_sum);
          json buckets = json::array();
          for (const auto& b : metric.histogram.bucket) {
            buckets.push_back(json::array({number(b.upper_bound), b.cumulative_count}));
          }
          m["buckets"] = std::move(buckets);
          break;
        }
        case MetricType::Summary: {
          m["count"] = metric.summary.sample_count;
          m["sum"] = number(metric.summary.sample_sum);
          json quantiles = json::array();
          for (const auto& q : metric.summary.quantile) {
            quantiles.push_back(json::array({number(q.quantile), number(q.value)}));
          }
          m["quantiles"] = std::move(quantiles);
          break;
        }
      }
      metrics.push_back(std::move(m));
    }
    out.push_back({{"name", family.name},
                   {"help", family.help},
                   {"type", type_name(family.type)},
                   {"metrics", std::move(metrics)}});
  }
  return json{{"families", std::move(out)}};
}

[[noreturn]] void malformed(const std::string& what) {
  throw std::invalid_argument("metrics JSON: " + what);
}

/// Rejects nesting deeper than `max` before the parser sees the text.
void check_depth(const std::string& input, int max) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : input) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) {
        malformed("nested too deeply");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

const json& member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) {
    malformed(std::string("missing \"") + key + "\"");
  }
  return *it;
}

const json& array_member(const json& object, const char* key, std::size_t max) {
  const json& value = member(object, key);
  if (!value.is_array()) {
    malformed(std::string("\"") + key + "\" is not an array");
  }
  if (value.size() > max) {
    malformed(std::string("too many entries in \"") + key + "\"");
  }
  return value;
}

std::string text(const json& value, const char* what) {
  if (!value.is_string()) {
    malformed(std::string(what) + " is not a string");
  }
  auto s = value.get<std::string>();
  if (s.find('\0') != std::string::npos) {
    malformed(std::string(what) + " holds a NUL character");
  }
  return s;
}

double to_double(const json& value, const char* what) {
  if (value.is_number()) {
    return value.get<double>();
  }
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s == "NaN") {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (s == "+Inf") {
      return std::numeric_limits<double>::infinity();
    }
    if (s == "-Inf") {
      return -std::numeric_limits<double>::infinity();
    }
  }
  malformed(std::string(what) + " is not a number");
}

std::uint64_t to_count(const json& value, const char* what) {
  if (value.is_number_unsigned()) {
    return value.get<std::uint64_t>();
  }
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  malformed(std::string(what) + " is not a non-negative integer");
}

MetricType to_type(const std::string& name) {
  static const std::map<std::string, MetricType> types{{"counter", MetricType::Counter},
                                                       {"gauge", MetricType::Gauge},
                                                       {"summary", MetricType::Summary},
                                                       {"histogram", MetricType::Histogram},
                                                       {"untyped", MetricType::Untyped}};
  auto it = types.find(name);
  if (it == types.end()) {
    malformed("unknown type \"" + name + "\"");
  }
  return it->second;
}

/// [[x, y], ...] pairs of a histogram's buckets or a summary's quantiles.
std::vector<std::pair<const json*, const json*>> pairs(const json& metric, const char* key) {
  std::vector<std::pair<const json*, const json*>> out;
  for (const auto& entry : array_member(metric, key, max_buckets)) {
    if (!entry.is_array() || entry.size() != 2) {
      malformed(std::string("an entry of \"") + key + "\" is not a pair");
    }
    out.emplace_back(&entry[0], &entry[1]);
  }
  return out;
}

ClientMetric decode_metric(const json& m, MetricType type) {
  if (!m.is_object()) {
    malformed("a metric is not an object");
  }
  ClientMetric metric;
  const json& labels = member(m, "labels");
  if (!labels.is_object() || labels.size() > max_labels) {
    malformed("\"labels\" is not an object of at most 32 labels");
  }
  for (const auto& [name, value] : labels.items()) {
    if (!prometheus::CheckLabelName(name) || (type == MetricType::Histogram && name == "le") ||
        (type == MetricType::Summary && name == "quantile")) {
      malformed("invalid label name \"" + name + "\"");
    }
    metric.label.push_back({name, text(value, "a label value")});
  }
  switch (type) {
    case MetricType::Counter:
      metric.counter.value = to_double(member(m, "value"), "\"value\"");
      break;
    case MetricType::Gauge:
      metric.gauge.value = to_double(member(m, "value"), "\"value\"");
      break;
    case MetricType::Untyped:
      metric.untyped.value = to_double(member(m, "value"), "\"value\"");
      break;
    case MetricType::Histogram: {
      auto& h = metric.histogram;
      h.sample_count = to_count(member(m, "count"), "\"count\"");
      h.sample_sum = to_double(member(m, "sum"), "\"sum\"");
      for (const auto& [le, count] : pairs(m, "buckets")) {
        ClientMetric::Bucket b;
        b.upper_bound = to_double(*le, "a bucket bound");
        b.cumulative_count = to_count(*count, "a bucket count");
        if (std::isnan(b.upper_bound) ||
            (!h.bucket.empty() && (b.upper_bound <= h.bucket.back().upper_bound ||
                                   b.cumulative_count < h.bucket.back().cumulative_count)) ||
            b.cumulative_count > h.sample_count) {
          malformed("histogram buckets out of order");
        }
        h.bucket.push_back(b);
      }
      break;
    }
    case MetricType::Summary: {
      auto& s = metric.summary;
      s.sample_count = to_count(member(m, "count"), "\"count\"");
      s.sample_sum = to_double(member(m, "sum"), "\"sum\"");
      for (const auto& [q, value] : pairs(m, "quantiles")) {
        ClientMetric::Quantile quantile;
        quantile.quantile = to_double(*q, "a quantile");
        quantile.value = to_double(*value, "a quantile value");
        if (!(quantile.quantile >= 0 && quantile.quantile <= 1)) {
          malformed("a quantile outside [0, 1]");
        }
        s.quantile.push_back(quantile);
      }
      break;
    }
  }
  return metric;
}

std::vector<MetricFamily> decode(const std::string& input) {
  if (input.size() > max_json_bytes) {
    malformed("larger than 16 MiB");
  }
  check_depth(input, max_json_depth);
  json root;
  try {
    root = json::parse(input, nullptr, /*allow_exceptions=*/false);
  } catch (const json::exception& e) {
    malformed(e.what());
  }
  if (root.is_discarded() || !root.is_object()) {
    malformed("not a JSON object");
  }
  std::vector<MetricFamily> families;
  std::set<std::string> names;
  for (const auto& f : array_member(root, "families", max_families)) {
    if (!f.is_object()) {
      malformed("a family is not an object");
    }
    MetricFamily family;
    family.name = text(member(f, "name"), "\"name\"");
    if (!prometheus::CheckMetricName(family.name)) {
      malformed("invalid metric name \"" + family.name + "\"");
    }
    if (!names.insert(family.name).second) {
      malformed("family \"" + family.name + "\" twice");
    }
    family.help = text(member(f, "help"), "\"help\"");
    family.type = to_type(text(member(f, "type"), "\"type\""));
    for (const auto& m : array_member(f, "metrics", max_metrics_per_family)) {
      family.metric.push_back(decode_metric(m, family.type));
    }
    families.push_back(std::move(family));
  }
  return families;
}

std::mutex process_registry_mutex;
std::shared_ptr<registry> process_registry_ptr; // guarded by process_registry_mutex

} // namespace

const std::vector<double>& caf_buckets() {
  static const std::vector<double> buckets{1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 5};
  return buckets;
}

struct registry::impl {
  explicit impl(std::string node_name)
      : node(std::move(node_name)), prom(std::make_shared<prometheus::Registry>()),
        processing_time(histogram("caf_actor_processing_time_seconds",
                                  "Time an actor needed to handle one message.")),
        mailbox_time(histogram("caf_actor_mailbox_time_seconds",
                               "Time a message waited between its send and its handling.")),
        mailbox_size(
            gauge("caf_actor_mailbox_size", "Messages sent to an actor, not yet handled.")),
        processed(counter("caf_actor_processed_messages_total", "Messages handled by actors.")),
        failed(counter("caf_actor_failed_messages_total",
                       "Messages whose handler answered with an error.")),
        running(gauge("caf_system_running_actors", "Actors running.")),
        rejected(counter("caf_system_rejected_messages_total",
                         "Messages refused for lack of capacity.")),
        http_requests(counter("imgproc_http_requests_total", "HTTP requests answered."),
                      {"route", "status"}),
        http_duration(histogram("imgproc_http_request_duration_seconds",
                                "Time from an HTTP request's arrival to its response."),
                      {"route"}),
        http_in_flight(
            gauge("imgproc_http_requests_in_flight", "HTTP requests being handled.").Add({})),
        tasks(counter("imgproc_tasks_total", "Tasks finished, by pipeline and outcome."),
              {"pipeline", "outcome"}),
        steps(histogram("imgproc_step_duration_seconds", "Time one pipeline step took."),
              {"handler"}),
        local_detector_duration(histogram("imgproc_local_detector_duration_seconds",
                                          "Time one local detection took, by detector."),
                                {"detector"}),
        local_detector_boxes(counter("imgproc_local_detector_boxes_total",
                                     "Boxes the local detectors answered, by detector."),
                             {"detector"}),
        ml_duration(histogram("imgproc_ml_call_duration_seconds", "Time one ML call took.")
                        .Add({}, caf_buckets())),
        ml_failures(counter("imgproc_ml_call_failures_total", "ML calls that failed.").Add({})),
        db_duration(histogram("imgproc_db_write_duration_seconds", "Time one database write took."),
                    {"operation"}),
        db_failures(counter("imgproc_db_write_failures_total", "Database writes that failed."),
                    {"operation"}),
        db_batch_rows(histogram("imgproc_db_write_batch_rows",
                                "Task row writes of different requests written together (one "
                                "statement and commit per kind).")
                          .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
        reloads(counter("imgproc_pipeline_reloads_total", "Pipeline plans (re)loaded.").Add({})),
        queue_length(gauge("imgproc_dispatch_queue_length", "Jobs waiting for a node.").Add({})),
        dispatch_in_flight(
            gauge("imgproc_dispatch_in_flight", "Jobs sent to nodes, not yet answered.").Add({})),
        dispatch_rejected(counter("imgproc_dispatch_rejected_total", "Jobs refused by dispatch."),
                          {"reason"}),
        nodes_up(gauge("imgproc_cluster_nodes_up", "Worker nodes reachable.").Add({})),
        async_tasks(counter("imgproc_async_tasks_total",
                            "Asynchronous tasks claimed, released or requeued by this process."),
                    {"event"}),
        async_running(
            gauge("imgproc_async_running", "Claimed asynchronous tasks running now.").Add({})),
        out_messages(counter("caf_middleman_outbound_messages_total",
                             "Job and result messages sent to other nodes.")
                         .Add({})),
        out_bytes(counter("caf_middleman_outbound_bytes_total",
                          "Payload bytes of the messages sent to other nodes.")
                      .Add({})),
        in_messages(counter("caf_middleman_inbound_messages_total",
                            "Job and result messages received from other nodes.")
                        .Add({})),
        in_bytes(counter("caf_middleman_inbound_bytes_total",
                         "Payload bytes of the messages received from other nodes.")
                     .Add({})),
        serialization(histogram("caf_middleman_serialization_time_seconds",
                                "Time to serialize one message for another node.")
                          .Add({}, caf_buckets())),
        deserialization(histogram("caf_middleman_deserialization_time_seconds",
                                  "Time to deserialize one message from another node.")
                            .Add({}, caf_buckets())) {}

  Family<Counter>& counter(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildCounter(), *prom, node, name, help);
  }
  Family<Gauge>& gauge(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildGauge(), *prom, node, name, help);
  }
  Family<Histogram>& histogram(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildHistogram(), *prom, node, name, help);
  }

  /// This process's families, process metrics refreshed.
  std::vector<MetricFamily> collect() {
    auto families = prom->Collect();
    append_process_families(families, node);
    return families;
  }

  const std::string node;
  const std::shared_ptr<prometheus::Registry> prom;

  Family<Histogram>& processing_time;
  Family<Histogram>& mailbox_time;
  Family<Gauge>& mailbox_size;
  Family<Counter>& processed;
  Family<Counter>& failed;
  Family<Gauge>& running;
  Family<Counter>& rejected;

  series<Counter> http_requests;
  series<Histogram> http_duration;
  Gauge& http_in_flight;
  series<Counter> tasks;
  series<Histogram> steps;
  series<Histogram> local_detector_duration;
  series<Counter> local_detector_boxes;
  Histogram& ml_duration;
  Counter& ml_failures;
  series<Histogram> db_duration;
  series<Counter> db_failures;
  Histogram& db_batch_rows;
  Counter& reloads;
  Gauge& queue_length;
  Gauge& dispatch_in_flight;
  series<Counter> dispatch_rejected;
  Gauge& nodes_up;
  series<Counter> async_tasks;
  Gauge& async_running;
  Counter& out_messages;
  Counter& out_bytes;
  Counter& in_messages;
  Counter& in_bytes;
  Histogram& serialization;
  Histogram& deserialization;

  std::mutex meters_mutex;
  std::map<std::string, std::shared_ptr<meter>> meters;

  struct remote_report {
    std::vector<MetricFamily> families;
    std::chrono::steady_clock::time_point received;
  };
  std::mutex remote_mutex;
  std::map<std::string, remote_report> remote;
};

/// A node's report older than this is dropped from scrapes: nodes report every 2 s, so one
/// that stopped (or a late report that arrived after forget_remote) does not linger.
constexpr std::chrono::seconds remote_report_ttl{10};

registry::registry(std::string node) : impl_(std::make_unique<impl>(std::move(node))) {
  // Both reasons are exported from the start at 0, so rate() and alerts on them work before the
  // first refusal (and a dashboard query never names a series that does not exist yet).
  for (const char* reason : {"queue_full", "no_nodes"})
    impl_->dispatch_rejected.at({reason});
}

registry::~registry() = default;

const std::string& registry::node() const {
  return impl_->node;
}

std::shared_ptr<actor_meter> registry::actor(const std::string& name) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.meters_mutex);
  auto& slot = d.meters[name];
  if (!slot) {
    const prometheus::Labels labels{{"name", name}};
    meter::parts p{&d.processing_time.Add(labels, caf_buckets()),
                   &d.mailbox_time.Add(labels, caf_buckets()),
                   &d.mailbox_size.Add(labels),
                   &d.processed.Add(labels),
                   &d.failed.Add(labels),
                   &d.running.Add(labels),
                   &d.rejected.Add(labels)};
    slot = std::make_shared<meter>(d.prom, p);
  }
  return slot;
}

void registry::http_request(const std::string& route, int status, double seconds) {
  impl_->http_requests.at({route, std::to_string(status)}).Increment();
  impl_->http_duration.at({route}, caf_buckets()).Observe(seconds);
}

void registry::http_in_flight(int delta) {
  impl_->http_in_flight.Increment(delta);
}

void registry::task_finished(int pipeline_id, const std::string& outcome) {
  impl_->tasks.at({std::to_string(pipeline_id), outcome}).Increment();
}

void registry::step_duration(const std::string& handler, double seconds) {
  impl_->steps.at({handler}, caf_buckets()).Observe(seconds);
}

void registry::local_detection(const std::string& detector, double seconds, std::size_t boxes) {
  impl_->local_detector_duration.at({detector}, caf_buckets()).Observe(seconds);
  impl_->local_detector_boxes.at({detector}).Increment(static_cast<double>(boxes));
}

void registry::ml_call(double seconds, bool ok) {
  impl_->ml_duration.Observe(seconds);
  if (!ok) {
    impl_->ml_failures.Increment();
  }
}

void registry::db_write(const std::string& operation, double seconds, bool ok) {
  impl_->db_duration.at({operation}, caf_buckets()).Observe(seconds);
  if (!ok) {
    impl_->db_failures.at({operation}).Increment();
  }
}

void registry::db_write_batch(std::size_t rows) {
  impl_->db_batch_rows.Observe(static_cast<double>(rows));
}

void registry::pipeline_reload() {
  impl_->reloads.Increment();
}

void registry::dispatch_state(std::size_t queue_length, std::size_t in_flight) {
  impl_->queue_length.Set(static_cast<double>(queue_length));
  impl_->dispatch_in_flight.Set(static_cast<double>(in_flight));
}

void registry::dispatch_rejected(const std::string& reason) {
  impl_->dispatch_rejected.at({reason}).Increment();
}

void registry::async_tasks(const std::string& event, std::size_t count) {
  impl_->async_tasks.at({event}).Increment(static_cast<double>(count));
}

void registry::async_running(int count) {
  impl_->async_running.Set(count);
}

void registry::nodes_up(std::size_t count) {
  impl_->nodes_up.Set(static_cast<double>(count));
}

void registry::link_out(std::size_t bytes, double serialize_seconds) {
  impl_->out_messages.Increment();
  impl_->out_bytes.Increment(static_cast<double>(bytes));
  impl_->serialization.Observe(serialize_seconds);
}

void registry::link_in(std::size_t bytes, double deserialize_seconds) {
  impl_->in_messages.Increment();
  impl_->in_bytes.Increment(static_cast<double>(bytes));
  impl_->deserialization.Observe(deserialize_seconds);
}

std::string registry::scrape() {
  auto families = impl_->collect();
  {
    std::lock_guard<std::mutex> lock(impl_->remote_mutex);
    auto now = std::chrono::steady_clock::now();
    for (auto it = impl_->remote.begin(); it != impl_->remote.end();) {
      if (now - it->second.received > remote_report_ttl) {
        it = impl_->remote.erase(it);
        continue;
      }
      families.insert(families.end(), it->second.families.begin(), it->second.families.end());
      ++it;
    }
  }
  auto merged = merge(std::move(families));
  for (auto& family : merged) {
    family.help = escape_help(family.help);
  }
  return prometheus::TextSerializer().Serialize(merged);
}

std::string registry::export_json() {
  return encode(impl_->collect()).dump();
}

void registry::import_remote(const std::string& node, const std::string& json_text) {
  auto families = decode(json_text);
  std::lock_guard<std::mutex> lock(impl_->remote_mutex);
  impl_->remote[node] = {std::move(families), std::chrono::steady_clock::now()};
}

void registry::forget_remote(const std::string& node) {
  std::lock_guard<std::mutex> lock(impl_->remote_mutex);
  impl_->remote.erase(node);
}

void registry::set_process_registry(std::shared_ptr<registry> r) {
  std::lock_guard<std::mutex> lock(process_registry_mutex);
  process_registry_ptr = std::move(r);
}

std::shared_ptr<registry> registry::process_registry() {
  std::lock_guard<std::mutex> lock(process_registry_mutex);
  return process_registry_ptr;
}

} // namespace imgproc::metrics
