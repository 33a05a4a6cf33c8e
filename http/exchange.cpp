#include "http/exchange.hpp"

#include "common/http_status.hpp"
#include "common/log.hpp"
#include "metrics/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

namespace imgproc {
namespace {

/// The exchange is over: HTTP metrics and the request's log line.
void record(exchange& ex, const http_reply& reply) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ex.start).count();
  if (ex.metrics) {
    ex.metrics->http_request(ex.route, reply.status, seconds);
    ex.metrics->http_in_flight(-1);
  }
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.1f", seconds * 1000);
  std::string line = "id=" + ex.id + " method=" + ex.method + " route=" + ex.route +
                     " status=" + std::to_string(reply.status) + " duration_ms=" + duration;
  if (ex.pipeline_id)
    line += " pipeline=" + std::to_string(*ex.pipeline_id);
  if (!reply.node.empty())
    line += " node=" + reply.node;
  log::info("request", line);
}

} // namespace

std::string request_id_for(const restinio::request_handle_t& req) {
  auto given = req->header().get_field_or("X-Request-Id", "");
  if (!given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      }))
    return given;
  // A process-random prefix and a counter: unique without a system call per request.
  static const std::string prefix = [] {
    std::random_device random;
    char text[9];
    std::snprintf(text, sizeof text, "%08x", random());
    return std::string{text};
  }();
  static std::atomic<std::uint64_t> counter{0};
  return prefix + "-" + std::to_string(counter.fetch_add(1) + 1);
}

void finish(exchange& ex, const http_reply& reply, const char* content_type) {
  if (ex.finished.exchange(true))
    return;
  // Counted and logged first: if writing throws (the connection is gone), the exchange is still
  // over and must not stay in flight.
  record(ex, reply);
  auto response = ex.req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(reply.status)},
      reason_phrase(reply.status)});
  response.append_header(restinio::http_field::content_type, content_type);
  response.append_header("X-Request-Id", ex.id);
  if (!reply.retry_after.empty())
    response.append_header(restinio::http_field::retry_after, reply.retry_after);
  if (!reply.location.empty())
    response.append_header(restinio::http_field::location, reply.location);
  // RFC 9110: a 401 names the scheme that would be accepted.
  if (reply.status == 401)
    response.append_header(restinio::http_field::www_authenticate, "Bearer realm=\"imgproc\"");
  response.set_body(reply.body);
  response.done();
}

void answer_now(const exchange_ptr& ex, const http_reply& reply, const char* content_type) {
  finish(*ex, reply, content_type);
}

void answer_bad_request(const exchange_ptr& ex, const std::string& detail) {
  answer_now(ex, failure_reply(make_failure(error_code::bad_request, detail)));
}

void log_not_written(const std::exception& e) {
  log::debug("http", std::string{"response not written: "} + e.what());
}

} // namespace imgproc
