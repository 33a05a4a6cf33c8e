// The circuit breaker's transitions, driven by a fake clock.

#include "core/circuit_breaker.hpp"

#include <atomic>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

namespace imgproc {
namespace {

using namespace std::chrono_literals;
using state = circuit_breaker::state;

/// A clock the test moves by hand.
struct fake_clock {
  std::chrono::steady_clock::time_point now{std::chrono::seconds(1000)};
  circuit_breaker::clock_fn fn() {
    return [this] { return now; };
  }
};

circuit_breaker make_breaker(fake_clock& clock, std::size_t failures = 3,
                             std::chrono::milliseconds open_for = 2000ms) {
  return circuit_breaker{{failures, open_for}, clock.fn()};
}

void fail(circuit_breaker& breaker, int times) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(breaker.allow());
    breaker.failure();
  }
}

TEST(circuit_breaker, starts_closed_and_lets_calls_through) {
  fake_clock clock;
  auto breaker = make_breaker(clock);
  EXPECT_EQ(breaker.current_state(), state::closed);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(breaker.allow());
    breaker.success();
  }
  EXPECT_EQ(breaker.retry_in(), 0ms);
}

TEST(circuit_breaker, opens_after_the_configured_consecutive_failures) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 3);
  fail(breaker, 2);
  EXPECT_EQ(breaker.current_state(), state::closed);
  fail(breaker, 1);
  EXPECT_EQ(breaker.current_state(), state::open);
  EXPECT_EQ(breaker.consecutive_failures(), 3u);
  EXPECT_EQ(breaker.retry_in(), 2000ms);
}

TEST(circuit_breaker, a_success_resets_the_failure_count) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 3);
  fail(breaker, 2);
  ASSERT_TRUE(breaker.allow());
  breaker.success();
  fail(breaker, 2);
  EXPECT_EQ(breaker.current_state(), state::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 2u);
}

TEST(circuit_breaker, open_refuses_every_call_until_the_period_passes) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 1, 2000ms);
  fail(breaker, 1);
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(breaker.allow());
  clock.now += 1500ms;
  EXPECT_FALSE(breaker.allow());
  EXPECT_EQ(breaker.current_state(), state::open);
  EXPECT_EQ(breaker.retry_in(), 500ms);
  clock.now += 500ms;
  EXPECT_EQ(breaker.current_state(), state::half_open);
  EXPECT_EQ(breaker.retry_in(), 0ms);
}

TEST(circuit_breaker, half_open_lets_one_probe_through_and_its_success_closes) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 2, 100ms);
  fail(breaker, 2);
  clock.now += 100ms;
  ASSERT_TRUE(breaker.allow()); // the probe
  EXPECT_FALSE(breaker.allow());
  EXPECT_FALSE(breaker.allow());
  EXPECT_EQ(breaker.current_state(), state::half_open);
  breaker.success();
  EXPECT_EQ(breaker.current_state(), state::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0u);
  EXPECT_TRUE(breaker.allow());
  breaker.success();
  EXPECT_TRUE(breaker.allow());
  breaker.success();
}

TEST(circuit_breaker, a_failed_probe_opens_again_for_another_period) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 2, 100ms);
  fail(breaker, 2);
  clock.now += 100ms;
  ASSERT_TRUE(breaker.allow());
  breaker.failure();
  EXPECT_EQ(breaker.current_state(), state::open);
  EXPECT_EQ(breaker.retry_in(), 100ms);
  EXPECT_FALSE(breaker.allow());
  clock.now += 99ms;
  EXPECT_FALSE(breaker.allow());
  clock.now += 1ms;
  ASSERT_TRUE(breaker.allow()); // the next probe
  breaker.success();
  EXPECT_EQ(breaker.current_state(), state::closed);
}

TEST(circuit_breaker, an_abandoned_probe_lets_another_one_through) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 1, 100ms);
  fail(breaker, 1);
  clock.now += 100ms;
  ASSERT_TRUE(breaker.allow());
  EXPECT_FALSE(breaker.allow());
  breaker.abandon();
  EXPECT_EQ(breaker.current_state(), state::half_open);
  ASSERT_TRUE(breaker.allow());
  EXPECT_FALSE(breaker.allow());
  breaker.success();
  EXPECT_EQ(breaker.current_state(), state::closed);
}

TEST(circuit_breaker, late_failures_of_calls_let_through_before_it_opened_keep_the_period) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 2, 1000ms);
  ASSERT_TRUE(breaker.allow());
  ASSERT_TRUE(breaker.allow());
  ASSERT_TRUE(breaker.allow());
  breaker.failure();
  breaker.failure(); // opens
  clock.now += 600ms;
  breaker.failure(); // the third call, slow to fail
  EXPECT_EQ(breaker.current_state(), state::open);
  EXPECT_EQ(breaker.retry_in(), 400ms);
}

TEST(circuit_breaker, only_one_of_many_concurrent_callers_probes) {
  fake_clock clock;
  auto breaker = make_breaker(clock, 1, 100ms);
  fail(breaker, 1);
  clock.now += 100ms;
  constexpr int callers = 16;
  std::atomic<int> ready{0};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i)
    threads.emplace_back([&] {
      ++ready;
      while (ready.load() < callers)
        std::this_thread::yield();
      if (breaker.allow())
        ++allowed;
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(allowed.load(), 1);
  EXPECT_EQ(breaker.current_state(), state::half_open);
}

TEST(circuit_breaker, survives_concurrent_use) {
  // Smoke test for data races (the suite runs it under ASan and UBSan, sanitized_unit_tests; no
  // ThreadSanitizer build exists): many threads report mixed outcomes while the clock stands
  // still; the state stays consistent.
  circuit_breaker breaker{{3, 1ms}};
  constexpr int threads_count = 8;
  constexpr int calls = 2000;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_count; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        if (!breaker.allow())
          continue;
        ++allowed;
        if ((i + t) % 3 == 0)
          breaker.success();
        else
          breaker.failure();
        (void)breaker.current_state();
        (void)breaker.retry_in();
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_GT(allowed.load(), 0);
  // Whatever state it ended in, a success closes it.
  std::this_thread::sleep_for(2ms);
  if (breaker.allow())
    breaker.success();
  EXPECT_EQ(breaker.current_state(), state::closed);
}

TEST(circuit_breaker_registry, one_breaker_per_url) {
  breaker_registry registry;
  auto a = registry.get("http://a/", {1, 100ms});
  auto b = registry.get("http://b/", {1, 100ms});
  EXPECT_NE(a, b);
  EXPECT_EQ(registry.get("http://a/", {5, 100ms}), a);
  EXPECT_EQ(a->options().failures_to_open, 1u);
  EXPECT_EQ(&process_breakers(), &process_breakers());
}

} // namespace
} // namespace imgproc
