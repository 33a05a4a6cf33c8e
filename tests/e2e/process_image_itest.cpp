// End-to-end: POST /process-image against the real imgproc and ml_mock processes and a scratch
// database. Each test starts its own stack (see tests/support/stack.hpp).

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

const std::set<std::string> response_keys{"id", "pipeline_id", "status", "filename", "data"};

TEST(process_image, real_photo_is_processed_stored_and_readable) {
  service_stack stack;
  auto photo = read_file(sample_photo_path());

  auto response = upload(stack, "/process-image?pipeline_id=1", photo, "a.jpg");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("content-type").rfind("application/json", 0), 0u);
  auto body = parse_body(response);
  ASSERT_EQ(keys_of(body), response_keys) << response.body;
  ASSERT_TRUE(body["id"].is_number_integer());
  auto id = body["id"].get<std::int64_t>();
  EXPECT_GT(id, 0);
  EXPECT_EQ(body["pipeline_id"], 1);
  EXPECT_EQ(body["filename"], "a.jpg");
  ASSERT_TRUE(body["status"].is_string());
  auto status = body["status"].get<std::string>();
  expect_detection_shape(status, body["data"]);

  // The stored task, through the API...
  for (const char* prefix : {"/tasks/", "/api/tasks/"}) {
    SCOPED_TRACE(prefix);
    auto task = get(stack.url(prefix + std::to_string(id)));
    ASSERT_EQ(task.status, 200) << task.body;
    auto stored = parse_body(task);
    auto keys = response_keys;
    keys.insert({"pipeline_version", "created_at", "finished_at"});
    EXPECT_EQ(keys_of(stored), keys) << task.body;
    for (const auto& key : response_keys)
      EXPECT_EQ(stored[key], body[key]) << key;
    EXPECT_TRUE(stored["created_at"].is_string()) << task.body;
    EXPECT_TRUE(stored["finished_at"].is_string()) << task.body;
  }

  // ...and in the table itself.
  auto row = read_task(stack.dsn(), id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, status);
  EXPECT_EQ(row->filename, "a.jpg");
  EXPECT_EQ(row->pipeline_id, 1);
  EXPECT_EQ(row->data, body["data"]);
  EXPECT_FALSE(row->error);
  EXPECT_TRUE(row->finished);
}

TEST(process_image, fixed_seed_gives_both_outcomes) {
  service_stack stack{with_mock(7)};
  std::map<std::string, int> seen;
  for (int i = 0; i < 40; ++i) {
    auto response = upload(stack, "/process-image?pipeline_id=1", make_jpeg(96 + i, 64, i),
                           "img" + std::to_string(i) + ".jpg");
    ASSERT_EQ(response.status, 200) << response.body;
    auto body = parse_body(response);
    auto status = body["status"].get<std::string>();
    expect_detection_shape(status, body["data"]);
    EXPECT_EQ(body["filename"], "img" + std::to_string(i) + ".jpg");
    ++seen[status];
  }
  EXPECT_GT(seen["detected"], 0);
  EXPECT_GT(seen["undetected"], 0);
}

TEST(process_image, detected_fraction_matches_the_mock_over_200_requests) {
  service_stack stack{with_mock(2024, 0.5)};
  constexpr int total = 200;
  constexpr int clients = 4;
  // Several clients at once: the mock draws its answers in arrival order, so the number of
  // detections is the same as sequentially while the pipeline runs requests concurrently.
  std::atomic<int> next{0};
  std::mutex mutex;
  std::map<std::string, int> seen;
  std::set<std::int64_t> ids;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (int i = next++; i < total; i = next++) {
        try {
          auto response = upload(stack, "/process-image?pipeline_id=1", make_jpeg(80, 60, i));
          auto body = json::parse(response.body, nullptr, false);
          std::lock_guard<std::mutex> lock{mutex};
          if (response.status != 200 || body.is_discarded() || !body["status"].is_string()) {
            failures.push_back(std::to_string(response.status) + " " + response.body);
            continue;
          }
          ++seen[body["status"].get<std::string>()];
          ids.insert(body["id"].get<std::int64_t>());
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock{mutex};
          failures.push_back(e.what());
        }
      }
    });
  for (auto& t : threads)
    t.join();

  ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(seen["detected"] + seen["undetected"], total);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(total)) << "task ids must be unique";
  double fraction = static_cast<double>(seen["detected"]) / total;
  EXPECT_GE(fraction, 0.4);
  EXPECT_LE(fraction, 0.6);

  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), total);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'detected'"),
            seen["detected"]);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE finished_at IS NULL"), 0);
}

