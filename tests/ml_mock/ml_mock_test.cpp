#include "common/base64.hpp"
#include "common/options.hpp"
#include "ml_mock/api_assets.hpp"
#include "ml_mock/box_generator.hpp"
#include "ml_mock/detect_handler.hpp"
#include "ml_mock/server.hpp"

#include <algorithm>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgproc::ml_mock {
namespace {

constexpr std::size_t big_limit = 1 << 20;

bool same_box(const std::optional<box>& a, const std::optional<box>& b) {
  if (!a || !b)
    return !a && !b;
  return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h && a->conf == b->conf &&
         a->label == b->label;
}

void expect_in_frame(const box& b) {
  EXPECT_GE(b.x, 0);
  EXPECT_GE(b.y, 0);
  EXPECT_GE(b.w, 1);
  EXPECT_GE(b.h, 1);
  EXPECT_LE(b.x + b.w, frame_size);
  EXPECT_LE(b.y + b.h, frame_size);
  EXPECT_GT(b.conf, 0.0);
  EXPECT_LE(b.conf, 1.0);
  EXPECT_EQ(b.label, 1);
}

// Checks a 200 answer: `[]` or one well-formed box. Returns whether it held a box.
bool expect_valid_answer(const std::string& body) {
  auto json = nlohmann::json::parse(body);
  EXPECT_TRUE(json.is_array()) << body;
  if (json.empty())
    return false;
  EXPECT_EQ(json.size(), 6u) << body;
  for (int i : {0, 1, 2, 3, 5})
    EXPECT_TRUE(json[i].is_number_integer()) << body;
  EXPECT_TRUE(json[4].is_number()) << body;
  box b{json[0].get<int>(), json[1].get<int>(),    json[2].get<int>(),
        json[3].get<int>(), json[4].get<double>(), json[5].get<int>()};
  expect_in_frame(b);
  return true;
}

std::string sample_base64() {
  return base64_encode(std::string("\xff\xd8\xff\xe0 not a real jpeg"));
}

std::string multipart_body(const std::string& boundary, const std::string& name,
                           const std::string& content) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
         "\"; filename=\"" + name + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
         content + "\r\n--" + boundary + "--\r\n";
}

// --- box_generator ---------------------------------------------------------------------------

TEST(MlMockBoxGenerator, DetectFractionIsNearProbability) {
  box_generator gen{0.5, 42};
  int detected = 0;
  for (int i = 0; i < 2000; ++i)
    detected += gen.next().has_value();
  EXPECT_NEAR(detected / 2000.0, 0.5, 0.05);
}

TEST(MlMockBoxGenerator, BoxesAreInFrame) {
  box_generator gen{0.5, 7};
  int boxes = 0;
  for (int i = 0; i < 2000; ++i)
    if (auto b = gen.next()) {
      ++boxes;
      expect_in_frame(*b);
    }
  EXPECT_GT(boxes, 0);
}

TEST(MlMockBoxGenerator, SameSeedGivesSameSequence) {
  box_generator a{0.5, 123}, b{0.5, 123}, other{0.5, 124};
  bool differs_from_other = false;
  for (int i = 0; i < 500; ++i) {
    auto x = a.next();
    ASSERT_TRUE(same_box(x, b.next())) << "draw " << i;
    differs_from_other = differs_from_other || !same_box(x, other.next());
  }
  EXPECT_TRUE(differs_from_other);
}

TEST(MlMockBoxGenerator, ProbabilityZeroAndOne) {
  box_generator never{0.0, 1}, always{1.0, 1};
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(never.next().has_value());
    auto b = always.next();
    ASSERT_TRUE(b.has_value());
    expect_in_frame(*b);
  }
}

TEST(MlMockBoxGenerator, RejectsProbabilityOutsideUnitInterval) {
  EXPECT_THROW(box_generator(-0.1, 1), std::invalid_argument);
  EXPECT_THROW(box_generator(1.5, 1), std::invalid_argument);
}

// --- detect handler --------------------------------------------------------------------------

TEST(MlMockDetectHandler, RawBase64Body) {
  box_generator gen{0.5, 1};
  bool seen_empty = false, seen_box = false;
  for (int i = 0; i < 50; ++i) {
    auto reply = handle_detect(gen, "text/plain", sample_base64(), big_limit);
    ASSERT_EQ(reply.status, 200) << reply.body;
    (expect_valid_answer(reply.body) ? seen_box : seen_empty) = true;
  }
  EXPECT_TRUE(seen_empty);
  EXPECT_TRUE(seen_box);
}

TEST(MlMockDetectHandler, RawBodyWithAnyContentType) {
  box_generator gen{1.0, 1};
  for (const char* type : {"", "application/x-www-form-urlencoded", "application/octet-stream"}) {
    auto reply = handle_detect(gen, type, sample_base64() + "\n", big_limit);
    EXPECT_EQ(reply.status, 200) << type << ": " << reply.body;
    EXPECT_TRUE(expect_valid_answer(reply.body));
  }
}

