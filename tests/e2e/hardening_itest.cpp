// End-to-end: what a hostile client tried against the service, each answered the way
// docs/security.md says, against the real imgproc and a scratch database.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/fault_report.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

json step(const std::string& handler, json params = json::object()) {
  return {{"handler", handler}, {"params", std::move(params)}};
}

/// The car chain with `detect_params` on its detect step.
json detect_pipeline(const std::string& title, json detect_params) {
  return {
      {"title", title},
      {"steps", json::array({step("decode_jpeg"), step("resize", {{"width", 64}, {"height", 64}}),
                             step("normalize"), step("encode_jpeg"), step("base64"),
                             step("detect", std::move(detect_params))})}};
}

http_response post_json(const service_stack& stack, const std::string& method,
                        const std::string& path, const json& body) {
  return send_request(method, stack.url(path), body.dump(), {"Content-Type: application/json"});
}

// A prefix check took `http://127.0.0.1:A@127.0.0.1:B/stolen` as within `http://127.0.0.1:A`,
// and the image went to port B: URLs are now parsed and compared part by part, when a pipeline is
// saved and again when it runs.
TEST(hardening, a_detect_url_past_the_allow_list_is_refused_when_saved_and_never_called) {
  canned_server allowed_ml{canned_server::ok_response("[]")};
  canned_server other_host{canned_server::ok_response("[]")};
  const std::string allowed_base = "http://127.0.0.1:" + std::to_string(allowed_ml.port());
  const std::string stolen =
      allowed_base + "@127.0.0.1:" + std::to_string(other_host.port()) + "/stolen";
  service_stack stack{with_args({"--ml-allowed-urls=" + allowed_base})};

  for (const std::string& url :
       {stolen, "http://user:pw@127.0.0.1:" + std::to_string(allowed_ml.port()) + "/x",
        "http://127.0.0.1:" + std::to_string(other_host.port()) + "/ml-process-img",
        std::string{"http://169.254.169.254/latest/meta-data"}}) {
    SCOPED_TRACE(url);
    auto detail = expect_error(
        post_json(stack, "POST", "/pipelines", detect_pipeline("ssrf", {{"url", url}})), 422);
    EXPECT_NE(detail.find("step 6 (detect)"), std::string::npos) << detail;
    EXPECT_NE(detail.find("'url'"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("pw@"), std::string::npos) << detail;
  }
  // PUT is held to the same rule.
  expect_error(
      post_json(stack, "PUT", "/pipelines/1", detect_pipeline("car-detection", {{"url", stolen}})),
      422);

  auto created = post_json(stack, "POST", "/pipelines",
                           detect_pipeline("allowed", {{"url", allowed_base + "/detect"}}));
  ASSERT_EQ(created.status, 201) << created.body;
  int id = parse_body(created)["id"].get<int>();
  auto ran =
      upload(stack, "/process-image?pipeline_id=" + std::to_string(id), make_jpeg(64, 64, 1));
  EXPECT_EQ(ran.status, 200) << ran.body;
  EXPECT_EQ(allowed_ml.requests(), 1);

  // Written behind the API's back, the URL is refused when the pipeline runs, before any call.
  execute(stack.dsn(), "UPDATE pipeline_steps SET params = '{\"url\": \"" + stolen +
                           "\"}' WHERE pipeline_id = 1 AND step_kind_id = (SELECT id FROM "
                           "step_kinds WHERE handler = 'detect')");
  auto refused = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 1));
  auto detail = expect_error(refused, 422);
  EXPECT_NE(detail.find("'url'"), std::string::npos) << detail;
  EXPECT_EQ(other_host.requests(), 0) << "the image was sent to a host outside the allow-list";
  expect_healthy(stack);
}

