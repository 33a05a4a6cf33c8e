#include "metrics/family_json.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <prometheus/check_names.h>
#include <set>
#include <stdexcept>

namespace imgproc::metrics::detail {
namespace {

using json = nlohmann::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

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

} // namespace

std::string encode_json(const std::vector<MetricFamily>& families) {
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
  return json{{"families", std::move(out)}}.dump();
}

std::vector<MetricFamily> decode_json(const std::string& input) {
  if (input.size() > max_json_bytes) {
    malformed("larger than 1 MiB");
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

} // namespace imgproc::metrics::detail
