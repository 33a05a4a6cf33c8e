#include "core/detector_client.hpp"

#include "core/task_json.hpp"

#include <cmath>
#include <curl/curl.h>
#include <mutex>
#include <nlohmann/json.hpp>

namespace imgproc {
namespace {

constexpr std::size_t max_answer_bytes = 1 << 20; // an answer is a few numbers

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  std::size_t n = size * count;
  if (out->size() + n > max_answer_bytes)
    return 0; // makes curl fail with CURLE_WRITE_ERROR
  out->append(data, n);
  return n;
}

std::string excerpt(std::string_view text) {
  constexpr std::size_t limit = 120;
  std::string out{text.substr(0, limit)};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
      c = '?';
  if (text.size() > limit)
    out += "...";
  return out;
}

result<detection> parse_box(const nlohmann::json& box) {
  auto bad = [&](const std::string& why) {
    return make_failure(error_code::ml_bad_response,
                        "ML service answered an invalid box (" + why + "): " + box.dump());
  };
  if (!box.is_array() || box.size() != 6)
    return bad("expected [top_left_x, top_left_y, w, h, conf, label]");
  for (const auto& v : box)
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      return bad("non-numeric field");
  detection d;
  d.top_left_x = static_cast<int>(std::lround(box[0].get<double>()));
  d.top_left_y = static_cast<int>(std::lround(box[1].get<double>()));
  d.width = static_cast<int>(std::lround(box[2].get<double>()));
  d.height = static_cast<int>(std::lround(box[3].get<double>()));
  d.confidence = box[4].get<double>();
  d.class_id = static_cast<int>(std::lround(box[5].get<double>()));
  if (std::fabs(box[0].get<double>()) > 1e6 || std::fabs(box[1].get<double>()) > 1e6 ||
      std::fabs(box[2].get<double>()) > 1e6 || std::fabs(box[3].get<double>()) > 1e6 ||
      std::fabs(box[5].get<double>()) > 1e6)
    return bad("coordinate out of range");
  if (d.width <= 0 || d.height <= 0)
    return bad("empty box");
  if (!(d.confidence >= 0.0 && d.confidence <= 1.0))
    return bad("confidence outside [0, 1]");
  return d;
}

} // namespace

bool url_allowed(const detector_settings& settings, const std::string& url) {
  if (url.empty() || url == settings.url)
    return true;
  for (const auto& prefix : settings.allowed_urls)
    if (!prefix.empty() && url.rfind(prefix, 0) == 0)
      return true;
  return false;
}

void init_http_client_library() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

result<std::optional<detection>> parse_ml_answer(std::string_view body) {
  if (!json_depth_at_most(body, 4))
    return make_failure(error_code::ml_bad_response,
                        "ML service answered JSON nested deeper than a list of boxes");
  auto json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded() || !json.is_array())
    return make_failure(error_code::ml_bad_response,
                        "ML service answered something that is not a JSON array: " + excerpt(body));
  if (json.empty())
    return std::optional<detection>{};
  if (json[0].is_array()) {
    std::optional<detection> best;
    for (const auto& box : json) {
      auto parsed = parse_box(box);
      if (!parsed)
        return parsed.error();
      if (!best || parsed->confidence > best->confidence)
        best = *parsed;
    }
    return best;
  }
  auto parsed = parse_box(json);
  if (!parsed)
    return parsed.error();
  return std::optional<detection>{*parsed};
}

detector_client::detector_client(detector_settings settings) : settings_(std::move(settings)) {
  init_http_client_library();
  curl_ = curl_easy_init();
  headers_ = curl_slist_append(headers_, "Content-Type: text/plain");
  headers_ = curl_slist_append(headers_, "Expect:"); // no 100-continue round trip
}

detector_client::~detector_client() {
  if (curl_)
    curl_easy_cleanup(static_cast<CURL*>(curl_));
  curl_slist_free_all(headers_);
}

result<std::optional<detection>> detector_client::detect(std::string_view base64_image,
                                                         const std::string& url,
                                                         std::chrono::milliseconds timeout) {
  auto* curl = static_cast<CURL*>(curl_);
  if (!curl)
    return make_failure(error_code::internal, "libcurl could not be initialised");
  if (!url_allowed(settings_, url))
    return make_failure(error_code::step_failed,
                        "the ML url " + url + " is not allowed (see --ml-allowed-urls)");
  const std::string& target = url.empty() ? settings_.url : url;
  auto limit = timeout.count() > 0 ? timeout : settings_.timeout;
  response_.clear();
  // Options are set on every call: the same handle (and its open connection) serves every URL.
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, base64_image.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(base64_image.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(limit.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(limit, settings_.connect_timeout).count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  auto rc = curl_easy_perform(curl);
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return make_failure(error_code::ml_timeout, "ML service did not answer within " +
                                                    std::to_string(limit.count()) + " ms");
  if (rc != CURLE_OK)
    return make_failure(error_code::ml_unavailable,
                        std::string{"ML service unreachable: "} + curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200)
    return make_failure(error_code::ml_unavailable, "ML service answered HTTP " +
                                                        std::to_string(code) + ": " +
                                                        excerpt(response_));
  return parse_ml_answer(response_);
}

} // namespace imgproc
