#include "metrics/family_merge.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace imgproc::metrics::detail {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

namespace {

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

} // namespace

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

} // namespace imgproc::metrics::detail