TEST(process_image, pipeline_id_as_form_field_and_alternative_paths) {
  service_stack stack;
  auto image = make_jpeg(120, 90, 1);

  auto form = upload(stack, "/process-image", image, "form.jpg", {text_field("pipeline_id", "1")});
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(parse_body(form)["pipeline_id"], 1);
  EXPECT_EQ(parse_body(form)["filename"], "form.jpg");

  // The same id in both places is not a conflict.
  auto both = upload(stack, "/process-image?pipeline_id=1", image, "a.jpg",
                     {text_field("pipeline_id", "1")});
  EXPECT_EQ(both.status, 200) << both.body;

  // Only the last path component is kept.
  auto sneaky = upload(stack, "/process-image?pipeline_id=1", image, "../../etc/car.jpg");
  ASSERT_EQ(sneaky.status, 200) << sneaky.body;
  EXPECT_EQ(parse_body(sneaky)["filename"], "car.jpg");
  auto row = read_task(stack.dsn(), parse_body(sneaky)["id"].get<std::int64_t>());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->filename, "car.jpg");

  for (const char* path : {"/process_image", "/api/process-image"}) {
    SCOPED_TRACE(path);
    auto response = upload(stack, std::string{path} + "?pipeline_id=1", image);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(keys_of(parse_body(response)), response_keys);
  }
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);
}

TEST(process_image, malformed_requests_answer_400) {
  service_stack stack;
  auto image = make_jpeg(64, 64, 3);
  const std::string url = stack.url("/process-image?pipeline_id=1");

  {
    SCOPED_TRACE("missing pipeline_id");
    expect_error(upload(stack, "/process-image", image), 400);
  }
  for (const char* id : {"abc", "0", "-1", "1.5", "", "99999999999"}) {
    SCOPED_TRACE(std::string{"pipeline_id="} + id);
    expect_error(upload(stack, std::string{"/process-image?pipeline_id="} + id, image), 400);
    expect_error(upload(stack, "/process-image", image, "a.jpg", {text_field("pipeline_id", id)}),
                 400);
  }
  {
    SCOPED_TRACE("malformed query string");
    expect_error(upload(stack, "/process-image?pipeline_id=%zz", image), 400);
  }
  {
    SCOPED_TRACE("query and form disagree");
    expect_error(upload(stack, "/process-image?pipeline_id=1", image, "a.jpg",
                        {text_field("pipeline_id", "2")}),
                 400);
  }
  {
    SCOPED_TRACE("missing image_file");
    expect_error(post_multipart(url, {file_field("other", "x", "a.jpg")}), 400);
  }
  {
    SCOPED_TRACE("image_file twice");
    expect_error(upload(stack, "/process-image?pipeline_id=1", image, "a.jpg",
                        {file_field("image_file", image, "b.jpg")}),
                 400);
  }
  {
    SCOPED_TRACE("empty image_file");
    expect_error(upload(stack, "/process-image?pipeline_id=1", "", "a.jpg"), 400);
  }
  {
    SCOPED_TRACE("JSON body");
    expect_error(post_raw(url, R"({"image_file": "abc"})", "application/json"), 400);
  }
  {
    SCOPED_TRACE("form-urlencoded body");
    expect_error(post_raw(url, "image_file=abc", "application/x-www-form-urlencoded"), 400);
  }
  {
    SCOPED_TRACE("multipart without boundary");
    expect_error(post_raw(url, "--x\r\n\r\n", "multipart/form-data"), 400);
  }
  {
    SCOPED_TRACE("boundary declared, body garbage");
    expect_error(post_raw(url, random_bytes(2000, 5), "multipart/form-data; boundary=XyZ123"), 400);
  }
  {
    SCOPED_TRACE("part without Content-Disposition");
    std::string body =
        "--XyZ123\r\nContent-Type: image/jpeg\r\n\r\n" + image + "\r\n--XyZ123--\r\n";
    expect_error(post_raw(url, body, "multipart/form-data; boundary=XyZ123"), 400);
  }
  // None of them may have created a task.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  expect_healthy(stack);
}

TEST(process_image, unknown_pipeline_answers_404_without_creating_a_task) {
  service_stack stack;
  auto detail =
      expect_error(upload(stack, "/process-image?pipeline_id=999", make_jpeg(64, 64, 1)), 404);
  EXPECT_NE(detail.find("999"), std::string::npos) << detail;
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  expect_healthy(stack);
}

