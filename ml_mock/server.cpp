#include "ml_mock/server.hpp"

#include "common/http_status.hpp"
#include "common/log.hpp"
#include "ml_mock/api_assets.hpp"
#include "ml_mock/box_generator.hpp"
#include "ml_mock/detect_handler.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <limits>
#include <mutex>
#include <restinio/all.hpp>
#include <stdexcept>

namespace imgproc::ml_mock {
namespace {

constexpr std::string_view log_component = "ml_mock";
constexpr std::string_view health_body = R"({"status":"ok"})";

// Requests up to this much over the service's own limit are read whole so the client gets a
// 413 JSON answer; RESTinio itself just drops the connection past its cap.
constexpr std::size_t body_cap_slack = 1024 * 1024;

std::string_view to_std(restinio::string_view_t v) {
  return {v.data(), v.size()};
}

bool valid_host(const std::string& host) {
  // The same forms RESTinio accepts: an IPv4 or IPv6 literal, or "localhost".
  unsigned char buffer[16];
  return host == "localhost" || inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// A routed reply plus the Allow header a 405 must carry.
struct routed_reply {
  http_reply reply;
  std::string_view allow;
};

routed_reply method_not_allowed(std::string_view allow) {
  return {error_reply(405, "Method Not Allowed"), allow};
}

} // namespace

option_set make_options() {
  option_set options;
  options.add({"host", "ML_MOCK_HOST", "0.0.0.0", "Address to listen on."})
      .add({"port", "ML_MOCK_PORT", "5000", "TCP port; 0 picks a free one."})
      .add({"seed", "ML_MOCK_SEED", "",
            "Seed for the answers (same seed, same sequence); random when unset."})
      .add({"detect-probability", "ML_MOCK_DETECT_PROBABILITY", "0.5",
            "Probability in [0, 1] that an answer holds a box rather than []."})
      .add({"threads", "ML_MOCK_THREADS", "1", "Server threads."})
      .add({"max-body-bytes", "ML_MOCK_MAX_BODY_BYTES", std::to_string(64 * 1024 * 1024),
            "Largest request body accepted; larger ones get 413."})
      .add({"log-level", "LOG_LEVEL", "info", "debug, info, warning or error."});
  return options;
}

server_settings settings_from_options(const option_set& options) {
  server_settings s;
  s.host = options.get("host");
  if (!valid_host(s.host))
    throw option_error("--host must be an IP address or localhost, got '" + s.host + "' (" +
                       options.source("host") + ")");
  s.port = static_cast<std::uint16_t>(options.get_int("port", 0, 65535));
  if (options.has("seed"))
    s.seed = static_cast<std::uint64_t>(
        options.get_int("seed", 0, std::numeric_limits<std::int64_t>::max()));
  s.detect_probability = options.get_double("detect-probability", 0.0, 1.0);
  s.threads = static_cast<std::size_t>(options.get_int("threads", 1, 256));
  s.max_body_bytes =
      static_cast<std::size_t>(options.get_int("max-body-bytes", 1, std::int64_t{1} << 32));
  return s;
}

struct server::impl {
  using traits = restinio::default_traits_t;

  explicit impl(server_settings s)
      : settings(std::move(s)), boxes(settings.detect_probability, settings.seed) {}

  routed_reply route(const restinio::request_t& req) {
    auto path = to_std(req.header().path());
    auto method = req.header().method();
    if (path == "/health") {
      if (method != restinio::http_method_get())
        return method_not_allowed("GET");
      return {{200, std::string{health_body}}, {}};
    }
    if (path == "/openapi.json") {
      if (method != restinio::http_method_get())
        return method_not_allowed("GET");
      return {{200, std::string{openapi_document()}}, {}};
    }
    if (path == "/ml-process-img") {
      if (method != restinio::http_method_post())
        return method_not_allowed("POST");
      auto content_type = req.header().opt_value_of(restinio::http_field::content_type);
      return {handle_detect(boxes, content_type ? to_std(*content_type) : std::string_view{},
                            to_std(req.body()), settings.max_body_bytes),
              {}};
    }
    return {error_reply(404, "Not Found"), {}};
  }

  restinio::request_handling_status_t handle(const restinio::request_handle_t& req) {
    // An exception escaping this function makes RESTinio drop the connection without an
    // answer, so everything is caught: first while computing the reply, then while sending.
    routed_reply routed;
    try {
      routed = route(*req);
    } catch (const std::exception& e) {
      log::error(log_component, std::string{"handler failed: "} + e.what());
      routed = {error_reply(500, "internal error"), {}};
    } catch (...) {
      log::error(log_component, "handler failed with a non-standard exception");
      routed = {error_reply(500, "internal error"), {}};
    }
    auto status = routed.reply.status;
    auto line = std::string{req->header().method().c_str()} + " " +
                std::string{to_std(req->header().path())} + " -> " + std::to_string(status);
    if (status >= 500)
      log::error(log_component, line);
    else if (status >= 400)
      log::info(log_component, line + " " + routed.reply.body);
    else
      log::debug(log_component, line + " " + routed.reply.body);
    try {
      auto response = req->create_response(restinio::http_status_line_t{
          restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, reason_phrase(status)});
      response.append_header(restinio::http_field::content_type, "application/json");
      if (!routed.allow.empty())
        response.append_header(restinio::http_field::allow, std::string{routed.allow});
      response.set_body(std::move(routed.reply.body));
      response.done();
    } catch (const std::exception& e) {
      log::error(log_component, std::string{"cannot send the response: "} + e.what());
    } catch (...) {
      log::error(log_component, "cannot send the response");
    }
    return restinio::request_accepted();
  }

  server_settings settings;
  box_generator boxes;
  std::atomic<std::uint16_t> bound_port{0};
  std::mutex lifecycle_mutex; // start() and stop() may come from different threads
  restinio::running_server_handle_t<traits> running;
};

server::server(server_settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {}

server::~server() {
  stop();
}

void server::start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
  if (impl_->running)
    throw std::logic_error("ml_mock server already started");
  auto* self = impl_.get();
  auto limits = restinio::incoming_http_msg_limits_t{}.max_body_size(
      static_cast<std::uint64_t>(self->settings.max_body_bytes) + body_cap_slack);
  auto settings =
      restinio::server_settings_t<impl::traits>{}
          .address(self->settings.host)
          .port(self->settings.port)
          .incoming_http_msg_limits(limits)
          .acceptor_post_bind_hook([self](restinio::asio_ns::ip::tcp::acceptor& a) {
            self->bound_port = a.local_endpoint().port();
          })
          .request_handler([self](restinio::request_handle_t req) { return self->handle(req); });
  impl_->running = restinio::run_async<impl::traits>(restinio::own_io_context(),
                                                     std::move(settings), self->settings.threads);
}

std::uint16_t server::port() const {
  return impl_->bound_port.load();
}

void server::stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
  if (!impl_->running)
    return;
  // RESTinio's handle supports stop() and wait() once each; resetting it keeps stop() idempotent.
  impl_->running->stop();
  impl_->running->wait();
  impl_->running.reset();
  impl_->bound_port = 0;
}

const server_settings& server::settings() const {
  return impl_->settings;
}

} // namespace imgproc::ml_mock
