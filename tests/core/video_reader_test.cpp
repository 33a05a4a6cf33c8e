// Reading video files (core/video/video_reader.hpp) with Debian's OpenCV videoio on the clips of
// opencv-doc: a steady 10 fps AVI, one whose container loses its last timestamp, a damaged one,
// and files that are not video. Timestamps are also mended on made-up reports.

#include "core/object_detectors.hpp"
#include "core/video/frame_sampler.hpp"
#include "core/video/video_reader.hpp"
#include "tests/support/images.hpp"
#include "tests/support/mjpeg_server.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <optional>

namespace imgproc {
namespace {

std::string clip(const std::string& name) {
  return testing::sample_photo_dir() + name;
}

class video_reader_test : public ::testing::Test {
protected:
  void SetUp() override {
    if (!std::filesystem::exists(clip("vtest.avi")))
      GTEST_SKIP() << clip("vtest.avi") << " is missing: opencv-doc (scripts/setup installs it)";
  }
};

TEST(timestamp_mender, keeps_increasing_timestamps_and_mends_the_others) {
  timestamp_mender mender{10};
  EXPECT_DOUBLE_EQ(mender.next(0), 0);
  EXPECT_DOUBLE_EQ(mender.next(100), 100);
  EXPECT_DOUBLE_EQ(mender.next(0), 200) << "a timestamp that went back";
  EXPECT_DOUBLE_EQ(mender.next(200), 300) << "one that did not move";
  EXPECT_DOUBLE_EQ(mender.next(std::numeric_limits<double>::quiet_NaN()), 400);
  EXPECT_DOUBLE_EQ(mender.next(1000), 1000) << "a gap is kept";
  timestamp_mender no_rate{0};
  EXPECT_DOUBLE_EQ(no_rate.next(-1), 0);
  EXPECT_DOUBLE_EQ(no_rate.next(-1), 40) << "25 fps when the container declares no rate";
}

TEST_F(video_reader_test, reads_every_frame_of_a_steady_clip_with_its_timestamp) {
  auto opened = video_reader::open(clip("vtest.avi"));
  ASSERT_TRUE(opened) << opened.error().detail;
  auto& video = *opened.value();
  EXPECT_EQ(video.info().width, 768);
  EXPECT_EQ(video.info().height, 576);
  EXPECT_DOUBLE_EQ(video.info().fps, 10);
  EXPECT_EQ(video.info().declared_frames, 795);
  std::int64_t count = 0;
  while (auto frame = video.next()) {
    ASSERT_EQ(frame->index, count);
    ASSERT_NEAR(frame->pts_ms, count * 100.0, 1e-6);
    ASSERT_EQ(frame->image.cols, 768);
    ASSERT_EQ(frame->image.type(), CV_8UC3);
    ++count;
  }
  EXPECT_EQ(count, 795);
  EXPECT_EQ(video.frames_read(), 795);
  EXPECT_FALSE(video.next()) << "the end stays the end";
}

TEST_F(video_reader_test, sampling_at_2_fps_gives_one_frame_per_instant) {
  auto opened = video_reader::open(clip("vtest.avi"));
  ASSERT_TRUE(opened);
  frame_sampler sampler{2};
  std::vector<double> taken;
  while (auto frame = opened.value()->next())
    if (sampler.take(frame->pts_ms))
      taken.push_back(frame->pts_ms);
  // 79.4 s of frames: instants 0, 0.5, ..., 79.0 s.
  ASSERT_EQ(taken.size(), 159u);
  for (std::size_t i = 0; i < taken.size(); ++i)
    EXPECT_NEAR(taken[i], 500.0 * static_cast<double>(i), 1e-6);
}

TEST_F(video_reader_test, timestamps_increase_where_the_container_loses_them) {
  // Megamind.avi reports 0 ms for its last frame.
  auto opened = video_reader::open(clip("Megamind.avi"));
  ASSERT_TRUE(opened) << opened.error().detail;
  double last = -1;
  std::int64_t count = 0;
  while (auto frame = opened.value()->next()) {
    ASSERT_GT(frame->pts_ms, last) << "frame " << frame->index;
    last = frame->pts_ms;
    ++count;
  }
  EXPECT_EQ(count, 270);
  EXPECT_NEAR(last, 270 * 1000.0 / opened.value()->info().fps, 1.0);
}

TEST_F(video_reader_test, a_damaged_clip_gives_the_frames_that_decode_and_ends) {
  auto opened = video_reader::open(clip("Megamind_bugy.avi"));
  ASSERT_TRUE(opened) << opened.error().detail;
  std::int64_t count = 0;
  while (auto frame = opened.value()->next()) {
    EXPECT_FALSE(frame->image.empty());
    ++count;
  }
  EXPECT_GT(count, 0);
  EXPECT_LE(count, opened.value()->info().declared_frames);
}

TEST_F(video_reader_test, what_is_not_a_video_is_refused_as_unsupported) {
  auto path = std::filesystem::temp_directory_path() / "imgproc-not-a-video.avi";
  {
    std::ofstream out{path, std::ios::binary};
    out << "RIFF, or so it says; nothing else of a video is here\n";
  }
  auto text = video_reader::open(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, error_code::unsupported_media_type) << text.error().detail;
  auto missing = video_reader::open("/nonexistent/clip.avi");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::unsupported_media_type);
}

TEST_F(video_reader_test, frames_over_the_pixel_limit_are_refused_before_any_is_read) {
  video_limits small;
  small.max_frame_pixels = 640 * 480;
  auto opened = video_reader::open(clip("vtest.avi"), small);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, error_code::image_too_large);
  EXPECT_NE(opened.error().detail.find("768x576"), std::string::npos) << opened.error().detail;
}

