#include "core/errors.hpp"
#include "http/api_json.hpp"

#include <gtest/gtest.h>
#include <map>

namespace imgproc {
namespace {

TEST(errors, every_code_maps_to_its_documented_status_and_name) {
  // The README's error table; a fall-through in the switch would show up here.
  const std::map<error_code, std::pair<int, std::string>> table = {
      {error_code::bad_request, {400, "bad_request"}},
      {error_code::pipeline_not_found, {404, "pipeline_not_found"}},
      {error_code::payload_too_large, {413, "payload_too_large"}},
      {error_code::image_too_large, {413, "image_too_large"}},
      {error_code::unsupported_media_type, {415, "unsupported_media_type"}},
      {error_code::invalid_pipeline, {422, "invalid_pipeline"}},
      {error_code::undecodable_image, {422, "undecodable_image"}},
      {error_code::ml_unavailable, {502, "ml_unavailable"}},
      {error_code::ml_bad_response, {502, "ml_bad_response"}},
      {error_code::ml_timeout, {502, "ml_timeout"}},
      {error_code::database_unavailable, {503, "database_unavailable"}},
      {error_code::overloaded, {503, "overloaded"}},
      {error_code::deadline_exceeded, {504, "deadline_exceeded"}},
      {error_code::internal, {500, "internal"}},
      {error_code::step_failed, {422, "step_failed"}},
      {error_code::pipeline_retired, {410, "pipeline_retired"}},
      {error_code::conflict, {409, "conflict"}},
      {error_code::unauthorized, {401, "unauthorized"}},
      {error_code::image_too_small, {422, "image_too_small"}},
      {error_code::uri_too_long, {414, "uri_too_long"}},
      {error_code::headers_too_large, {431, "headers_too_large"}},
      {error_code::task_not_found, {404, "task_not_found"}},
      {error_code::shutting_down, {503, "shutting_down"}},
      {error_code::starting_up, {503, "starting_up"}},
      {error_code::client_gone, {499, "client_gone"}},
  };
  for (const auto& [code, expected] : table) {
    EXPECT_EQ(http_status(code), expected.first) << expected.second;
    EXPECT_EQ(to_string(code), expected.second);
  }
  // Codes travel as numbers in CAF errors: appending keeps old numbers stable.
  EXPECT_EQ(static_cast<int>(error_code::bad_request), 1);
  EXPECT_EQ(static_cast<int>(error_code::internal), 14);
  EXPECT_EQ(static_cast<int>(error_code::headers_too_large), 21);
}

TEST(errors, a_503_says_when_to_retry_and_other_failures_do_not) {
  EXPECT_EQ(failure_reply(make_failure(error_code::overloaded, "busy")).retry_after, "1");
  EXPECT_EQ(failure_reply(make_failure(error_code::database_unavailable, "x")).retry_after, "1");
  EXPECT_EQ(failure_reply(make_failure(error_code::starting_up, "x")).retry_after, "2");
  auto bad = failure_reply(make_failure(error_code::bad_request, "no \"pipeline_id\""));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.retry_after, "");
  EXPECT_EQ(nlohmann::json::parse(bad.body), (nlohmann::json{{"detail", "no \"pipeline_id\""}}));
}

TEST(errors, only_the_service_side_codes_are_server_side) {
  for (int raw = 1; raw <= static_cast<int>(error_code::client_gone); ++raw) {
    auto code = static_cast<error_code>(raw);
    EXPECT_EQ(is_server_side(code), http_status(code) >= 500) << to_string(code);
  }
}

} // namespace
} // namespace imgproc
