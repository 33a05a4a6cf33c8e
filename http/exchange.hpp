#pragma once

// One HTTP exchange, from the moment a route is matched to its one answer, and the calls a
// handler makes to answer it: now (answer_now) or later, from whatever thread the service
// answers on (answer_to<T>). Internal to http/: it includes RESTinio.

#include "core/image_service.hpp"
#include "http/api_json.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <restinio/all.hpp>
#include <string>

namespace imgproc {

namespace metrics {
class registry;
}

struct exchange {
  restinio::request_handle_t req;
  std::string route; ///< the route's metric label, e.g. /tasks/:id (a bounded set)
  std::string method;
  std::string id; ///< X-Request-Id
  std::optional<int> pipeline_id;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  metrics::registry* metrics = nullptr;
  std::atomic<bool> finished{false}; ///< answered (and counted) once, whoever answers
};

using exchange_ptr = std::shared_ptr<exchange>;

/// An X-Request-Id from the client if it is short and plain, else a new one.
std::string request_id_for(const restinio::request_handle_t& req);

/// Writes the response (RESTinio dispatches it onto the connection's strand, so any thread may
/// call this), then records the exchange: one log line and the HTTP metrics. Only the first
/// call for an exchange does anything.
void finish(exchange& ex, const http_reply& reply, const char* content_type = "application/json");

/// finish(), for a handler that answers before returning to RESTinio.
void answer_now(const exchange_ptr& ex, const http_reply& reply,
                const char* content_type = "application/json");

/// A bad_request ({"detail": ...}, 400) answered now.
void answer_bad_request(const exchange_ptr& ex, const std::string& detail);

/// The connection is gone (client hung up, or RESTinio's own timeout already answered).
void log_not_written(const std::exception& e);

/// Answers exactly once, rendering the service's answer through the HTTP contract
/// (http/api_json); answers 500 if dropped unanswered (e.g. an actor died).
template <class T> class restinio_answer final : public answer_channel<T> {
public:
  using renderer = std::function<http_reply(const T&)>;

  restinio_answer(exchange_ptr ex, renderer render)
      : ex_(std::move(ex)), render_(std::move(render)) {}

  ~restinio_answer() override {
    if (!sent_.load())
      send(
          make_failure(error_code::internal, "internal error: the request was dropped unanswered"));
  }

  void send(result<T> outcome) override {
    if (sent_.exchange(true))
      return;
    try {
      finish(*ex_, outcome ? render_(outcome.value()) : failure_reply(outcome.error()));
    } catch (const std::exception& e) {
      log_not_written(e);
    }
    // Holders of this channel may outlive the server (CAF keeps finished actors until their
    // request timeouts expire): they must not keep RESTinio's request and socket alive.
    ex_.reset();
  }

private:
  exchange_ptr ex_;
  renderer render_;
  std::atomic<bool> sent_{false};
};

/// The channel for one exchange's answer, rendered by to_reply() (or `render`).
template <class T>
answer_ptr<T> answer_to(
    const exchange_ptr& ex,
    std::function<http_reply(const T&)> render = [](const T& value) { return to_reply(value); }) {
  return std::make_shared<restinio_answer<T>>(ex, std::move(render));
}

} // namespace imgproc
