#pragma once

// A worker node's plans, by pipeline version. A job from a gateway carries the pipeline's steps as
// JSON; the node plans them with its own step registry once and reuses the plan for every later
// job of the same version. Stored versions never change, but the steps text is still compared:
// a cache keyed only by (id, version) would run stale steps if a database were ever reset.
//
// Not thread-safe: one node actor owns it.

#include "core/errors.hpp"
#include "core/pipeline_plan.hpp"
#include "core/step_registry.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace imgproc {

class plan_cache {
public:
  /// `capacity` plans at most; when full, the cache is emptied (pipelines are few, so this is
  /// rare, and it needs no bookkeeping on the request path).
  plan_cache(std::shared_ptr<const step_registry> registry, std::size_t capacity = 256);

  /// The plan of (id, version) with these steps; invalid_pipeline (naming the step) if this
  /// node's registry cannot run them, bad_request if the JSON is malformed. Failures are not
  /// cached.
  result<plan_ptr> get(int pipeline_id, int version, const std::string& steps_json);

  std::size_t size() const { return plans_.size(); }

private:
  std::shared_ptr<const step_registry> registry_;
  std::size_t capacity_;
  std::map<std::pair<int, int>, plan_ptr> plans_;
};

} // namespace imgproc