// PostgreSQL's text cannot hold a NUL: such a pipeline answered 503 "database unavailable" with
// Retry-After, as if a retry could help.
TEST(hardening, a_nul_character_in_a_pipeline_is_a_client_error) {
  service_stack stack;
  json with_nul_param{
      {"title", "nul-param"},
      {"steps",
       json::array({step("decode_jpeg"), step("encode", {{"format", std::string{"p\0ng", 4}}})})}};
  json nul_url = detect_pipeline("nul-url", {{"url", std::string{"http://ml\0/", 11}}});
  json nul_title = detect_pipeline(std::string{"nul\0title", 9}, json::object());
  json nul_description = detect_pipeline("nul-description", json::object());
  nul_description["description"] = std::string{"a\0b", 3};
  for (const auto& [method, path] :
       {std::pair<std::string, std::string>{"POST", "/pipelines"}, {"PUT", "/pipelines/1"}}) {
    SCOPED_TRACE(method);
    for (const auto& body : {with_nul_param, nul_url, nul_title, nul_description}) {
      auto response = post_json(stack, method, path, body);
      EXPECT_TRUE(response.status == 400 || response.status == 422) << response.body;
      EXPECT_EQ(response.header("retry-after"), "") << response.body;
      EXPECT_NE(response.body.find("NUL"), std::string::npos) << response.body;
    }
  }
  expect_healthy(stack);
}

TEST(hardening, the_title_limit_counts_characters_not_bytes) {
  service_stack stack;
  std::string two_hundred;
  for (int i = 0; i < 200; ++i)
    two_hundred += "\xc3\xa9"; // é: two bytes, one character
  auto accepted =
      post_json(stack, "POST", "/pipelines", detect_pipeline(two_hundred, json::object()));
  EXPECT_EQ(accepted.status, 201) << accepted.body;
  auto refused = post_json(stack, "POST", "/pipelines",
                           detect_pipeline(two_hundred + "\xc3\xa9", json::object()));
  auto detail = expect_error(refused, 400);
  EXPECT_NE(detail.find("200 characters"), std::string::npos) << detail;
}

http_response dry_run_inline(const service_stack& stack, const std::string& jpeg,
                             const json& definition) {
  return post_multipart(
      stack.url("/pipelines/dry-run"),
      {file_field("image_file", jpeg, "photo.jpg"), text_field("pipeline", definition.dump())});
}