TEST(process_image, upload_over_the_limit_answers_413) {
  service_stack stack{with_args({"--max-upload-bytes=200000"})};
  auto big = make_jpeg(64, 64, 1) + random_bytes(300000, 9);
  expect_error(upload(stack, "/process-image?pipeline_id=1", big), 413);
  // Far above the limit: still a 413, not a dropped connection.
  expect_error(upload(stack, "/process-image?pipeline_id=1", random_bytes(350000, 10)), 413);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  // Under the limit still works.
  auto small = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 2));
  EXPECT_EQ(small.status, 200) << small.body;
  expect_healthy(stack);
}

TEST(process_image, image_declaring_too_many_pixels_answers_413_before_decoding) {
  service_stack stack;
  // A small upload whose header claims 60000 x 60000: refused from the header alone, before a
  // task exists.
  auto bomb = with_declared_size(make_jpeg(64, 64, 1), 60000, 60000);
  auto detail = expect_error(upload(stack, "/process-image?pipeline_id=1", bomb), 413);
  EXPECT_NE(detail.find("60000x60000"), std::string::npos) << detail;
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  expect_healthy(stack);
}

TEST(process_image, non_jpeg_uploads_answer_415) {
  service_stack stack;
  {
    SCOPED_TRACE("PNG");
    expect_error(upload(stack, "/process-image?pipeline_id=1", make_png(64, 64, 1), "a.png"), 415);
  }
  {
    SCOPED_TRACE("text named a.jpg");
    expect_error(upload(stack, "/process-image?pipeline_id=1", "hello, I am not a picture\n"), 415);
  }
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  expect_healthy(stack);
}

TEST(process_image, undecodable_jpeg_answers_422_and_fails_the_task) {
  service_stack stack;
  auto real = make_jpeg(200, 150, 4);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"headers intact, no scan data", make_undecodable_jpeg(200, 150, 4)},
      {"first 100 bytes, then random", real.substr(0, 100) + random_bytes(3000, 11)},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    auto detail = expect_error(upload(stack, "/process-image?pipeline_id=1", bytes), 422);
    EXPECT_NE(detail.find("decode_jpeg"), std::string::npos) << detail;
    auto row = last_task(stack.dsn());
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "failed");
    ASSERT_TRUE(row->error);
    EXPECT_NE(row->error->find("decode_jpeg"), std::string::npos) << *row->error;
    EXPECT_TRUE(row->finished);
    // The failed task is readable, with its error.
    auto task = get(stack.url("/tasks/" + std::to_string(row->id)));
    EXPECT_EQ(task.status, 200) << task.body;
    EXPECT_EQ(parse_body(task)["status"], "failed");
  }
  expect_healthy(stack);
}

TEST(process_image, a_damaged_jpeg_is_refused_naming_the_defect_unless_the_pipeline_accepts_it) {
  service_stack stack;
  auto real = make_jpeg(320, 240, 7);
  auto cut = real.substr(0, real.size() * 6 / 10); // ends inside its scan data
  auto detail = expect_error(upload(stack, "/process-image?pipeline_id=1", cut, "cut.jpg"), 422);
  EXPECT_NE(detail.find("Premature end of JPEG file"), std::string::npos) << detail;
  auto row = last_task(stack.dsn());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "failed");
  ASSERT_TRUE(row->error);
  EXPECT_NE(row->error->find("Premature end of JPEG file"), std::string::npos) << *row->error;

  // A pipeline that accepts damaged data decodes what is there (the rest grey), as OpenCV does.
  json pipeline = {{"title", "lenient decode"},
                   {"steps",
                    {{{"handler", "decode_jpeg"}, {"params", {{"corrupt_data", "accept"}}}},
                     {{"handler", "resize"}, {"params", {{"width", 64}, {"height", 64}}}}}}};
  auto created = send_request("POST", stack.url("/pipelines"), pipeline.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = parse_body(created)["id"].get<int>();
  auto accepted = upload(stack, "/process-image?pipeline_id=" + std::to_string(id), cut, "cut.jpg");
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(parse_body(accepted)["status"], "processed");
  expect_healthy(stack);
}

/// Runs one request against a stack whose ML service is broken and checks the 502 and the
/// failed task row. Returns the detail.
std::string expect_ml_failure(service_stack& stack) {
  auto response = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 1));
  auto detail = expect_error(response, 502);
  EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
  auto row = last_task(stack.dsn());
  EXPECT_TRUE(row);
  if (row) {
    EXPECT_EQ(row->status, "failed");
    EXPECT_TRUE(row->finished);
    EXPECT_TRUE(row->error && row->error->find(detail) != std::string::npos)
        << "stored error: " << row->error.value_or("(null)") << "\nanswered: " << detail;
  }
  expect_healthy(stack);
  return detail;
}

