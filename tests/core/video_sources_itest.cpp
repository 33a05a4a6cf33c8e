// Live sources read by core/video/video_reader through real servers on 127.0.0.1: an RTSP camera
// (GStreamer's RTSP server, tests/support/rtsp_server.py, a separate process), stopped and
// started again. The MJPEG source is in the unit tests (an in-process server).

#include "core/video/video_reader.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#ifndef IMGPROC_SOURCE_DIR
#error "IMGPROC_SOURCE_DIR must name the repository (tests/CMakeLists.txt defines it)"
#endif

namespace imgproc {
namespace {

using namespace std::chrono_literals;

/// Starts the RTSP server and answers its URL once it serves.
std::string start_rtsp(std::optional<testing::child_process>& server) {
  server.emplace(
      std::vector<std::string>{std::string{IMGPROC_SOURCE_DIR} + "/tests/support/rtsp_server.py"},
      std::map<std::string, std::string>{}, "rtsp_server");
  auto line = server->wait_for_line(std::regex{"listening on (rtsp://\\S+)"}, 15s);
  std::smatch match;
  std::regex_search(line, match, std::regex{"(rtsp://\\S+)"});
  return match[1];
}

TEST(video_sources, an_rtsp_camera_is_read_and_its_end_is_seen) {
  std::optional<testing::child_process> server;
  std::string url;
  try {
    url = start_rtsp(server);
  } catch (const std::exception& e) {
    FAIL() << "the test RTSP server did not start (scripts/setup installs GStreamer's RTSP "
              "server): "
           << e.what();
  }
  video_limits limits;
  limits.open_timeout = 10s;
  limits.read_timeout = 3s;
  auto opened = video_reader::open(url, limits);
  ASSERT_TRUE(opened) << opened.error().detail;
  EXPECT_EQ(opened.value()->info().width, 640);
  EXPECT_EQ(opened.value()->info().height, 480);
  double last = -1;
  for (int i = 0; i < 10; ++i) {
    auto frame = opened.value()->next();
    ASSERT_TRUE(frame) << "frame " << i;
    EXPECT_EQ(frame->image.cols, 640);
    EXPECT_GT(frame->pts_ms, last);
    last = frame->pts_ms;
  }
  server->stop();
  int after_stop = 0;
  while (opened.value()->next())
    ASSERT_LT(++after_stop, 1000) << "the stream did not end after its server stopped";
  // The camera comes back (on another port: the test picks a free one each time).
  url = start_rtsp(server);
  auto again = video_reader::open(url, limits);
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_TRUE(again.value()->next());
}

} // namespace
} // namespace imgproc
