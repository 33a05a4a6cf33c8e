// Where a stream may read from (core/video/stream_source.hpp): schemes, the host allow-list and
// internal addresses, and file paths under --video-dir, with a scripted resolver (no DNS in unit
// tests) and a scratch folder.

#include "core/video/stream_source.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>

namespace imgproc {
namespace {

namespace fs = std::filesystem;

/// A resolver that answers from a table; unknown names do not resolve.
host_resolver table(std::map<std::string, std::vector<std::string>> answers) {
  return [answers](const std::string& host) {
    auto found = answers.find(host);
    return found == answers.end() ? std::vector<std::string>{} : found->second;
  };
}

const host_resolver public_camera = table({{"camera.example", {"203.0.113.7"}},
                                           {"intranet.example", {"10.1.2.3"}},
                                           {"mixed.example", {"198.51.100.1", "127.0.0.1"}},
                                           {"v6.example", {"fd00::5"}}});

std::string refusal(std::string_view source, const stream_source_policy& policy = {},
                    const host_resolver& resolve = public_camera) {
  auto checked = check_stream_source(source, policy, resolve);
  if (checked)
    return "";
  EXPECT_EQ(checked.error().code, error_code::bad_request);
  return checked.error().detail;
}

TEST(internal_addresses, loopback_private_link_local_and_the_like_are_internal) {
  for (const char* address : {"127.0.0.1",
                              "127.255.0.9",
                              "10.0.0.1",
                              "172.16.0.1",
                              "172.31.255.255",
                              "192.168.1.1",
                              "169.254.169.254",
                              "100.64.0.1",
                              "0.0.0.0",
                              "224.0.0.1",
                              "255.255.255.255",
                              "::1",
                              "::",
                              "fe80::1",
                              "fc00::1",
                              "fd12:3456::1",
                              "ff02::1",
                              "::ffff:127.0.0.1",
                              "::ffff:10.0.0.1",
                              "not an address"})
    EXPECT_TRUE(is_internal_address(address)) << address;
  for (const char* address : {"203.0.113.7", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1",
                              "2606:4700::1111", "::ffff:8.8.8.8"})
    EXPECT_FALSE(is_internal_address(address)) << address;
}

TEST(stream_source, a_public_camera_is_a_live_source_its_password_hidden_when_shown) {
  auto checked =
      check_stream_source("rtsp://admin:secret@camera.example:8554/live", {}, public_camera);
  ASSERT_TRUE(checked) << checked.error().detail;
  EXPECT_EQ(checked.value().kind, stream_source_kind::live);
  EXPECT_NE(checked.value().location.find("secret"), std::string::npos)
      << "the reader needs the credentials";
  EXPECT_EQ(checked.value().shown.find("secret"), std::string::npos) << checked.value().shown;
  EXPECT_TRUE(check_stream_source("http://camera.example/mjpeg", {}, public_camera));
  EXPECT_TRUE(check_stream_source("HTTPS://CAMERA.example/clip.mp4", {}, public_camera));
}

TEST(stream_source, other_schemes_and_malformed_urls_are_refused) {
  for (const char* source :
       {"ftp://camera.example/a.mp4", "gopher://camera.example/", "rtmp://camera.example/live",
        "camera.example/live", "", "http://", "rtsp://camera.example:99999/"})
    EXPECT_NE(refusal(source), "") << source;
  EXPECT_NE(refusal("ftp://camera.example/a.mp4").find("http, https or rtsp"), std::string::npos);
}

TEST(stream_source, hosts_that_reach_inside_are_refused_unless_listed) {
  EXPECT_NE(refusal("http://127.0.0.1:8080/mjpeg").find("internal address"), std::string::npos);
  EXPECT_NE(refusal("http://intranet.example/mjpeg").find("10.1.2.3"), std::string::npos);
  EXPECT_NE(refusal("http://mixed.example/mjpeg"), "") << "one internal answer is enough";
  EXPECT_NE(refusal("rtsp://[::1]:8554/live"), "");
  EXPECT_NE(refusal("rtsp://v6.example/live"), "");
  EXPECT_NE(refusal("http://169.254.169.254/latest/meta-data/"), "");
  EXPECT_NE(refusal("http://nowhere.example/").find("does not resolve"), std::string::npos);
  // The user-name trick does not move the host: it is still 127.0.0.1.
  EXPECT_NE(refusal("http://camera.example@127.0.0.1/mjpeg"), "");

  stream_source_policy listed;
  listed.allowed_hosts = {"127.0.0.1", "intranet.example", "::1"};
  EXPECT_EQ(refusal("http://127.0.0.1:8080/mjpeg", listed), "");
  EXPECT_EQ(refusal("http://intranet.example/mjpeg", listed), "");
  EXPECT_EQ(refusal("rtsp://[::1]:8554/live", listed), "");
  EXPECT_NE(refusal("http://127.0.0.2/", listed), "") << "only what is listed";
}

class file_sources : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/imgproc-video-dir-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    fs::create_directories(root_ / "videos" / "cam1");
    fs::create_directories(root_ / "elsewhere");
    std::ofstream(root_ / "videos" / "cam1" / "a.mp4") << "x";
    std::ofstream(root_ / "elsewhere" / "secret.mp4") << "x";
    fs::create_symlink(root_ / "elsewhere" / "secret.mp4", root_ / "videos" / "link.mp4");
    fs::create_directories(root_ / "videos-other");
    std::ofstream(root_ / "videos-other" / "b.mp4") << "x";
    policy_.video_dir = (root_ / "videos").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string file_url(const std::string& relative) const {
    return "file:" + (root_ / relative).string();
  }

  fs::path root_;
  stream_source_policy policy_;
};

TEST_F(file_sources, a_file_under_the_video_dir_is_a_file_source) {
  auto checked = check_stream_source(file_url("videos/cam1/a.mp4"), policy_);
  ASSERT_TRUE(checked) << checked.error().detail;
  EXPECT_EQ(checked.value().kind, stream_source_kind::file);
  EXPECT_EQ(checked.value().location, (root_ / "videos" / "cam1" / "a.mp4").string());
  EXPECT_TRUE(check_stream_source("file://" + (root_ / "videos/cam1/a.mp4").string(), policy_));
  EXPECT_TRUE(
      check_stream_source("file://localhost" + (root_ / "videos/cam1/a.mp4").string(), policy_));
}

TEST_F(file_sources, paths_that_leave_the_video_dir_are_refused) {
  EXPECT_NE(refusal(file_url("videos/../elsewhere/secret.mp4"), policy_).find("--video-dir"),
            std::string::npos);
  EXPECT_NE(refusal(file_url("videos/link.mp4"), policy_), "") << "a link pointing out";
  EXPECT_NE(refusal(file_url("videos-other/b.mp4"), policy_), "") << "a sibling sharing a prefix";
  EXPECT_NE(refusal(file_url("videos/cam1/missing.mp4"), policy_), "");
  EXPECT_NE(refusal(file_url("videos/cam1"), policy_), "") << "a folder is not a file";
  EXPECT_NE(refusal("file:relative/a.mp4", policy_), "");
  EXPECT_NE(refusal("file://otherhost" + (root_ / "videos/cam1/a.mp4").string(), policy_), "");
  EXPECT_NE(refusal("file:" + (root_ / "videos/cam1/%61.mp4").string(), policy_), "");
  EXPECT_NE(refusal(file_url("videos/cam1/a.mp4"), {}).find("no --video-dir"), std::string::npos);
}

} // namespace
} // namespace imgproc
