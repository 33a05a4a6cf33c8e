#include "core/plan_cache.hpp"

namespace imgproc {

plan_cache::plan_cache(std::shared_ptr<const step_registry> registry, std::size_t capacity)
    : registry_(std::move(registry)), capacity_(std::max<std::size_t>(capacity, 1)) {}

result<plan_ptr> plan_cache::get(int pipeline_id, int version, const std::string& steps_json) {
  auto key = std::make_pair(pipeline_id, version);
  if (auto it = plans_.find(key); it != plans_.end() && it->second->steps_json == steps_json)
    return it->second;
  auto steps = parse_steps_json(steps_json);
  if (!steps)
    return steps.error();
  auto plan = plan_pipeline(*registry_, pipeline_id, "", steps.value());
  if (!plan)
    return plan.error();
  plan->version = version;
  if (plans_.size() >= capacity_)
    plans_.clear();
  auto shared = std::make_shared<const pipeline_plan>(std::move(plan.value()));
  plans_[key] = shared;
  return plan_ptr{shared};
}

} // namespace imgproc
