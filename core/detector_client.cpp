#include "core/detector_client.hpp"

#include "core/outbound_url.hpp"
#include "core/task_json.hpp"

#include <cmath>
#include <cstdio>
#include <curl/curl.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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

/// What the ML service answered, described without repeating it: a detect url may name another
/// host, and its answers must not reach the client (or the stored task) through this service.
std::string describe_answer(std::string_view text) {
  return std::to_string(text.size()) + " bytes" + (text.empty() ? "" : ", not shown");
}

result<detection> parse_box(const nlohmann::json& box) {
  auto bad = [&](const std::string& why) {
    return make_failure(error_code::ml_bad_response,
                        "ML service answered an invalid box (" + why + ")");
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

/// Whether a transport failure may go away on another attempt. Configuration errors, an answer
/// over the size limit and certificate problems will not.
bool transient_curl_error(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_WRITE_ERROR:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return false;
    default:
      return true;
  }
}

std::chrono::milliseconds time_left(std::chrono::steady_clock::time_point deadline) {
  auto now = std::chrono::steady_clock::now();
  if (deadline <= now)
    return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
}

failure deadline_failure() {
  return make_failure(error_code::deadline_exceeded,
                      "the request ran out of time waiting for the ML service");
}

failure circuit_open_failure(const std::string& url, const circuit_breaker& breaker) {
  auto wait = breaker.retry_in();
  std::string when;
  if (wait.count() > 0) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(wait.count()) / 1000.0);
    when = std::string{"retrying it in "} + seconds + " s";
  } else {
    when = "a trial call is in flight";
  }
  return make_failure(error_code::ml_unavailable,
                      "ML service at " + redact_url(url) + " is failing (circuit open after " +
                          std::to_string(breaker.consecutive_failures()) + " failures); " + when);
}

} // namespace

bool url_allowed(const detector_settings& settings, const std::string& url) {
  return !refuse_ml_url(settings.url, settings.allowed_urls, url);
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
                        "ML service answered something that is not a JSON array (" +
                            describe_answer(body) + ")");
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

result<std::optional<detection>>
detector_client::detect(std::string_view base64_image, const std::string& url,
                        std::chrono::milliseconds timeout,
                        std::chrono::steady_clock::time_point deadline) {
  if (!curl_)
    return make_failure(error_code::internal, "libcurl could not be initialised");
  if (!checked_url_ || *checked_url_ != url) {
    // Checked when the pipeline was saved and again here: this node's allow-list may differ.
    if (auto refused = refuse_ml_url(settings_.url, settings_.allowed_urls, url))
      return make_failure(error_code::step_failed, *refused);
    // What is called is the URL as libcurl's parser rebuilt it, the same parse that was checked.
    auto parsed = parse_outbound_url(url.empty() ? settings_.url : url);
    if (!parsed)
      return make_failure(error_code::ml_unavailable,
                          "the ML url is not usable: " + parsed.error().detail);
    checked_url_ = url;
    checked_target_ = std::move(parsed->text);
  }
  const std::string& target = checked_target_;
  const auto limit = timeout.count() > 0 ? timeout : settings_.timeout;
  auto& registry = settings_.breakers ? *settings_.breakers : process_breakers();
  auto breaker = registry.get(target, settings_.breaker);
  auto backoff = settings_.retry_backoff;
  std::optional<failure> last; // the previous attempt's failure
  for (int attempt_no = 0;; ++attempt_no) {
    auto left = time_left(deadline);
    if (left.count() <= 0)
      return last ? *last : deadline_failure();
    if (!breaker->allow()) {
      // Opened while this call was retrying: its own last failure says more than the circuit.
      if (last)
        return *last;
      return circuit_open_failure(target, *breaker);
    }
    // Each attempt gets its full timeout, cut to the time the request has left.
    bool cut_to_deadline = left < limit;
    bool transient = false;
    auto answer = attempt(base64_image, target, cut_to_deadline ? left : limit, transient);
    if (answer) {
      breaker->success();
      return answer;
    }
    if (answer.error().code == error_code::ml_timeout && cut_to_deadline) {
      // Out of time because the request was, not because the ML service is slow: 504, and no
      // verdict on the service.
      breaker->abandon();
      return deadline_failure();
    }
    breaker->failure();
    if (!transient || attempt_no >= settings_.retries)
      return answer.error();
    last = answer.error();
    // Equal jitter: half the backoff plus a random part of the other half, so that clients
    // failing together do not retry together.
    auto half = backoff.count() / 2;
    std::uniform_int_distribution<long long> spread(0, std::max<long long>(half, 0));
    auto delay = std::chrono::milliseconds(half + spread(jitter_));
    backoff *= 2;
    if (delay >= time_left(deadline))
      return answer.error(); // no time for another attempt after the pause
    std::this_thread::sleep_for(delay);
  }
}

result<std::optional<detection>> detector_client::attempt(std::string_view base64_image,
                                                          const std::string& target,
                                                          std::chrono::milliseconds limit,
                                                          bool& transient) {
  auto* curl = static_cast<CURL*>(curl_);
  transient = false;
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
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    transient = true;
    return make_failure(error_code::ml_timeout, "ML service did not answer within " +
                                                    std::to_string(limit.count()) + " ms");
  }
  if (rc != CURLE_OK) {
    transient = transient_curl_error(rc);
    return make_failure(error_code::ml_unavailable,
                        std::string{"ML service unreachable: "} + curl_easy_strerror(rc));
  }
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    transient = code >= 500; // a 4xx says this request is wrong: the same one would be too
    return make_failure(error_code::ml_unavailable, "ML service answered HTTP " +
                                                        std::to_string(code) + " (" +
                                                        describe_answer(response_) + ")");
  }
  return parse_ml_answer(response_); // garbage is not transient
}

} // namespace imgproc
