#include "core/detector_client.hpp"
#include "tests/support/fake_ml.hpp"

#include <gtest/gtest.h>
#include <thread>

namespace imgproc {
namespace {

using namespace std::chrono_literals;
using testing::canned_server;
using testing::sequence_server;

/// Settings for a fake at `url`, with breakers of their own (not the process-wide ones).
detector_settings fake_settings(const std::string& url, int retries = 2,
                                std::size_t breaker_failures = 100,
                                std::chrono::milliseconds breaker_open = 60000ms) {
  detector_settings settings;
  settings.url = url;
  settings.timeout = 2000ms;
  settings.connect_timeout = 1000ms;
  settings.retries = retries;
  settings.breaker = {breaker_failures, breaker_open};
  settings.breakers = std::make_shared<breaker_registry>();
  return settings;
}

const std::string http_500 = sequence_server::response("500 Internal Server Error", "oops");
const std::string empty_answer = sequence_server::response("200 OK", "[]");

TEST(parse_ml_answer, empty_list_is_nothing_found) {
  auto r = parse_ml_answer("[]");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r.value());
}

TEST(parse_ml_answer, one_box_in_the_standard_format) {
  auto r = parse_ml_answer("[200, 300, 150, 50, 0.83, 1]");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r.value());
  const auto& d = *r.value();
  EXPECT_EQ(d.top_left_x, 200);
  EXPECT_EQ(d.top_left_y, 300);
  EXPECT_EQ(d.width, 150);
  EXPECT_EQ(d.height, 50);
  EXPECT_DOUBLE_EQ(d.confidence, 0.83);
  EXPECT_EQ(d.class_id, 1);
}

TEST(parse_ml_answer, a_list_of_boxes_keeps_the_most_confident) {
  auto r = parse_ml_answer("[[1,2,3,4,0.2,1],[5,6,7,8,0.9,1]]");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r.value());
  EXPECT_EQ(r.value()->top_left_x, 5);
}

TEST(parse_ml_answer, garbage_is_a_bad_response) {
  for (const char* body : {"", "not json", "{}", "[1,2,3]", "[1,2,3,4,5,6]", "[1,2,-3,4,0.5,1]",
                           "[\"a\",2,3,4,0.5,1]", "[1,2,3,4,0.5,1,7]", "[[1,2,3,4,0.5]]"}) {
    auto r = parse_ml_answer(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, error_code::ml_bad_response) << body;
  }
}

TEST(detector_client, unreachable_service_is_ml_unavailable) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  detector_client client{{"http://127.0.0.1:1/ml-process-img",
                          std::chrono::milliseconds(2000),
                          std::chrono::milliseconds(1000),
                          {}}};
  auto r = client.detect("Zm9v", "", std::chrono::milliseconds(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable);
}

TEST(detector_client, a_step_may_only_call_allowed_urls) {
  detector_settings settings{"http://ml:5000/ml-process-img",
                             std::chrono::milliseconds(100),
                             std::chrono::milliseconds(100),
                             {"http://ml-b:5000/"}};
  EXPECT_TRUE(url_allowed(settings, ""));
  EXPECT_TRUE(url_allowed(settings, "http://ml:5000/ml-process-img"));
  EXPECT_TRUE(url_allowed(settings, "http://ml-b:5000/detect"));
  EXPECT_FALSE(url_allowed(settings, "http://127.0.0.1:8000/tasks/1"));
  detector_client client{settings};
  auto r = client.detect("Zm9v", "http://169.254.169.254/latest", std::chrono::milliseconds(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::step_failed);
}

// The client checks a url once and remembers it; another url is checked anew, never let through
// because the one before it was allowed.
TEST(detector_client, a_url_checked_once_does_not_let_another_through) {
  sequence_server ml{{empty_answer}};
  auto settings = fake_settings(ml.url());
  detector_client client{settings};
  ASSERT_TRUE(client.detect("Zm9v", "", 0ms));
  ASSERT_TRUE(client.detect("Zm9v", ml.url(), 0ms));
  auto refused = client.detect("Zm9v", "http://169.254.169.254/latest", 0ms);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::step_failed);
  EXPECT_TRUE(client.detect("Zm9v", "", 0ms));
  EXPECT_EQ(ml.requests(), 3);
}

TEST(detector_client, a_transient_500_is_retried_and_then_succeeds) {
  sequence_server ml{{http_500, http_500, empty_answer}};
  detector_client client{fake_settings(ml.url())};
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_FALSE(r.value());
  EXPECT_EQ(ml.requests(), 3);
}

TEST(detector_client, retries_end_after_the_configured_number) {
  sequence_server ml{{http_500}};
  detector_client client{fake_settings(ml.url(), 2)};
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable);
  EXPECT_NE(r.error().detail.find("HTTP 500"), std::string::npos) << r.error().detail;
  EXPECT_EQ(ml.requests(), 3);
}

