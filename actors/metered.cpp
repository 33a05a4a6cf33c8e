#include "actors/metered.hpp"

#include <caf/local_actor.hpp>

namespace imgproc {
namespace {

/// For processes without a registry (unit tests): measures nothing.
class no_meter final : public metrics::actor_meter {
public:
  void sent() override {}
  std::chrono::steady_clock::time_point begin(bool) override { return {}; }
  void handled(std::chrono::steady_clock::time_point, bool) override {}
  void actor_started() override {}
  void actor_stopped() override {}
  void rejected() override {}
};

} // namespace

metrics::registry* process_metrics() {
  // Set once at start-up, before any actor runs; cached so the hot path takes no lock.
  static const auto registry = metrics::registry::process_registry();
  return registry.get();
}

meter_ptr actor_meter_for(const char* name) {
  if (auto* registry = process_metrics())
    return registry->actor(name);
  static const auto none = std::make_shared<no_meter>();
  return none;
}

void count_running(caf::local_actor* self, const meter_ptr& meter) {
  meter->actor_started();
  self->attach_functor([meter] { meter->actor_stopped(); });
}

} // namespace imgproc