TEST_F(video_reader_test, the_pedestrians_of_vtest_are_found_at_one_and_a_half_times_their_size) {
  // vtest.avi's walkers are 60-90 px tall, under the 64x128 window of OpenCV's people HOG: at
  // full size it finds few of them. Scaled up 1.5x first (what fit_within with upscale does in a
  // pipeline), every one of the six in frame 300 is inside a box. Their centres, by eye:
  const std::vector<cv::Point> walkers{{200, 195}, {252, 190}, {310, 190},
                                       {328, 255}, {597, 198}, {632, 200}};
  auto opened = video_reader::open(clip("vtest.avi"));
  ASSERT_TRUE(opened);
  std::optional<video_frame> frame;
  for (int i = 0; i <= 300; ++i)
    frame = opened.value()->next();
  ASSERT_TRUE(frame);
  object_detectors detectors;
  people_settings settings; // the step's defaults
  settings.boxes.max_boxes = 50;
  auto covered = [&](double scale) {
    cv::Mat input;
    cv::resize(frame->image, input, cv::Size(), scale, scale, cv::INTER_LINEAR);
    auto found = detectors.people(input, settings, {});
    EXPECT_TRUE(found);
    int count = 0;
    for (const auto& walker : walkers) {
      for (const auto& box : found ? found.value() : std::vector<detection>{}) {
        cv::Rect rect(static_cast<int>(box.top_left_x / scale),
                      static_cast<int>(box.top_left_y / scale), static_cast<int>(box.width / scale),
                      static_cast<int>(box.height / scale));
        if (rect.contains(walker)) {
          ++count;
          break;
        }
      }
    }
    return count;
  };
  int at_full_size = covered(1.0);
  int scaled_up = covered(1.5);
  EXPECT_EQ(scaled_up, 6);
  std::printf("walkers inside a box: %d of 6 at full size, %d of 6 scaled up 1.5x\n", at_full_size,
              scaled_up);
}

TEST(video_reader_live, reads_an_mjpeg_stream_and_ends_when_its_server_goes_away) {
  // A real MJPEG-over-HTTP source on 127.0.0.1 (tests/support/mjpeg_server.hpp), read by FFmpeg.
  testing::mjpeg_server camera{320, 240, 20};
  video_limits limits;
  limits.open_timeout = std::chrono::milliseconds(5000);
  limits.read_timeout = std::chrono::milliseconds(2000);
  auto opened = video_reader::open(camera.url(), limits);
  ASSERT_TRUE(opened) << opened.error().detail;
  double last = -1;
  for (int i = 0; i < 5; ++i) {
    auto frame = opened.value()->next();
    ASSERT_TRUE(frame) << "frame " << i;
    EXPECT_EQ(frame->image.cols, 320);
    EXPECT_EQ(frame->image.rows, 240);
    EXPECT_GT(frame->pts_ms, last);
    last = frame->pts_ms;
  }
  camera.stop();
  // Frames already buffered may still come; then the stream ends, within the read timeout.
  int after_stop = 0;
  while (opened.value()->next())
    ASSERT_LT(++after_stop, 1000) << "the stream did not end after its server stopped";
  camera.start();
  auto again = video_reader::open(camera.url(), limits);
  ASSERT_TRUE(again) << "the camera is back: " << again.error().detail;
  EXPECT_TRUE(again.value()->next());
}

TEST(video_reader_live, a_source_that_refuses_the_connection_is_refused_within_the_timeout) {
  testing::mjpeg_server camera{64, 48, 5};
  auto url = camera.url();
  camera.stop(); // nothing listens on the port now
  video_limits limits;
  limits.open_timeout = std::chrono::milliseconds(2000);
  auto opened = video_reader::open(url, limits);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, error_code::unsupported_media_type);
}

} // namespace
} // namespace imgproc
