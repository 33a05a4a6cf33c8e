// Back-pressure between a stream's reader and its pipeline (core/video/frame_gate.hpp): a file
// waits for room and loses nothing; a live source never waits and loses the oldest waiting frame.

#include "core/video/frame_gate.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

using gate = frame_gate<int>;

TEST(frame_gate, a_file_waits_for_room_and_every_frame_is_sent) {
  gate g{stream_source_kind::file, 2};
  int frame = 1;
  EXPECT_EQ(g.offer(frame), gate::verdict::send);
  frame = 2;
  EXPECT_EQ(g.offer(frame), gate::verdict::send);
  frame = 3;
  EXPECT_EQ(g.offer(frame), gate::verdict::wait) << "two in flight: the reader waits";
  EXPECT_EQ(g.offer(frame), gate::verdict::wait) << "still full";
  EXPECT_FALSE(g.done()) << "nothing held for a file";
  EXPECT_EQ(g.offer(frame), gate::verdict::send) << "room again: the same frame goes";
  EXPECT_EQ(g.in_flight(), 2);
  EXPECT_EQ(g.dropped(), 0);
}

TEST(frame_gate, a_live_source_never_waits_and_the_newest_frame_goes_next) {
  gate g{stream_source_kind::live, 1};
  int frame = 1;
  EXPECT_EQ(g.offer(frame), gate::verdict::send);
  frame = 2;
  EXPECT_EQ(g.offer(frame), gate::verdict::hold);
  frame = 3;
  EXPECT_EQ(g.offer(frame), gate::verdict::hold) << "3 replaces 2";
  frame = 4;
  EXPECT_EQ(g.offer(frame), gate::verdict::hold) << "4 replaces 3";
  EXPECT_EQ(g.dropped(), 2);
  auto next = g.done();
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 4);
  EXPECT_EQ(g.in_flight(), 1) << "the held frame went into the pipeline";
  EXPECT_FALSE(g.holding());
  EXPECT_FALSE(g.done());
  EXPECT_EQ(g.in_flight(), 0);
}

TEST(frame_gate, a_live_source_within_its_room_drops_nothing) {
  gate g{stream_source_kind::live, 2};
  for (int frame = 0; frame < 100; ++frame) {
    int f = frame;
    ASSERT_EQ(g.offer(f), gate::verdict::send);
    if (frame % 2 == 1) {
      g.done();
      g.done();
    }
  }
  EXPECT_EQ(g.dropped(), 0);
}

TEST(frame_gate, at_least_one_frame_may_be_in_flight) {
  gate g{stream_source_kind::file, 0};
  int frame = 1;
  EXPECT_EQ(g.offer(frame), gate::verdict::send);
  EXPECT_EQ(g.offer(frame), gate::verdict::wait);
}

} // namespace
} // namespace imgproc
