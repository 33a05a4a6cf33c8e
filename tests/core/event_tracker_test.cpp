// Grouping a stream's per-frame detections into events over time (core/video/event_tracker.hpp).

#include "core/video/event_tracker.hpp"

#include <gtest/gtest.h>
#include <vector>

namespace imgproc {
namespace {

detection box(double confidence, int x = 0) {
  detection d;
  d.top_left_x = x;
  d.width = 10;
  d.height = 20;
  d.confidence = confidence;
  return d;
}

/// Feeds frames every `period_ms` whose detections `seen` gives (by frame index); collects the
/// events, the last one closed by finish().
std::vector<stream_event> events_of(const std::vector<bool>& seen, double period_ms,
                                    double gap_ms) {
  event_tracker tracker{gap_ms};
  std::vector<stream_event> out;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    std::vector<detection> boxes;
    if (seen[i])
      boxes.push_back(box(0.5));
    if (auto closed =
            tracker.add(static_cast<double>(i) * period_ms, static_cast<std::int64_t>(i), boxes))
      out.push_back(*closed);
  }
  if (auto last = tracker.finish())
    out.push_back(*last);
  return out;
}

TEST(event_tracker, nothing_detected_is_no_event) {
  EXPECT_TRUE(events_of({false, false, false}, 500, 2000).empty());
}

TEST(event_tracker, an_event_spans_its_first_to_its_last_detection) {
  // 2 fps: detections at 1.0-2.5 s, then nothing for 3 s.
  auto events = events_of({0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 500, 2000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_DOUBLE_EQ(events[0].start_ms, 1000);
  EXPECT_DOUBLE_EQ(events[0].end_ms, 2500);
  EXPECT_EQ(events[0].frames, 4);
  EXPECT_EQ(events[0].first_frame, 2);
  EXPECT_EQ(events[0].last_frame, 5);
}

TEST(event_tracker, a_gap_no_longer_than_event_gap_keeps_one_event) {
  // Detections 2 s apart exactly: one event. 2.5 s apart: two.
  EXPECT_EQ(events_of({1, 0, 0, 0, 1}, 500, 2000).size(), 1u);
  auto two = events_of({1, 0, 0, 0, 0, 1}, 500, 2000);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_DOUBLE_EQ(two[0].end_ms, 0);
  EXPECT_DOUBLE_EQ(two[1].start_ms, 2500);
}

TEST(event_tracker, the_frame_that_closes_an_event_may_open_the_next) {
  event_tracker tracker{1000};
  EXPECT_FALSE(tracker.add(0, 0, {box(0.9)}));
  auto closed = tracker.add(5000, 1, {box(0.4)});
  ASSERT_TRUE(closed);
  EXPECT_DOUBLE_EQ(closed->start_ms, 0);
  ASSERT_TRUE(tracker.open_event());
  EXPECT_DOUBLE_EQ(tracker.open_event()->start_ms, 5000);
  EXPECT_DOUBLE_EQ(tracker.open_event()->best.confidence, 0.4);
}

TEST(event_tracker, an_event_keeps_its_most_confident_box) {
  event_tracker tracker;
  tracker.add(0, 0, {box(0.3, 1), box(0.6, 2)});
  tracker.add(100, 1, {box(0.8, 3)});
  tracker.add(200, 2, {box(0.7, 4)});
  auto event = tracker.finish();
  ASSERT_TRUE(event);
  EXPECT_DOUBLE_EQ(event->best.confidence, 0.8);
  EXPECT_EQ(event->best.top_left_x, 3);
  EXPECT_FALSE(tracker.finish()) << "finish closes the event once";
}

TEST(event_tracker, a_frame_without_a_detection_within_the_gap_leaves_the_event_open) {
  event_tracker tracker{2000};
  tracker.add(0, 0, {box(0.5)});
  EXPECT_FALSE(tracker.add(1500, 1, {}));
  EXPECT_TRUE(tracker.open_event());
  auto closed = tracker.add(2001, 2, {});
  ASSERT_TRUE(closed);
  EXPECT_DOUBLE_EQ(closed->end_ms, 0);
  EXPECT_FALSE(tracker.open_event());
}

} // namespace
} // namespace imgproc
