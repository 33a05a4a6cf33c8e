// The sampling of a stream's frames by timestamp (core/video/frame_sampler.hpp), on made-up
// timestamps: sources faster, slower and irregular against the asked rate.

#include "core/video/frame_sampler.hpp"

#include <gtest/gtest.h>
#include <vector>

namespace imgproc {
namespace {

/// The timestamps `sampler` takes of `frames` frames `period_ms` apart, from `start_ms`.
std::vector<double> taken(frame_sampler& sampler, int frames, double period_ms,
                          double start_ms = 0) {
  std::vector<double> out;
  for (int i = 0; i < frames; ++i) {
    double pts = start_ms + i * period_ms;
    if (sampler.take(pts))
      out.push_back(pts);
  }
  return out;
}

TEST(frame_sampler, a_faster_source_gives_the_first_frame_at_or_after_each_instant) {
  frame_sampler sampler{2}; // instants 0, 500, 1000, ... ms
  // 10 fps for 3 s: frames at 0, 100, ..., 2900 ms.
  EXPECT_EQ(taken(sampler, 30, 100), (std::vector<double>{0, 500, 1000, 1500, 2000, 2500}));
}

TEST(frame_sampler, frames_between_instants_are_skipped_and_the_next_one_waits_for_its_instant) {
  frame_sampler sampler{1};
  // 23.976 fps from 41.7 ms: the first frame is after instant 0, so it serves it; the next
  // instant (1000 ms) is served by the first frame at or after it, frame 23 at 1000.99 ms.
  std::vector<double> got = taken(sampler, 40, 1000.0 / 23.976, 41.7); // to 1668 ms
  ASSERT_EQ(got.size(), 2u);
  EXPECT_DOUBLE_EQ(got[0], 41.7);
  EXPECT_NEAR(got[1], 41.7 + 23 * 1000.0 / 23.976, 1e-9);
  EXPECT_GE(got[1], 1000);
}

TEST(frame_sampler, a_slower_source_gives_each_frame_once_however_many_instants_it_passes) {
  frame_sampler sampler{10}; // instants every 100 ms
  // 2 fps: each frame passes five instants and is taken once.
  EXPECT_EQ(taken(sampler, 4, 500), (std::vector<double>{0, 500, 1000, 1500}));
  EXPECT_DOUBLE_EQ(sampler.next_due_ms(), 1600);
}

TEST(frame_sampler, a_gap_in_the_source_is_served_by_the_first_frame_after_it) {
  frame_sampler sampler{2};
  std::vector<double> got;
  for (double pts : {0.0, 100.0, 733.3, 1133.3, 1200.0, 4000.0, 4100.0})
    if (sampler.take(pts))
      got.push_back(pts);
  EXPECT_EQ(got, (std::vector<double>{0, 733.3, 1133.3, 4000}));
}

TEST(frame_sampler, an_instant_is_not_missed_by_rounding) {
  frame_sampler sampler{3}; // instants 0, 333.33.., 666.66.., 1000
  // Frames stamped to the millisecond, as containers round them.
  EXPECT_EQ(taken(sampler, 11, 1000.0 / 30), (std::vector<double>{0, 1000.0 / 30 * 10}));
  frame_sampler exact{3};
  std::vector<double> got;
  for (double pts : {0.0, 333.3333, 666.6667, 1000.0})
    if (exact.take(pts))
      got.push_back(pts);
  EXPECT_EQ(got.size(), 4u) << "a frame within a microsecond of its instant is at it";
}

TEST(frame_sampler, resuming_after_a_stored_frame_takes_none_at_or_before_it) {
  frame_sampler first{2};
  auto before = taken(first, 25, 100); // 0 .. 2400 ms: takes 0, 500, ..., 2000
  ASSERT_EQ(before.back(), 2000);
  frame_sampler resumed{2};
  resumed.resume_after(2000);
  // The whole file again from the start, as a reader that cannot seek would give it.
  auto after = taken(resumed, 40, 100);
  EXPECT_EQ(after, (std::vector<double>{2500, 3000, 3500}));
}

TEST(frame_sampler, rates_outside_the_allowed_range_are_clamped) {
  EXPECT_DOUBLE_EQ(frame_sampler{1000}.fps(), max_stream_fps);
  EXPECT_DOUBLE_EQ(frame_sampler{0}.fps(), min_stream_fps);
  EXPECT_DOUBLE_EQ(frame_sampler{1.0 / 60}.fps(), min_stream_fps);
}

} // namespace
} // namespace imgproc