TEST(MlMockDetectHandler, MultipartImagePart) {
  box_generator gen{1.0, 1};
  auto body = "--b1\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nxyz\r\n" +
              multipart_body("b1", "image", sample_base64());
  auto reply = handle_detect(gen, "multipart/form-data; boundary=b1", body, big_limit);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(expect_valid_answer(reply.body));
}

void expect_detail(const http_reply& reply, int status) {
  EXPECT_EQ(reply.status, status) << reply.body;
  auto json = nlohmann::json::parse(reply.body);
  ASSERT_TRUE(json.contains("detail")) << reply.body;
  EXPECT_TRUE(json["detail"].is_string());
  EXPECT_FALSE(json["detail"].get<std::string>().empty());
}

TEST(MlMockDetectHandler, EmptyBodyIs400) {
  box_generator gen{0.5, 1};
  expect_detail(handle_detect(gen, "text/plain", "", big_limit), 400);
  expect_detail(handle_detect(gen, "text/plain", " \r\n", big_limit), 400);
}

TEST(MlMockDetectHandler, NotBase64Is400) {
  box_generator gen{0.5, 1};
  expect_detail(handle_detect(gen, "text/plain", "this is not base64!", big_limit), 400);
  expect_detail(handle_detect(gen, "text/plain", "QUJD=", big_limit), 400);
}

TEST(MlMockDetectHandler, AnImageThatIsNeitherJpegNorPngIs400) {
  box_generator gen{0.5, 1};
  auto reply = handle_detect(gen, "text/plain", base64_encode("GIF89a, not a photo"), big_limit);
  expect_detail(reply, 400);
  EXPECT_NE(reply.body.find("neither a JPEG nor a PNG"), std::string::npos) << reply.body;
  auto png =
      handle_detect(gen, "text/plain", base64_encode("\x89PNG\r\n\x1A\n and more"), big_limit);
  EXPECT_EQ(png.status, 200) << png.body;
}

TEST(MlMockDetectHandler, BadMultipartIs400) {
  box_generator gen{0.5, 1};
  const std::string type = "multipart/form-data; boundary=b1";
  expect_detail(handle_detect(gen, type, multipart_body("b1", "image", ""), big_limit), 400);
  expect_detail(handle_detect(gen, type, multipart_body("b1", "photo", sample_base64()), big_limit),
                400);
  expect_detail(handle_detect(gen, type, multipart_body("b1", "image", "@@@@"), big_limit), 400);
  expect_detail(handle_detect(gen, type, "no boundary here", big_limit), 400);
  expect_detail(
      handle_detect(gen, "multipart/form-data", multipart_body("b1", "image", "QUJD"), big_limit),
      400);
}

TEST(MlMockDetectHandler, BodyOverLimitIs413) {
  box_generator gen{0.5, 1};
  expect_detail(handle_detect(gen, "text/plain", sample_base64(), 8), 413);
}

// --- options ---------------------------------------------------------------------------------

server_settings settings_for(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env = {}) {
  auto options = make_options();
  options.parse(args, [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>{it->second};
  });
  return settings_from_options(options);
}

TEST(MlMockOptions, DefaultsEnvironmentAndCommandLine) {
  auto d = settings_for({});
  EXPECT_EQ(d.host, "0.0.0.0");
  EXPECT_EQ(d.port, 5000);
  EXPECT_EQ(d.threads, 1u);
  EXPECT_EQ(d.max_body_bytes, 64u * 1024 * 1024);
  EXPECT_DOUBLE_EQ(d.detect_probability, 0.5);
  EXPECT_FALSE(d.seed.has_value());

  auto s = settings_for({"--port=0", "--seed=9"},
                        {{"ML_MOCK_PORT", "7000"}, {"ML_MOCK_DETECT_PROBABILITY", "0.25"}});
  EXPECT_EQ(s.port, 0);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_DOUBLE_EQ(s.detect_probability, 0.25);

  EXPECT_THROW(settings_for({"--detect-probability=1.5"}), option_error);
  EXPECT_THROW(settings_for({"--port=70000"}), option_error);
  EXPECT_THROW(settings_for({"--threads=0"}), option_error);
  EXPECT_THROW(settings_for({"--host=not a host"}), option_error);
  EXPECT_THROW(settings_for({"--bogus=1"}), option_error);
}

// --- the real server over loopback -----------------------------------------------------------

struct http_answer {
  long status = 0;
  std::string content_type;
  std::string body;
};