TEST(detector_client, garbage_is_not_retried) {
  sequence_server ml{{sequence_server::response("200 OK", "not json"), empty_answer}};
  detector_client client{fake_settings(ml.url())};
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_bad_response);
  EXPECT_EQ(ml.requests(), 1);
}

TEST(detector_client, a_client_error_is_not_retried) {
  sequence_server ml{{sequence_server::response("400 Bad Request", "no image"), empty_answer}};
  detector_client client{fake_settings(ml.url())};
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable);
  EXPECT_EQ(ml.requests(), 1);
}

TEST(detector_client, a_timeout_is_retried) {
  canned_server hung{std::nullopt}; // reads each request, never answers
  auto settings = fake_settings(hung.url(), 2);
  detector_client client{settings};
  auto r = client.detect("Zm9v", "", 100ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_timeout);
  EXPECT_NE(r.error().detail.find("within 100 ms"), std::string::npos) << r.error().detail;
  EXPECT_TRUE(hung.wait_for_requests(3, 5000ms));
  EXPECT_EQ(hung.requests(), 3);
}

TEST(detector_client, retries_stop_at_the_deadline) {
  // Ten retries would take over 25 s of backoff; the deadline ends them after a few. The ML
  // service's own error is what the caller hears: it, not the deadline, is the cause.
  sequence_server ml{{http_500}};
  detector_client client{fake_settings(ml.url(), 10)};
  auto r = client.detect("Zm9v", "", 0ms, std::chrono::steady_clock::now() + 300ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable) << r.error().detail;
  EXPECT_GE(ml.requests(), 2);
  EXPECT_LT(ml.requests(), 11);
}

TEST(detector_client, an_attempt_cut_by_the_deadline_is_deadline_exceeded) {
  canned_server hung{std::nullopt};
  detector_client client{fake_settings(hung.url(), 10)};
  auto r = client.detect("Zm9v", "", 10000ms, std::chrono::steady_clock::now() + 200ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::deadline_exceeded) << r.error().detail;
  EXPECT_EQ(hung.requests(), 1); // no retry: no time is left for one
}

TEST(detector_client, an_open_circuit_refuses_at_once_and_names_the_service) {
  sequence_server ml{{http_500}};
  detector_client client{fake_settings(ml.url(), 0, 2, 60000ms)};
  for (int i = 0; i < 2; ++i) {
    auto r = client.detect("Zm9v", "", 0ms);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("HTTP 500"), std::string::npos) << r.error().detail;
  }
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable);
  const auto& detail = r.error().detail;
  EXPECT_NE(detail.find("ML service at " + ml.url()), std::string::npos) << detail;
  EXPECT_NE(detail.find("circuit open after 2 failures"), std::string::npos) << detail;
  EXPECT_NE(detail.find("retrying it in"), std::string::npos) << detail;
  EXPECT_EQ(ml.requests(), 2);
}

TEST(detector_client, the_breaker_is_shared_by_the_clients_of_a_url) {
  sequence_server ml{{http_500}};
  auto settings = fake_settings(ml.url(), 0, 3, 60000ms);
  detector_client a{settings};
  detector_client b{settings};
  for (int i = 0; i < 3; ++i)
    ASSERT_FALSE(a.detect("Zm9v", "", 0ms));
  auto r = b.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("circuit open"), std::string::npos) << r.error().detail;
  EXPECT_EQ(ml.requests(), 3);
}

TEST(detector_client, retries_stop_when_the_circuit_opens) {
  sequence_server ml{{http_500}};
  detector_client client{fake_settings(ml.url(), 5, 2, 60000ms)};
  auto r = client.detect("Zm9v", "", 0ms);
  ASSERT_FALSE(r);
  // The call's own last failure, not the circuit, is what it reports.
  EXPECT_NE(r.error().detail.find("HTTP 500"), std::string::npos) << r.error().detail;
  EXPECT_EQ(ml.requests(), 2);
}

TEST(detector_client, a_recovered_service_closes_the_circuit_after_the_open_period) {
  sequence_server ml{{http_500, http_500, empty_answer}};
  detector_client client{fake_settings(ml.url(), 0, 2, 50ms)};
  ASSERT_FALSE(client.detect("Zm9v", "", 0ms));
  ASSERT_FALSE(client.detect("Zm9v", "", 0ms));
  // Refused at once while open, then the probe succeeds: poll, bounded.
  bool recovered = false;
  auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!recovered && std::chrono::steady_clock::now() < give_up) {
    auto r = client.detect("Zm9v", "", 0ms);
    recovered = r.ok();
    if (!recovered) {
      EXPECT_NE(r.error().detail.find("circuit open"), std::string::npos) << r.error().detail;
      std::this_thread::sleep_for(5ms);
    }
  }
  EXPECT_TRUE(recovered);
  EXPECT_EQ(ml.requests(), 3);
  EXPECT_TRUE(client.detect("Zm9v", "", 0ms));
}

TEST(parse_ml_answer, refuses_deep_nesting_without_recursing) {
  std::string deep(100000, '[');
  auto r = parse_ml_answer(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_bad_response);
}

} // namespace
} // namespace imgproc