TEST(process_image, ml_service_down_answers_502) {
  refusing_port dead;
  service_stack stack{with_args({"--ml-url=" + dead.url()}, /*ml_mock=*/false)};
  auto detail = expect_ml_failure(stack);
  EXPECT_NE(detail.find("unreachable"), std::string::npos) << detail;
}

TEST(process_image, ml_service_too_slow_answers_502) {
  silent_server hung; // accepts connections at the TCP level and never answers
  service_stack stack{
      with_args({"--ml-url=" + hung.url(), "--ml-timeout-ms=300"}, /*ml_mock=*/false)};
  auto started = std::chrono::steady_clock::now();
  auto detail = expect_ml_failure(stack);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_NE(detail.find("did not answer within"), std::string::npos) << detail;
}

TEST(process_image, ml_timeout_option_applies_when_the_step_sets_none) {
  silent_server hung;
  service_stack stack{
      with_args({"--ml-url=" + hung.url(), "--ml-timeout-ms=300"}, /*ml_mock=*/false)};
  // A detect step's own timeout_ms would override the option; make sure there is none. No
  // request has loaded the pipeline yet, so no cached copy hides the edit.
  execute(stack.dsn(), "UPDATE pipeline_steps SET params = '{}' WHERE pipeline_id = 1 AND "
                       "step_kind_id = (SELECT id FROM step_kinds WHERE handler = 'detect')");
  auto detail = expect_ml_failure(stack);
  EXPECT_NE(detail.find("within 300 ms"), std::string::npos) << detail;
}

TEST(process_image, request_deadline_answers_504) {
  canned_server stuck{std::nullopt}; // reads the request, never answers
  service_stack stack{
      with_args({"--ml-url=" + stuck.url(), "--request-timeout-ms=3000"}, /*ml_mock=*/false)};
  auto started = std::chrono::steady_clock::now();
  auto detail =
      expect_error(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 1)), 504);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
  EXPECT_EQ(stuck.requests(), 1);
  // The row is marked failed after the answer (best effort): poll it, bounded.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto row = last_task(stack.dsn());
  while (row && row->status == "processing" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    row = last_task(stack.dsn());
  }
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "failed");
  EXPECT_TRUE(row->error && row->error->find("deadline_exceeded") != std::string::npos)
      << row->error.value_or("(null)");
  expect_healthy(stack);
}

TEST(process_image, ml_service_answering_garbage_answers_502) {
  canned_server garbage{canned_server::ok_response("internal-secret-42")};
  service_stack stack{with_args({"--ml-url=" + garbage.url()}, /*ml_mock=*/false)};
  auto detail = expect_ml_failure(stack);
  EXPECT_NE(detail.find("not a JSON array"), std::string::npos) << detail;
  // What another host answered is never echoed: a detect url could be anything's.
  EXPECT_EQ(detail.find("internal-secret-42"), std::string::npos) << detail;
  EXPECT_EQ(garbage.requests(), 1);

  // An HTTP error from the ML service is a 502 too.
  canned_server failing{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
                        "Connection: close\r\n\r\noops"};
  stack.restart_imgproc({"--ml-url=" + failing.url()});
  detail = expect_ml_failure(stack);
  EXPECT_NE(detail.find("500"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("oops"), std::string::npos) << detail;
}

TEST(process_image, credentials_in_the_ml_url_are_never_shown) {
  refusing_port dead;
  auto with_credentials = "http://operator:hunter2secret@" + dead.url().substr(7);
  service_stack stack{with_args({"--ml-url=" + with_credentials, "--ml-breaker-failures=1"},
                                /*ml_mock=*/false)};
  // Once for the failure itself, once more for the open circuit, which names the URL.
  for (int i = 0; i < 2; ++i) {
    auto detail = expect_ml_failure(stack); // also the stored error: it equals the answer
    EXPECT_EQ(detail.find("hunter2secret"), std::string::npos) << detail;
  }
  std::ifstream log{stack.imgproc().stderr_path()};
  std::string text{std::istreambuf_iterator<char>(log), {}};
  EXPECT_NE(text.find("http://***@127.0.0.1:"), std::string::npos) << text; // the URL is logged
  EXPECT_EQ(text.find("hunter2secret"), std::string::npos) << text;
}

} // namespace
} // namespace imgproc::testing::e2e
