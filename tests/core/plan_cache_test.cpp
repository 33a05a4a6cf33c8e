#include "core/plan_cache.hpp"
#include "core/step_registry.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

std::shared_ptr<const step_registry> default_registry() {
  auto registry = std::make_shared<step_registry>();
  register_default_steps(*registry);
  return registry;
}

/// The steps JSON a gateway would send: plan_pipeline's own rendering.
std::string steps_of(const step_registry& registry, const std::vector<step_definition>& steps) {
  auto plan = plan_pipeline(registry, 7, "t", steps);
  EXPECT_TRUE(plan) << plan.error().detail;
  return plan ? plan->steps_json : "";
}

TEST(plan_cache, plans_a_version_once_and_reuses_it) {
  auto registry = default_registry();
  plan_cache cache{registry};
  auto json =
      steps_of(*registry, {{"decode_jpeg", {}}, {"resize", {{"width", 64}, {"height", 32}}}});
  auto first = cache.get(7, 3, json);
  ASSERT_TRUE(first) << first.error().detail;
  EXPECT_EQ((*first)->version, 3);
  EXPECT_EQ((*first)->steps.size(), 2u);
  EXPECT_EQ((*first)->steps[1].params["width"], 64);
  auto second = cache.get(7, 3, json);
  ASSERT_TRUE(second);
  EXPECT_EQ(first.value().get(), second.value().get()); // the same plan object
  EXPECT_EQ(cache.size(), 1u);
}

TEST(plan_cache, steps_json_round_trips_with_defaults_filled_in) {
  auto registry = default_registry();
  auto json = steps_of(*registry, {{"decode_jpeg", {}}, {"resize", {}}});
  auto parsed = parse_steps_json(json);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[1].handler, "resize");
  EXPECT_FALSE((*parsed)[1].params.empty()) << json; // the defaults travel explicitly
  EXPECT_EQ(steps_of(*registry, *parsed), json);
}

TEST(plan_cache, different_steps_under_the_same_version_are_planned_again) {
  auto registry = default_registry();
  plan_cache cache{registry};
  auto a = cache.get(7, 1, steps_of(*registry, {{"decode_jpeg", {}}}));
  auto b = cache.get(
      7, 1, steps_of(*registry, {{"decode_jpeg", {}}, {"resize", {{"width", 8}, {"height", 8}}}}));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ((*a)->steps.size(), 1u);
  EXPECT_EQ((*b)->steps.size(), 2u);
}

TEST(plan_cache, refuses_what_this_node_cannot_run_and_caches_no_failure) {
  auto registry = default_registry();
  plan_cache cache{registry};
  auto unknown = cache.get(7, 1, R"([{"handler":"teleport","params":{}}])");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, error_code::invalid_pipeline);
  EXPECT_NE(unknown.error().detail.find("teleport"), std::string::npos);
  for (const char* bad :
       {"", "{}", "[1]", R"([{"handler":1,"params":{}}])", R"([{"handler":"resize"}])", "[{"}) {
    auto result = cache.get(7, 1, bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().code, error_code::bad_request) << bad;
  }
  EXPECT_EQ(cache.size(), 0u);
}

TEST(plan_cache, is_bounded) {
  auto registry = default_registry();
  plan_cache cache{registry, 4};
  auto json = steps_of(*registry, {{"decode_jpeg", {}}});
  for (int id = 1; id <= 10; ++id)
    ASSERT_TRUE(cache.get(id, 1, json));
  EXPECT_LE(cache.size(), 4u);
}

} // namespace
} // namespace imgproc