// A dry run of decode -> fit_within 16384 with upscale -> detect_cascade on a 73 KB photo raised
// RSS from 276 MB to 9.1 GB, and 8.5 GB stayed. Now it is refused from the plan and the header.
TEST(hardening, a_request_over_its_budget_is_refused_before_any_work) {
  service_stack stack;
  auto photo = read_file(sample_photo_path()); // 600x482
  auto before = resident_kib(stack.imgproc().pid());
  json bomb{
      {"title", "bomb"},
      {"steps",
       json::array({step("decode_jpeg"),
                    step("fit_within", {{"width", 16384}, {"height", 16384}, {"upscale", true}}),
                    step("detect_cascade", {{"cascade", "haarcascade_frontalface_default"}})})}};
  auto detail = expect_error(dry_run_inline(stack, photo, bomb), 413);
  EXPECT_NE(detail.find("step 2 (fit_within)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("16384x13162"), std::string::npos) << detail;

  // Within the image limit, the cascade's pyramid is over the detector's budget: 422, and a
  // stored pipeline answers process-image the same way, with no task row.
  json pyramid = bomb;
  pyramid["steps"][1]["params"] = {{"width", 6000}, {"height", 6000}, {"upscale", true}};
  detail = expect_error(dry_run_inline(stack, photo, pyramid), 422);
  EXPECT_NE(detail.find("step 3 (detect_cascade)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("--max-detector-work"), std::string::npos) << detail;
  auto created = post_json(stack, "POST", "/pipelines", pyramid);
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = parse_body(created)["id"].get<int>();
  expect_error(upload(stack, "/process-image?pipeline_id=" + std::to_string(id), photo), 422);
  EXPECT_EQ(query_number(stack.dsn(),
                         "SELECT count(*) FROM tasks WHERE pipeline_id = " + std::to_string(id)),
            0);
  auto after = resident_kib(stack.imgproc().pid());
  EXPECT_LT(after - before, 64 * 1024) << "KiB before " << before << ", after " << after;
  expect_healthy(stack);
}

// glibc keeps freed memory under its mmap threshold (64 MiB here, for speed) in the heap: after a
// large request its pages are given back, so a node does not stay at its largest request's size.
TEST(hardening, memory_of_a_large_request_is_given_back) {
  service_stack stack;
  auto photo = read_file(sample_photo_path());
  json large{{"title", "large"},
             {"steps",
              json::array({step("decode_jpeg"), step("resize", {{"width", 4500}, {"height", 4500}}),
                           step("flip"), step("gaussian_blur", {{"kernel", 3}}),
                           step("rotate", {{"degrees", 90}}),
                           step("resize", {{"width", 64}, {"height", 64}}),
                           step("encode", {{"format", "png"}})})}};
  auto warm = dry_run_inline(
      stack, photo,
      json{{"title", "small"}, {"steps", json::array({step("decode_jpeg"), step("encode")})}});
  ASSERT_EQ(warm.status, 200) << warm.body;
  auto before = resident_kib(stack.imgproc().pid());
  for (int i = 0; i < 3; ++i) {
    auto ran = dry_run_inline(stack, photo, large);
    ASSERT_EQ(ran.status, 200) << ran.body;
  }
  // 61 MB per 4500x4500 image, two at once: under glibc's threshold here, so kept if not given
  // back.
  auto after = resident_kib(stack.imgproc().pid());
  EXPECT_LT(after - before, 40 * 1024) << "KiB before " << before << ", after " << after;
}

// A valid progressive JPEG with 704 scans took 10 s to decode and held a scheduler thread.
TEST(hardening, a_jpeg_with_too_many_scans_is_refused_while_decoding) {
  service_stack stack{with_args({"--max-jpeg-scans=64"})};
  auto bomb = progressive_jpeg(640, 480, 1); // 66 scans
  auto detail = expect_error(upload(stack, "/process-image?pipeline_id=1", bomb), 422);
  EXPECT_NE(detail.find("more than 64 scans"), std::string::npos) << detail;
  EXPECT_NE(detail.find("decode_jpeg"), std::string::npos) << detail;
  auto fine = upload(stack, "/process-image?pipeline_id=1", progressive_jpeg(640, 480, 0));
  EXPECT_EQ(fine.status, 200) << fine.body; // 4 scans
  expect_healthy(stack);
}

/// The value of the first sample of `metric` whose labels include `label`, or -1.
double sample(const std::string& metrics_text, const std::string& metric,
              const std::string& label) {
  std::regex line{metric + "\\{[^}]*" + label + "[^}]*\\} ([0-9.e+-]+)"};
  std::smatch match;
  return std::regex_search(metrics_text, match, line) ? std::stod(match[1]) : -1;
}

// After a 504 the detector went on (14, 25 and 42 s past the deadline), and dry runs shared the
// local detectors with production: a face request waited 25 s behind three of them (0.18 s
// idle). Dry runs now have detectors of their own, and HOG stops between pyramid levels once the
// deadline passed, so the detector is free again right after the 504.
TEST(hardening, dry_runs_keep_to_their_own_detectors_and_stop_at_their_deadline) {
  service_stack stack{with_args({"--request-timeout-ms=3000", "--local-detectors=1",
                                 "--dry-run-detectors=1", "--max-detector-work=100000000000"})};
  auto big = make_jpeg(1600, 1200, 3);
  // About 64 pyramid levels of HOG at stride 4: many seconds, far past the 3 s deadline.
  json slow{
      {"title", "slow"},
      {"steps", json::array({step("decode_jpeg"),
                             step("detect_people",
                                  {{"scale_factor", 1.01}, {"win_stride", 4}, {"padding", 0}})})}};
  std::atomic<int> dry_runs_done{0};
  http_response first, second;
  std::thread one{[&] {
    first = dry_run_inline(stack, big, slow);
    ++dry_runs_done;
  }};
  std::thread two{[&] {
    second = dry_run_inline(stack, big, slow);
    ++dry_runs_done;
  }};
  // The dry-run detector is busy with one and the other waits in its mailbox.
  std::string text;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up &&
         sample(text, "caf_actor_mailbox_size", "name=\"dry_run_detector\"") < 1) {
    text = get(stack.url("/metrics")).body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(sample(text, "caf_actor_mailbox_size", "name=\"dry_run_detector\""), 1) << text;

  // A request meanwhile runs on the production detector at once.
  auto face = upload(stack, "/process-image?pipeline_id=3", sample_photo_jpeg("messi5.jpg"));
  EXPECT_EQ(face.status, 200) << face.body;
  EXPECT_EQ(dry_runs_done.load(), 0) << "the request waited behind the dry runs";
  one.join();
  two.join();
  EXPECT_EQ(first.status, 504) << first.body;
  EXPECT_EQ(second.status, 504) << second.body;

  // The detector stopped at the deadline: a dry run now gets it at once. Had HOG gone on, this
  // one would wait behind it past its own deadline.
  json face_dry_run{
      {"title", "face"},
      {"steps",
       json::array({step("decode_jpeg"),
                    step("detect_cascade", {{"cascade", "haarcascade_frontalface_default"}})})}};
  auto after = dry_run_inline(stack, sample_photo_jpeg("messi5.jpg"), face_dry_run);
  EXPECT_EQ(after.status, 200) << after.body;
  expect_healthy(stack);
}

// With --dry-run-limit=1 and a 3 s deadline, three dry runs were all admitted and all ran to the
// end: the limit counted the dry-run actors, which end at their 504, not the work. The work now
// holds the slot until it ends. A cascade is one OpenCV call that nothing stops (its size is
// bounded by --max-detector-work instead), so it outlives a short deadline here.
TEST(hardening, a_dry_run_holds_its_slot_until_its_work_has_ended) {
  service_stack stack{
      with_args({"--dry-run-limit=1", "--request-timeout-ms=1000",
                 "--max-detector-work=100000000000", "--max-request-bytes=4294967296"})};
  json long_cascade{
      {"title", "long-cascade"},
      {"steps", json::array({step("decode_jpeg"),
                             step("detect_cascade", {{"cascade", "lbpcascade_frontalface"},
                                                     {"scale_factor", 1.01}})})}};
  json quick{{"title", "quick"}, {"steps", json::array({step("decode_jpeg"), step("encode")})}};
  auto first = dry_run_inline(stack, make_jpeg(2000, 1500, 7), long_cascade);
  EXPECT_EQ(first.status, 504) << first.body; // the cascade runs on
  auto second = dry_run_inline(stack, make_jpeg(64, 64, 1), quick);
  EXPECT_EQ(second.status, 503) << second.body;
  EXPECT_NE(second.body.find("too many dry runs"), std::string::npos) << second.body;
  // Once the cascade is done, the slot is free (bounded wait).
  http_response later;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    later = dry_run_inline(stack, make_jpeg(64, 64, 1), quick);
  } while (later.status == 503 && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(later.status, 200) << later.body;
}

/// A client's side of one connection, to see interim answers no HTTP library shows.
class raw_connection {
public:
  explicit raw_connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  ~raw_connection() { ::close(fd_); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  /// Reads until `until` has arrived, the peer closes, or `bound` passes (a bound on a wait for
  /// an answer that should come at once, not a measurement).
  std::string read_until(const std::string& until, std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (received_.find(until) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buffer[4096];
      auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0)
        break;
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return received_;
  }

private:
  int fd_;
  std::string received_;
};

// The service ignored `Expect: 100-continue`, so every upload over 1 MB from curl or libcurl waited
// a second for an answer that never came before sending its body.
TEST(hardening, an_upload_that_expects_100_continue_gets_it_before_its_body) {
  service_stack stack;
  const std::string boundary = "b0undary";
  std::string body = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"a.jpg\""
                     "\r\nContent-Type: image/jpeg\r\n\r\n" +
                     make_jpeg(64, 64, 1) + "\r\n--" + boundary + "--\r\n";
  raw_connection connection{stack.port()};
  connection.send("POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Expect: 100-continue\r\nContent-Type: multipart/form-data; boundary=" +
                  boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  // Nothing else can come before the body is sent: the service waits for it.
  auto interim = connection.read_until("\r\n\r\n", std::chrono::seconds(20));
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  connection.send(body);
  auto final_answer = connection.read_until("\"status\"", std::chrono::seconds(20));
  EXPECT_NE(final_answer.find("HTTP/1.1 200"), std::string::npos) << final_answer;

  // A head refused outright gets its final answer, not 100 Continue.
  raw_connection refused{stack.port()};
  refused.send("POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Expect: 100-continue\r\nContent-Length: 99999999999\r\n\r\n");
  auto answer = refused.read_until("\r\n\r\n", std::chrono::seconds(20));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
}

// A client that hung up still had its request run to the end. Now the front-end watches the
// connection while the request runs, and the work stops at its next check (between steps, inside
// the decoder and between HOG's pyramid levels); the row is failed naming the reason.
TEST(hardening, a_client_that_leaves_stops_its_work) {
  service_stack stack{
      with_args({"--request-timeout-ms=120000", "--max-detector-work=100000000000"})};
  json slow{
      {"title", "slow-people"},
      {"steps", json::array({step("decode_jpeg"),
                             step("detect_people",
                                  {{"scale_factor", 1.01}, {"win_stride", 4}, {"padding", 0}})})}};
  auto created = post_json(stack, "POST", "/pipelines", slow);
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = std::to_string(parse_body(created)["id"].get<int>());
  const std::string boundary = "b0undary";
  std::string body = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"a.jpg\""
                     "\r\nContent-Type: image/jpeg\r\n\r\n" +
                     make_jpeg(2400, 1800, 5) + "\r\n--" + boundary + "--\r\n";
  auto rows = [&](const std::string& where) {
    return query_number(stack.dsn(),
                        "SELECT count(*) FROM tasks WHERE pipeline_id = " + id + " AND " + where);
  };
  {
    raw_connection client{stack.port()};
    client.send(
        "POST /process-image?pipeline_id=" + id +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=" + boundary +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    // The row exists once the work is about to start (bounded wait).
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (rows("status = 'processing'") == 0 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(rows("status = 'processing'"), 1);
  } // the client hangs up
  // The HOG search alone would take tens of seconds and end 'detected' or 'undetected'.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (rows("status = 'processing'") == 1 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rows("status = 'failed' AND error LIKE 'client_gone:%'"), 1)
      << "the work ran on for a client that had left";
  expect_healthy(stack);
}

TEST(hardening, small_protocol_findings) {
  service_stack stack{with_args({"--admin-token=tok"})};
  {
    SCOPED_TRACE("a repeated pipeline_id in the query is refused, as a repeated form field is");
    auto detail = expect_error(
        upload(stack, "/process-image?pipeline_id=1&pipeline_id=2", make_jpeg(64, 64, 1)), 400);
    EXPECT_NE(detail.find("pipeline_id"), std::string::npos) << detail;
  }
  {
    SCOPED_TRACE("a known path with the wrong method is 405, also where a route has a parameter");
    for (const char* method : {"GET", "PUT", "DELETE"})
      EXPECT_EQ(
          send_request(method, stack.url("/pipelines/dry-run"), "", {"Authorization: Bearer tok"})
              .status,
          405)
          << method;
    EXPECT_EQ(get(stack.url("/pipelines/abc")).status, 400);
  }
  {
    SCOPED_TRACE("401 says which scheme is accepted");
    auto refused = send_request("POST", stack.url("/pipelines"), "{}");
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(refused.header("www-authenticate"), "Bearer realm=\"imgproc\"");
  }
  {
    SCOPED_TRACE("a pipeline is sent as JSON: a form or text/plain from another origin is refused");
    auto body = detect_pipeline("as-text", json::object()).dump();
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded"}) {
      auto response =
          send_request("POST", stack.url("/pipelines"), body, {"Authorization: Bearer tok"}, type);
      EXPECT_EQ(response.status, 415) << type << ": " << response.body;
    }
    auto put = send_request("PUT", stack.url("/pipelines/1"), body, {"Authorization: Bearer tok"},
                            "text/plain");
    EXPECT_EQ(put.status, 415) << put.body;
    auto accepted = send_request("POST", stack.url("/pipelines"), body,
                                 {"Authorization: Bearer tok"}, "Application/JSON; charset=utf-8");
    EXPECT_EQ(accepted.status, 201) << accepted.body;
  }
  {
    SCOPED_TRACE("a Windows path keeps its file name");
    auto response = post_multipart(
        stack.url("/process-image?pipeline_id=1"),
        {file_field("image_file", make_jpeg(64, 64, 1), "C:\\photos\\car.jpg", "image/jpeg")});
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(parse_body(response)["filename"], "car.jpg") << response.body;
  }
  expect_healthy(stack);
}

} // namespace
} // namespace imgproc::testing::e2e