size_t append_to_string(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One request with libcurl. `mime_image` sends `body` as a multipart part named "image".
http_answer http_call(const std::string& method, const std::string& url,
                      const std::string& body = {}, const std::string& content_type = {},
                      bool mime_image = false) {
  http_answer answer;
  CURL* curl = curl_easy_init();
  if (!curl)
    throw std::runtime_error("curl_easy_init failed");
  curl_slist* headers = nullptr;
  curl_mime* mime = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  if (mime_image) {
    mime = curl_mime_init(curl);
    auto* part = curl_mime_addpart(mime);
    curl_mime_name(part, "image");
    curl_mime_filename(part, "image");
    curl_mime_data(part, body.data(), body.size());
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  } else if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  auto rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    answer.content_type = type ? type : "";
  }
  curl_mime_free(mime);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    throw std::runtime_error(std::string{"HTTP call failed: "} + curl_easy_strerror(rc));
  return answer;
}

class MlMockServer : public ::testing::Test {
protected:
  void start(server_settings s) {
    s.host = "127.0.0.1";
    s.port = 0;
    server_ = std::make_unique<server>(s);
    server_->start();
    ASSERT_NE(server_->port(), 0);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_)
      server_->stop();
  }

  std::unique_ptr<server> server_;
  std::string base_;
};

TEST_F(MlMockServer, HealthAndErrors) {
  server_settings s;
  s.seed = 1;
  start(s);

  auto health = http_call("GET", base_ + "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(health.body), (nlohmann::json{{"status", "ok"}}));

  auto missing = http_call("GET", base_ + "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body), (nlohmann::json{{"detail", "Not Found"}}));

  auto wrong_method = http_call("GET", base_ + "/ml-process-img");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_TRUE(nlohmann::json::parse(wrong_method.body).contains("detail"));
  EXPECT_EQ(http_call("DELETE", base_ + "/health").status, 405);

  auto empty = http_call("POST", base_ + "/ml-process-img", "", "text/plain");
  EXPECT_EQ(empty.status, 400);
  EXPECT_TRUE(nlohmann::json::parse(empty.body).contains("detail"));

  auto junk = http_call("POST", base_ + "/ml-process-img", "%%% not base64", "text/plain");
  EXPECT_EQ(junk.status, 400);
}

TEST_F(MlMockServer, DetectAnswersFollowTheSeed) {
  server_settings s;
  s.seed = 77;
  start(s);
  box_generator expected{0.5, 77};
  for (int i = 0; i < 20; ++i) {
    // Alternate the two ways of sending; both consume one draw each.
    auto answer = i % 2
                      ? http_call("POST", base_ + "/ml-process-img", sample_base64(), "text/plain")
                      : http_call("POST", base_ + "/ml-process-img", sample_base64(), {}, true);
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(answer.content_type, "application/json");
    expect_valid_answer(answer.body);
    auto want = handle_detect(expected, "text/plain", sample_base64(), big_limit);
    EXPECT_EQ(answer.body, want.body) << "request " << i;
  }
}

TEST_F(MlMockServer, BodyOverLimitIs413) {
  server_settings s;
  s.seed = 1;
  s.max_body_bytes = 1000;
  start(s);
  auto answer = http_call("POST", base_ + "/ml-process-img", std::string(4000, 'A'), "text/plain");
  EXPECT_EQ(answer.status, 413);
  EXPECT_TRUE(nlohmann::json::parse(answer.body).contains("detail"));
}

TEST_F(MlMockServer, StopIsIdempotentAndPortResets) {
  start(server_settings{});
  server_->stop();
  EXPECT_EQ(server_->port(), 0);
  server_->stop();
}

// ml_mock/openapi.json describes exactly the routes ml_mock declares, and the server answers each
// of them with the document it serves.
TEST_F(MlMockServer, OpenApiDocumentMatchesTheRoutes) {
  start(server_settings{});
  auto served = http_call("GET", base_ + "/openapi.json");
  ASSERT_EQ(served.status, 200);
  EXPECT_EQ(served.content_type, "application/json");
  auto document = nlohmann::json::parse(served.body);
  EXPECT_EQ(document, nlohmann::json::parse(openapi_document()));
  EXPECT_EQ(document["openapi"], "3.1.0");

  std::set<std::pair<std::string, std::string>> declared, described;
  for (const auto& r : routes)
    declared.emplace(r.method, r.path);
  for (const auto& [path, item] : document["paths"].items())
    for (const auto& [method, operation] : item.items())
      described.emplace(method, path);
  EXPECT_EQ(declared, described);

  for (const auto& r : routes) {
    std::string method = r.method;
    std::transform(method.begin(), method.end(), method.begin(), ::toupper);
    auto answer = http_call(method, base_ + r.path, "aGVsbG8=");
    EXPECT_NE(answer.status, 404) << r.method << " " << r.path;
    EXPECT_NE(answer.status, 405) << r.method << " " << r.path;
  }
}

} // namespace
} // namespace imgproc::ml_mock
