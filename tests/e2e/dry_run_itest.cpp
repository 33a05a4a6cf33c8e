// End-to-end: dry runs (POST /pipelines/{id}/dry-run, POST /pipelines/dry-run) against the real
// service, ml_mock and database: one entry per step with previews that decode as images of the
// stated size, nothing stored, unsaved definitions checked like POST /pipelines, the admin token.

#include "common/base64.hpp"
#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

http_response dry_run(const service_stack& stack, const std::string& path, const std::string& jpeg,
                      std::optional<json> definition = std::nullopt,
                      std::vector<std::string> headers = {}) {
  std::vector<form_part> parts{file_field("image_file", jpeg, "photo.jpg")};
  if (definition)
    parts.push_back(text_field("pipeline", definition->dump()));
  return post_multipart(stack.url(path), parts, default_http_timeout, headers);
}

/// The preview's image, decoded from its data URL; empty if it is not a JPEG data URL.
cv::Mat preview_image(const json& preview) {
  const std::string prefix = "data:image/jpeg;base64,";
  auto url = preview.value("data_url", "");
  if (url.rfind(prefix, 0) != 0)
    return {};
  auto bytes = base64_decode(std::string_view{url}.substr(prefix.size()));
  if (!bytes)
    return {};
  std::vector<uchar> buffer(bytes->begin(), bytes->end());
  return cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
}

/// Every preview decodes as an image of its stated size, at most 320 px on the long side.
void expect_previews_decode(const json& steps) {
  for (const auto& step : steps) {
    SCOPED_TRACE(step.value("handler", "?"));
    if (step["preview"].is_null())
      continue;
    auto image = preview_image(step["preview"]);
    ASSERT_FALSE(image.empty()) << "preview does not decode";
    EXPECT_EQ(image.cols, step["preview"]["width"].get<int>());
    EXPECT_EQ(image.rows, step["preview"]["height"].get<int>());
    EXPECT_LE(std::max(image.cols, image.rows), 320);
  }
}

TEST(dry_run, car_pipeline_answers_every_step_with_previews_and_stores_nothing) {
  service_stack stack;
  auto response = dry_run(stack, "/pipelines/1/dry-run", read_file(sample_photo_path()));
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  EXPECT_EQ(body["pipeline_id"], 1);
  EXPECT_EQ(body["pipeline_version"], 1);
  EXPECT_EQ(body["title"], "car-detection");
  EXPECT_EQ(body["filename"], "photo.jpg");
  expect_detection_shape(body["status"].get<std::string>(), body["data"]);
  const auto& steps = body["steps"];
  ASSERT_EQ(steps.size(), 6u) << response.body.substr(0, 2000);
  const char* handlers[] = {"decode_jpeg", "resize", "normalize",
                            "encode_jpeg", "base64", "detect"};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(steps[i]["index"], i + 1);
    EXPECT_EQ(steps[i]["handler"], handlers[i]);
    EXPECT_TRUE(steps[i]["params"].is_object());
    EXPECT_GE(steps[i]["time_ms"].get<double>(), 0);
  }
  // What each step produced: the 600x482 photo, 640x640 after resize, JPEG bytes, base64 text.
  EXPECT_EQ(steps[0]["output"]["kind"], "image");
  EXPECT_EQ(steps[0]["output"]["width"], 600);
  EXPECT_EQ(steps[0]["output"]["height"], 482);
  EXPECT_EQ(steps[0]["output"]["channels"], 3);
  EXPECT_EQ(steps[0]["output"]["bytes"], 600 * 482 * 3);
  EXPECT_EQ(steps[1]["output"]["width"], 640);
  EXPECT_EQ(steps[3]["output"]["kind"], "encoded_bytes");
  EXPECT_EQ(steps[3]["output"]["format"], "jpeg");
  EXPECT_EQ(steps[4]["output"]["kind"], "base64_text");
  EXPECT_EQ(steps[5]["output"]["kind"], "detection");
  // Previews: the photo scaled to 320 wide, the 640x640 frames as 320x320, none for base64 text,
  // and the ML step's box drawn on the frame the model saw.
  EXPECT_EQ(steps[0]["preview"]["width"], 320);
  EXPECT_EQ(steps[0]["preview"]["height"], 257);
  for (std::size_t i : {1, 2, 3, 5}) {
    EXPECT_EQ(steps[i]["preview"]["width"], 320) << i;
    EXPECT_EQ(steps[i]["preview"]["height"], 320) << i;
  }
  EXPECT_TRUE(steps[4]["preview"].is_null());
  expect_previews_decode(steps);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0)
      << "a dry run stored a task";
}

