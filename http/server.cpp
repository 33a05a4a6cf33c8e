#include "http/server.hpp"

#include "common/log.hpp"
#include "core/errors.hpp"
#include "core/task_json.hpp"
#include "http/api_json.hpp"
#include "http/exchange.hpp"
#include "http/guarded_socket.hpp"
#include "http/handlers/handlers.hpp"
#include "http/routes.hpp"
#include "metrics/metrics.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <restinio/all.hpp>
#include <vector>

namespace imgproc {
namespace {

using router_t = restinio::router::express_router_t<>;

struct server_traits : restinio::default_traits_t {
  using request_handler_t = router_t;
  /// Answers requests over RESTinio's transport caps, which RESTinio itself would drop unanswered.
  using stream_socket_t = guarded_socket;
  static constexpr bool use_connection_count_limiter = true;
};

using running_server = restinio::running_server_handle_t<server_traits>;

/// Compares in time independent of where the strings differ, so the token cannot be guessed
/// byte by byte from response times.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

/// The method as the log shows it: a short token, else "?".
std::string loggable_method(const std::string& method) {
  if (method.empty() || !std::all_of(method.begin(), method.end(),
                                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '-'; }))
    return "?";
  return method;
}

/// Requests over RESTinio's transport caps are answered by the socket (http/guarded_socket.hpp)
/// before any handler: named against the service's limits, counted with the other answers under
/// route "-", and logged like them.
guard_settings transport_guard(const http_settings& s, metrics::registry* metrics) {
  guard_settings guard;
  guard.limits.service_url_bytes = s.max_url_bytes;
  guard.limits.service_header_bytes = s.max_header_bytes;
  guard.limits.service_body_bytes = s.max_upload_bytes;
  guard.on_refusal = [metrics](const guard_refusal& refusal) {
    if (metrics)
      metrics->http_request("-", refusal.status, 0.0);
    log::info("request",
              "id=- method=" + loggable_method(refusal.method) +
                  " route=- status=" + std::to_string(refusal.status) +
                  " duration_ms=0.0 peer=" + (refusal.peer.empty() ? "-" : refusal.peer) +
                  " detail=\"" + refusal.detail + "\"");
  };
  return guard;
}

restinio::http_method_id_t router_method(const std::string& method) {
  if (method == "get")
    return restinio::http_method_get();
  if (method == "post")
    return restinio::http_method_post();
  if (method == "put")
    return restinio::http_method_put();
  if (method == "delete")
    return restinio::http_method_delete();
  throw std::logic_error("a route with method " + method + ": add it to router_method()");
}

} // namespace

struct http_server::impl {
  http_settings settings;
  image_service* service; ///< none on a worker node: only the process's own routes are served
  metrics::registry* metrics = nullptr; ///< settings.metrics, if any
  running_server server;
  std::atomic<std::uint16_t> bound_port{0};

  impl(http_settings s, image_service* svc)
      : settings(std::move(s)), service(svc), metrics(settings.metrics.get()) {}

  /// The request target and header limits. RESTinio's own caps are set higher: a request a
  /// little over a limit is answered here, one over RESTinio's caps by the guarded socket.
  std::optional<failure> refuse_oversized(const restinio::request_handle_t& req) const {
    const auto& header = req->header();
    if (header.request_target().size() > settings.max_url_bytes)
      return make_failure(
          error_code::uri_too_long,
          "the request target is " + std::to_string(header.request_target().size()) +
              " bytes, over the limit of " + std::to_string(settings.max_url_bytes));
    std::size_t bytes = 0;
    header.for_each_field(
        [&](const auto& field) { bytes += field.name().size() + field.value().size(); });
    if (bytes > settings.max_header_bytes)
      return make_failure(error_code::headers_too_large,
                          "the request headers are " + std::to_string(bytes) +
                              " bytes, over the limit of " +
                              std::to_string(settings.max_header_bytes));
    return std::nullopt;
  }

  /// Whether the request carries the admin token (always, when none is set).
  bool authorized(const restinio::request_handle_t& req) const {
    if (settings.admin_token.empty())
      return true;
    auto header = req->header().get_field_or(restinio::http_field::authorization, "");
    // The scheme name is case-insensitive (RFC 7235); the token is not.
    const std::string_view scheme = "bearer ";
    return header.size() > scheme.size() &&
           restinio::impl::is_equal_caseless(std::string_view{header}.substr(0, scheme.size()),
                                             scheme) &&
           same_secret(std::string_view{header}.substr(scheme.size()), settings.admin_token);
  }

