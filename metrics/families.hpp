#pragma once

// Inside metrics/ only: registering a family with the node label, and a family's series cached by
// label values.

#include <mutex>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace imgproc::metrics::detail {

using prometheus::Family;

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

} // namespace imgproc::metrics::detail
