#include "core/outbound_url.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

bool allowed(const std::vector<std::string>& list, const std::string& url) {
  return !refuse_ml_url("http://ml:5000/ml-process-img", list, url);
}

TEST(outbound_url, parses_into_parts_with_the_default_port) {
  auto url = parse_outbound_url("HTTP://ML-B.Example:5000/a/../detect?x=1");
  ASSERT_TRUE(url) << url.error().detail;
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "ml-b.example");
  EXPECT_EQ(url->port, 5000);
  EXPECT_EQ(url->path, "/detect"); // dot segments resolved, as libcurl sends it
  EXPECT_EQ(url->query, "x=1");
  EXPECT_FALSE(url->has_userinfo);
  auto https = parse_outbound_url("https://ml");
  ASSERT_TRUE(https);
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->path, "/");
}

TEST(outbound_url, refuses_what_is_not_an_http_url) {
  for (const char* text : {"", "ml:5000", "ftp://ml/x", "file:///etc/passwd", "gopher://ml:70/",
                           "http://", "http://ml:99999/", "http://ml:5000/a b"})
    EXPECT_FALSE(parse_outbound_url(text)) << text;
  EXPECT_FALSE(parse_outbound_url(std::string{"http://ml/\0x", 12}));
}

// The finding this file exists for: a prefix check took `http://127.0.0.1:44049@127.0.0.1:41001/`
// as within `http://127.0.0.1:44049`, and the image went to port 41001.
TEST(outbound_url, a_user_part_that_looks_like_the_allowed_host_is_refused) {
  std::vector<std::string> list{"http://127.0.0.1:44049"};
  EXPECT_TRUE(allowed(list, "http://127.0.0.1:44049/detect"));
  EXPECT_FALSE(allowed(list, "http://127.0.0.1:44049@127.0.0.1:41001/stolen"));
  EXPECT_FALSE(allowed(list, "http://user:pw@127.0.0.1:44049/detect")); // userinfo: never
  auto why = refuse_ml_url("http://ml:5000/", list, "http://u:secret@127.0.0.1:44049/");
  ASSERT_TRUE(why);
  EXPECT_EQ(why->find("secret"), std::string::npos) << *why;
}

TEST(outbound_url, scheme_host_port_and_path_are_compared_as_parts) {
  std::vector<std::string> list{"http://ml-b:5000/v1"};
  EXPECT_TRUE(allowed(list, "http://ml-b:5000/v1"));
  EXPECT_TRUE(allowed(list, "http://ML-B:5000/v1/detect?model=car"));
  EXPECT_FALSE(allowed(list, "http://ml-b:5000/v1x"));         // not below /v1 by a segment
  EXPECT_FALSE(allowed(list, "http://ml-b:5000/v1/../admin")); // resolved to /admin
  EXPECT_FALSE(allowed(list, "http://ml-b:5000/v1/%2e%2e/admin"));
  EXPECT_FALSE(allowed(list, "http://ml-b:5000/v1%2F..%2Fadmin"));
  EXPECT_FALSE(allowed(list, "https://ml-b:5000/v1"));
  EXPECT_FALSE(allowed(list, "http://ml-b:5001/v1"));
  EXPECT_FALSE(allowed(list, "http://ml-b.evil:5000/v1"));
  EXPECT_FALSE(allowed(list, "http://ml-b:5000.evil/v1"));
  EXPECT_FALSE(allowed(list, "http://169.254.169.254/latest"));
  // A trailing slash allows everything below it; the default port is the same as an explicit one.
  EXPECT_TRUE(allowed({"http://ml-c/"}, "http://ml-c:80/anything"));
  // The configured URL is allowed exactly, with an allow-list or without.
  EXPECT_TRUE(allowed({}, ""));
  EXPECT_TRUE(allowed({}, "http://ml:5000/ml-process-img"));
  EXPECT_FALSE(allowed({}, "http://ml:5000/ml-process-img/more"));
  // An allow-list entry with credentials allows nothing.
  EXPECT_FALSE(allowed({"http://u:p@ml-d/"}, "http://ml-d/x"));
}

TEST(outbound_url, credentials_are_hidden_when_shown) {
  EXPECT_EQ(redact_url("http://user:pass@ml:5000/x"), "http://***@ml:5000/x");
  EXPECT_EQ(redact_url("http://ml:5000/x"), "http://ml:5000/x");
  auto broken = redact_url("http://user:pass@ml:99999999/x");
  EXPECT_EQ(broken.find("pass"), std::string::npos) << broken;
}

} // namespace
} // namespace imgproc
