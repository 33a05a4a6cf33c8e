// Waits between reconnection attempts of a live stream (core/video/reconnect_backoff.hpp), with
// the random source scripted.

#include "core/video/reconnect_backoff.hpp"

#include <gtest/gtest.h>
#include <vector>

namespace imgproc {
namespace {

using std::chrono::milliseconds;

std::vector<long> waits(reconnect_backoff& backoff, int n) {
  std::vector<long> out;
  for (int i = 0; i < n; ++i)
    out.push_back(static_cast<long>(backoff.next_wait().count()));
  return out;
}

TEST(reconnect_backoff, doubles_up_to_the_cap_each_wait_in_the_upper_half) {
  reconnect_backoff lowest{{milliseconds(500), milliseconds(4000)}, [] { return 0.0; }};
  EXPECT_EQ(waits(lowest, 6), (std::vector<long>{250, 500, 1000, 2000, 2000, 2000}));
  reconnect_backoff highest{{milliseconds(500), milliseconds(4000)}, [] { return 0.999999; }};
  EXPECT_EQ(waits(highest, 6), (std::vector<long>{499, 999, 1999, 3999, 3999, 3999}));
}

TEST(reconnect_backoff, a_source_that_delivered_again_starts_from_the_first_wait) {
  reconnect_backoff backoff{{milliseconds(100), milliseconds(10000)}, [] { return 0.0; }};
  waits(backoff, 5);
  EXPECT_EQ(backoff.attempts(), 5);
  backoff.reset();
  EXPECT_EQ(backoff.next_wait(), milliseconds(50));
}

TEST(reconnect_backoff, many_attempts_never_overflow_the_cap) {
  reconnect_backoff backoff{{milliseconds(500), milliseconds(30000)}, [] { return 0.5; }};
  waits(backoff, 200);
  EXPECT_EQ(backoff.next_wait(), milliseconds(22500));
}

TEST(reconnect_backoff, the_default_random_source_stays_within_the_bounds) {
  reconnect_backoff backoff{{milliseconds(1000), milliseconds(8000)}};
  for (int i = 0; i < 100; ++i) {
    auto wait = backoff.next_wait();
    EXPECT_GE(wait, milliseconds(500));
    EXPECT_LE(wait, milliseconds(8000));
  }
}

} // namespace
} // namespace imgproc