  /// The chain around every handler, in order: exceptions caught (one escaping a RESTinio
  /// handler would drop the connection without a response), the exchange opened (request id,
  /// in-flight metric, start time), the header limits, the gateway-only and admin-token checks;
  /// then the route's handler. Every path answers the exchange exactly once.
  restinio::request_handling_status_t serve(const api_route& route,
                                            const restinio::request_handle_t& req,
                                            const restinio::router::route_params_t& params) {
    auto ex = std::make_shared<exchange>();
    ex->req = req;
    ex->route = route.metric_label;
    try {
      ex->method = req->header().method().c_str();
      ex->id = request_id_for(req);
      if (metrics) {
        metrics->http_in_flight(+1);
        ex->metrics = metrics;
      }
      if (auto refused = refuse_oversized(req))
        answer_now(ex, failure_reply(*refused));
      else if (route.path.find('{') != std::string::npos && meant_a_literal_route(req))
        not_found_or_not_allowed(ex, req);
      else if (route.gateway_only && !service)
        answer_now(ex, {404, to_text(error_body("a worker node serves only /metrics and /health; "
                                                "send requests to its gateway"))});
      else if (route.admin_only && !authorized(req))
        answer_now(ex, failure_reply(make_failure(error_code::unauthorized,
                                                  "a valid admin token is required: "
                                                  "Authorization: Bearer <token>")));
      else {
        handler_context call{ex, req, params, service, settings};
        route.handler(call);
      }
      return restinio::request_accepted();
    } catch (const std::exception& e) {
      log::error("http", std::string{"handler failed: "} + e.what());
    } catch (...) {
      log::error("http", "handler failed with a non-standard exception");
    }
    try {
      answer_now(ex, {500, to_text(error_body("internal server error"))});
      return restinio::request_accepted();
    } catch (...) {
      return restinio::request_rejected();
    }
  }

  std::unique_ptr<router_t> make_router() {
    auto router = std::make_unique<router_t>();
    for (const auto& route : api_routes())
      router->add_handler(
          router_method(route.method), express_path(route.path),
          [this, &route](auto req, auto params) { return serve(route, req, params); });
    // A path no route serves: 405 when some route serves it with another method, else 404.
    router->non_matched_request_handler([this](auto req) {
      static const api_route other{"", "", not_found_or_not_allowed, false, false, "other"};
      return serve(other, req, restinio::router::route_params_t{});
    });
    return router;
  }

  static void not_found_or_not_allowed(handler_context& call) {
    not_found_or_not_allowed(call.ex, call.req);
  }

  static void not_found_or_not_allowed(const exchange_ptr& ex,
                                       const restinio::request_handle_t& req) {
    auto path = req->header().path();
    bool known = is_known_path(std::string_view{path.data(), path.size()});
    answer_now(
        ex, {known ? 405 : 404, to_text(error_body(known ? "Method Not Allowed" : "Not Found"))});
  }

  /// `GET /pipelines/dry-run` reaches `GET /pipelines/{id}` with the id "dry-run"; the client
  /// meant the dry-run route, which takes POST only: 405, not "the id must be a number".
  static bool meant_a_literal_route(const restinio::request_handle_t& req) {
    auto path = req->header().path();
    return is_literal_route_path(std::string_view{path.data(), path.size()});
  }
};

http_server::http_server(http_settings settings, image_service& service)
    : impl_(std::make_unique<impl>(std::move(settings), &service)) {}

http_server::http_server(http_settings settings)
    : impl_(std::make_unique<impl>(std::move(settings), nullptr)) {}

http_server::~http_server() {
  stop();
}

void http_server::start() {
  auto& s = impl_->settings;
  // RESTinio's own caps (the transport caps) sit above the service's limits, so that a request a
  // little over a limit reaches its handler, which answers it. RESTinio would close the connection
  // without an answer on a request over its caps; the guarded socket answers those (413, 414,
  // 431) from the same caps. RESTinio reserves the declared Content-Length up front, so the body
  // cap stays close to the upload limit: it bounds memory per connection.
  auto transport_cap = s.max_upload_bytes + (1u << 20);
  auto settings =
      restinio::server_settings_t<server_traits>{}
          .address(s.host)
          .port(s.port)
          .request_handler(impl_->make_router())
          .max_pipelined_requests(1) // the guarded socket needs it
          .read_next_http_message_timelimit(s.read_timeout)
          .write_http_response_timelimit(std::chrono::seconds(10))
          .handle_request_timeout(s.handle_timeout)
          .max_parallel_connections(s.max_connections)
          .incoming_http_msg_limits(
              restinio::incoming_http_msg_limits_t{}
                  .max_body_size(transport_cap)
                  // Twice ours: requests a little over our limits reach their handlers.
                  .max_url_size(2 * s.max_url_bytes)
                  .max_field_value_size(2 * s.max_header_bytes)
                  .max_field_name_size(2 * s.max_header_bytes))
          .request_guard(transport_guard(s, impl_->metrics))
          .acceptor_post_bind_hook([this](restinio::asio_ns::ip::tcp::acceptor& acceptor) {
            impl_->bound_port = acceptor.local_endpoint().port();
          });
  try {
    impl_->server = restinio::run_async<server_traits>(restinio::own_io_context(),
                                                       std::move(settings), s.threads);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + s.host + ":" + std::to_string(s.port) + ": " +
                             e.what());
  }
}

void http_server::stop() {
  if (impl_ && impl_->server) {
    impl_->server->stop();
    impl_->server->wait();
    // Not destroyed: RESTinio 0.6.16 frees its acceptor, which owns the connection-count
    // limiter, before its io_context, whose destructor then destroys the connections still open
    // and has them update the freed limiter (a use-after-free ASan caught at shutdown; upstream
    // Stiffstream/restinio#246). The threads have stopped and the process is about to exit, so
    // the stopped server is parked, reachable, until exit; its sockets close with the process.
    static auto* parked = new std::vector<running_server>();
    parked->push_back(std::move(impl_->server));
  }
}

std::uint16_t http_server::port() const {
  return impl_->bound_port.load();
}

} // namespace imgproc