TEST(dry_run, an_unsaved_definition_runs_and_an_invalid_one_answers_422_like_post_pipelines) {
  service_stack stack;
  json definition{{"title", "studio draft"},
                  {"steps",
                   {{{"handler", "decode_jpeg"}},
                    {{"handler", "resize"}, {"params", {{"width", 200}, {"height", 100}}}},
                    {{"handler", "grayscale"}}}}};
  auto response = dry_run(stack, "/pipelines/dry-run", read_file(sample_photo_path()), definition);
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  EXPECT_TRUE(body["pipeline_id"].is_null());
  EXPECT_TRUE(body["pipeline_version"].is_null());
  EXPECT_EQ(body["title"], "studio draft");
  EXPECT_EQ(body["status"], "processed");
  ASSERT_EQ(body["steps"].size(), 3u);
  EXPECT_EQ(body["steps"][1]["output"]["width"], 200);
  EXPECT_EQ(body["steps"][1]["preview"]["width"], 200); // smaller than 320: not scaled
  EXPECT_EQ(body["steps"][1]["preview"]["height"], 100);
  EXPECT_EQ(body["steps"][2]["output"]["channels"], 1);
  expect_previews_decode(body["steps"]);

  // The same refusal, word for word, as saving the definition would get.
  definition["steps"][1]["params"]["width"] = 0;
  auto refused = dry_run(stack, "/pipelines/dry-run", read_file(sample_photo_path()), definition);
  auto detail = expect_error(refused, 422);
  EXPECT_NE(detail.find("step 2 (resize): parameter 'width' must be in"), std::string::npos)
      << detail;
  auto saved = send_request("POST", stack.url("/pipelines"), definition.dump());
  EXPECT_EQ(expect_error(saved, 422), detail);
  // Malformed or missing definitions and uploads are 400/415, before anything runs.
  expect_error(dry_run(stack, "/pipelines/dry-run", read_file(sample_photo_path())), 400);
  expect_error(dry_run(stack, "/pipelines/dry-run", make_png(16, 16, 1), definition), 415);
  expect_error(dry_run(stack, "/pipelines/1/dry-run", read_file(sample_photo_path()), definition),
               400);
  expect_error(dry_run(stack, "/pipelines/99/dry-run", read_file(sample_photo_path())), 404);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(
      query_number(stack.dsn(), "SELECT count(*) FROM pipelines WHERE title = 'studio draft'"), 0);
}

TEST(dry_run, a_detector_preview_has_its_boxes_drawn) {
  service_stack stack;
  auto messi = read_file(sample_photo_dir() + "messi5.jpg");
  auto response = dry_run(stack, "/pipelines/3/dry-run", messi); // face-detection
  ASSERT_EQ(response.status, 200) << response.body.substr(0, 500);
  auto body = parse_body(response);
  ASSERT_EQ(body["status"], "detected");
  const auto& detect = body["steps"][2];
  EXPECT_EQ(detect["handler"], "detect_cascade");
  ASSERT_EQ(detect["output"]["boxes"].size(), 1u);
  EXPECT_EQ(detect["output"]["boxes"], body["data"]);
  auto with_boxes = preview_image(detect["preview"]);
  auto without = preview_image(body["steps"][1]["preview"]); // fit_within: the same frame
  ASSERT_FALSE(with_boxes.empty());
  ASSERT_EQ(with_boxes.size(), without.size());
  // The box is drawn in green: the preview differs from the plain frame along it.
  cv::Mat difference;
  cv::absdiff(with_boxes, without, difference);
  EXPECT_GT(cv::countNonZero(difference.reshape(1) > 60), 50);
}

TEST(dry_run, needs_the_admin_token_when_one_is_set) {
  service_stack stack{with_args({"--admin-token=s3cret"})};
  auto photo = read_file(sample_photo_path());
  expect_error(dry_run(stack, "/pipelines/1/dry-run", photo), 401);
  expect_error(
      dry_run(stack, "/pipelines/1/dry-run", photo, std::nullopt, {"Authorization: Bearer wrong"}),
      401);
  auto allowed =
      dry_run(stack, "/pipelines/1/dry-run", photo, std::nullopt, {"Authorization: Bearer s3cret"});
  EXPECT_EQ(allowed.status, 200) << allowed.body.substr(0, 300);
}

TEST(dry_run, more_than_the_limit_at_once_answer_503_and_a_held_one_ends_at_its_deadline) {
  // The ML service is a fake that reads each call and never answers (a real part cannot be made
  // to hold calls on demand): the first dry run holds the one slot in its detect step.
  canned_server holding_ml{std::nullopt};
  service_stack stack{with_args({"--dry-run-limit=1", "--ml-url=" + holding_ml.url(),
                                 "--ml-retries=0", "--request-timeout-ms=3000"},
                                false)};
  auto photo = read_file(sample_photo_path());
  http_response held;
  std::thread first{[&] { held = dry_run(stack, "/pipelines/1/dry-run", photo); }};
  ASSERT_TRUE(holding_ml.wait_for_requests(1, std::chrono::seconds(10)));
  auto detail = expect_error(dry_run(stack, "/pipelines/1/dry-run", photo), 503);
  EXPECT_NE(detail.find("--dry-run-limit"), std::string::npos) << detail;
  first.join();
  EXPECT_EQ(held.status, 504) << held.body; // the held one ends at the request's deadline
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
}

} // namespace
} // namespace imgproc::testing::e2e
