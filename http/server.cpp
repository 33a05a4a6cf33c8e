#include "http/server.hpp"

#include "common/http_status.hpp"
#include "common/log.hpp"
#include "common/options.hpp"
#include "core/errors.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/task_json.hpp"
#include "core/upload.hpp"
#include "http/api_assets.hpp"
#include "http/api_json.hpp"
#include "http/guarded_socket.hpp"
#include "http/routes.hpp"
#include "http/static_assets.hpp"
#include "http/upload_parser.hpp"
#include "metrics/metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <regex>
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

/// One HTTP exchange, from the handler's start to the answer: what the request log line and the
/// HTTP metrics need. Every response goes out through finish().
struct exchange {
  restinio::request_handle_t req;
  std::string route; ///< the route pattern, e.g. /tasks/:id (a metric label: bounded set)
  std::string method;
  std::string id; ///< X-Request-Id
  std::optional<int> pipeline_id;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  metrics::registry* metrics = nullptr;
  std::atomic<bool> finished{false}; ///< answered (and counted) once, whoever answers
};

using exchange_ptr = std::shared_ptr<exchange>;

/// An X-Request-Id from the client if it is short and plain, else a new one: a process-random
/// prefix and a counter, unique without a system call per request.
std::string request_id_for(const restinio::request_handle_t& req) {
  auto given = req->header().get_field_or("X-Request-Id", "");
  if (!given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      }))
    return given;
  static const std::string prefix = [] {
    std::random_device random;
    char text[9];
    std::snprintf(text, sizeof text, "%08x", random());
    return std::string{text};
  }();
  static std::atomic<std::uint64_t> counter{0};
  return prefix + "-" + std::to_string(counter.fetch_add(1) + 1);
}

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

/// Writes the response (RESTinio dispatches it onto the connection's strand, so any thread may
/// call this), then records the exchange: one log line and the HTTP metrics.
void finish(exchange& ex, const http_reply& reply, const char* content_type = "application/json") {
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
  response.set_body(reply.body);
  response.done();
}

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
      // The connection is gone (client hung up, or RESTinio's own timeout already answered).
      log::debug("http", std::string{"response not written: "} + e.what());
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

http_reply error_reply(const failure& f) {
  return failure_reply(f);
}

restinio::request_handling_status_t answer_now(const exchange_ptr& ex, const http_reply& reply,
                                               const char* content_type = "application/json") {
  finish(*ex, reply, content_type);
  return restinio::request_accepted();
}

/// Compares in time independent of where the strings differ, so the token cannot be guessed
/// byte by byte from response times.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

constexpr std::size_t max_json_body = 1u << 20;

std::optional<int> route_id(const restinio::router::route_params_t& params, const char* name) {
  auto text = params[name];
  auto id = parse_pipeline_id(std::string_view{text.data(), text.size()});
  if (!id)
    return std::nullopt;
  return *id;
}

/// The request target and header limits. RESTinio's own caps are set higher: a request a little
/// over a limit is answered here, one over RESTinio's caps by the guarded socket.
struct header_limits {
  std::size_t max_url_bytes = 8192;
  std::size_t max_header_bytes = 32768;
};

std::optional<failure> refuse_oversized(const restinio::request_handle_t& req,
                                        const header_limits& limits) {
  const auto& header = req->header();
  if (header.request_target().size() > limits.max_url_bytes)
    return make_failure(error_code::uri_too_long,
                        "the request target is " + std::to_string(header.request_target().size()) +
                            " bytes, over the limit of " + std::to_string(limits.max_url_bytes));
  std::size_t bytes = 0;
  header.for_each_field(
      [&](const auto& field) { bytes += field.name().size() + field.value().size(); });
  if (bytes > limits.max_header_bytes)
    return make_failure(error_code::headers_too_large,
                        "the request headers are " + std::to_string(bytes) +
                            " bytes, over the limit of " + std::to_string(limits.max_header_bytes));
  return std::nullopt;
}

/// Every handler runs inside this, with its exchange: an exception escaping a RESTinio handler
/// would drop the connection without a response.
template <class F>
restinio::request_handling_status_t guarded(const restinio::request_handle_t& req,
                                            metrics::registry* metrics, std::string route,
                                            const header_limits& limits, F&& body) {
  auto ex = std::make_shared<exchange>();
  ex->req = req;
  ex->route = std::move(route);
  try {
    ex->method = req->header().method().c_str();
    ex->id = request_id_for(req);
    if (metrics) {
      metrics->http_in_flight(+1);
      ex->metrics = metrics;
    }
    if (auto refused = refuse_oversized(req, limits))
      return answer_now(ex, failure_reply(*refused));
    return body(ex);
  } catch (const std::exception& e) {
    log::error("http", std::string{"handler failed: "} + e.what());
  } catch (...) {
    log::error("http", "handler failed with a non-standard exception");
  }
  try {
    return answer_now(ex, {500, to_text(error_body("internal server error")), {}});
  } catch (...) {
    return restinio::request_rejected();
  }
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

} // namespace

struct http_server::impl {
  http_settings settings;
  image_service* service; ///< none on a worker node: only the process's own routes are served
  metrics::registry* metrics = nullptr; ///< settings.metrics, if any
  header_limits limits;
  running_server server;
  std::atomic<std::uint16_t> bound_port{0};

  impl(http_settings s, image_service* svc)
      : settings(std::move(s)), service(svc),
        metrics(settings.metrics.get()), limits{settings.max_url_bytes, settings.max_header_bytes} {
  }

  restinio::request_handling_status_t process_image(const restinio::request_handle_t& req,
                                                    const char* route) {
    return guarded(req, metrics, route, limits, [&](const exchange_ptr& ex) {
      if (req->body().size() > settings.max_upload_bytes)
        return answer_now(ex, error_reply(make_failure(
                                  error_code::payload_too_large,
                                  "upload of " + std::to_string(req->body().size()) +
                                      " bytes is over the limit of " +
                                      std::to_string(settings.max_upload_bytes) + " bytes")));
      auto query = restinio::try_parse_query<restinio::parse_query_traits::restinio_defaults>(
          req->header().query());
      if (!query)
        return answer_now(
            ex, error_reply(make_failure(error_code::bad_request, "malformed query string")));
      std::optional<std::string_view> query_id;
      if (query->has("pipeline_id")) {
        auto value = (*query)["pipeline_id"];
        query_id = std::string_view{value.data(), value.size()};
      }
      bool async = false;
      if (query->has("async")) {
        auto value = (*query)["async"];
        std::string_view flag{value.data(), value.size()};
        if (flag == "true" || flag == "1")
          async = true;
        else if (flag != "false" && flag != "0")
          return answer_now(ex, error_reply(make_failure(error_code::bad_request,
                                                         "async must be true or false")));
      }
      auto content_type = req->header().get_field_or(restinio::http_field::content_type, "");
      auto upload = parse_process_upload(content_type, req->body(), query_id);
      if (!upload)
        return answer_now(ex, error_reply(upload.error()));
      // Refused from the header alone: no task row, no decoding, no allocation for the pixels.
      if (auto header = read_jpeg_header(upload->image)) {
        auto pixels = static_cast<std::uint64_t>(header->width) * header->height;
        if (header->width < settings.min_image_side || header->height < settings.min_image_side)
          return answer_now(
              ex, error_reply(make_failure(
                      error_code::image_too_small,
                      "image is " + std::to_string(header->width) + "x" +
                          std::to_string(header->height) + " pixels, under the minimum side of " +
                          std::to_string(settings.min_image_side) + " pixels")));
        if (pixels > settings.max_image_pixels)
          return answer_now(ex,
                            error_reply(make_failure(
                                error_code::image_too_large,
                                "image is " + std::to_string(header->width) + "x" +
                                    std::to_string(header->height) + " pixels, over the limit of " +
                                    std::to_string(settings.max_image_pixels) + " pixels")));
      } else if (async) {
        // A queued upload is decoded later, with no client waiting to hear it was unreadable.
        return answer_now(ex, error_reply(make_failure(error_code::undecodable_image,
                                                       "the JPEG header cannot be read")));
      }
      process_request work;
      work.pipeline_id = upload->pipeline_id;
      work.request_id = ex->id;
      ex->pipeline_id = upload->pipeline_id;
      work.filename = std::move(upload->filename);
      work.image = upload->image;
      work.owner = req; // keeps the body, and so `image`, alive
      work.deadline = std::chrono::steady_clock::now() + settings.request_timeout;
      work.async = async;
      service->process(std::move(work), answer_to<task_answer>(ex));
      return restinio::request_accepted();
    });
  }

  restinio::request_handling_status_t get_task(const restinio::request_handle_t& req,
                                               const restinio::router::route_params_t& params,
                                               const char* route) {
    return guarded(req, metrics, route, limits, [&](const exchange_ptr& ex) {
      auto text = params["id"];
      auto id = parse_int(std::string{text.data(), text.size()});
      if (!id || *id <= 0)
        return answer_now(ex, error_reply(make_failure(error_code::bad_request,
                                                       "task id must be a positive integer")));
      service->get_task(*id, answer_to<task_record>(ex));
      return restinio::request_accepted();
    });
  }

  /// nullopt when allowed; else the 401 to answer.
  std::optional<http_reply> refuse_unauthorized(const restinio::request_handle_t& req) {
    if (settings.admin_token.empty())
      return std::nullopt;
    auto header = req->header().get_field_or(restinio::http_field::authorization, "");
    // The scheme name is case-insensitive (RFC 7235); the token is not.
    const std::string_view scheme = "bearer ";
    if (header.size() > scheme.size() &&
        restinio::impl::is_equal_caseless(std::string_view{header}.substr(0, scheme.size()),
                                          scheme) &&
        same_secret(std::string_view{header}.substr(scheme.size()), settings.admin_token))
      return std::nullopt;
    return failure_reply(make_failure(error_code::unauthorized, "a valid admin token is required: "
                                                                "Authorization: Bearer <token>"));
  }

  restinio::request_handling_status_t list_tasks(const restinio::request_handle_t& req) {
    return guarded(req, metrics, "/tasks", limits, [&](const exchange_ptr& ex) {
      auto query = restinio::try_parse_query<restinio::parse_query_traits::restinio_defaults>(
          req->header().query());
      auto bad = [&](const std::string& detail) {
        return answer_now(ex, error_reply(make_failure(error_code::bad_request, detail)));
      };
      if (!query)
        return bad("malformed query string");
      task_filter filter;
      auto text = [&](const char* name) {
        auto v = (*query)[name];
        return std::string{v.data(), v.size()};
      };
      if (query->has("pipeline_id")) {
        auto id = parse_pipeline_id(text("pipeline_id"));
        if (!id)
          return bad("pipeline_id must be a positive integer");
        filter.pipeline_id = *id;
      }
      if (query->has("status")) {
        auto status = text("status");
        if (status != "queued" && status != "processing" && status != "detected" &&
            status != "undetected" && status != "processed" && status != "failed")
          return bad(
              "status must be queued, processing, detected, undetected, processed or failed");
        filter.status = status;
      }
      if (query->has("limit")) {
        auto limit = parse_int(text("limit"));
        if (!limit || *limit < 1 || *limit > 500)
          return bad("limit must be an integer in [1, 500]");
        filter.limit = static_cast<int>(*limit);
      }
      if (query->has("after_id")) {
        auto after = parse_int(text("after_id"));
        if (!after || *after < 1)
          return bad("after_id must be a positive integer");
        filter.after_id = *after;
      }
      service->list_tasks(std::move(filter), answer_to<task_page>(ex));
      return restinio::request_accepted();
    });
  }

  /// Checks token and body size of a pipeline change, then hands it on.
  template <class F>
  restinio::request_handling_status_t change_pipeline(const restinio::request_handle_t& req,
                                                      const char* route, F&& forward) {
    return guarded(req, metrics, route, limits, [&](const exchange_ptr& ex) {
      if (auto refused = refuse_unauthorized(req))
        return answer_now(ex, *refused);
      if (req->body().size() > max_json_body)
        return answer_now(ex, error_reply(make_failure(error_code::payload_too_large,
                                                       "a pipeline definition is at most 1 MiB")));
      forward(ex);
      return restinio::request_accepted();
    });
  }

  /// An embedded file with its content type, or a JSON 404 when there is none.
  static restinio::request_handling_status_t answer_asset(const exchange_ptr& ex,
                                                          const static_asset* asset) {
    if (!asset)
      return answer_now(ex, {404, to_text(error_body("Not Found")), {}});
    std::string content_type{asset->content_type};
    return answer_now(ex, {200, std::string{asset->body}, {}}, content_type.c_str());
  }

  std::unique_ptr<router_t> make_router() {
    auto router = std::make_unique<router_t>();
    // Every route is one of api_routes() (http/routes.cpp), the list the OpenAPI document is
    // checked against: registering another one, or missing one, stops the server from starting.
    std::size_t registered = 0;
    auto add = [&](restinio::http_method_id_t method, const char* path,
                   router_t::actual_request_handler_t handler) {
      std::string name = method.c_str();
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const auto& routes = api_routes();
      auto openapi = openapi_path(path);
      if (std::none_of(routes.begin(), routes.end(),
                       [&](const api_route& r) { return r.method == name && r.path == openapi; }))
        throw std::logic_error(name + " " + openapi + " is not in api_routes()");
      ++registered;
      router->add_handler(method, path, std::move(handler));
    };
    // A worker node's port serves only what describes the process itself (/metrics, /health,
    // /ready, the documentation): the service's routes answer 404 there.
    auto add_service = [&](restinio::http_method_id_t method, const char* path,
                           router_t::actual_request_handler_t handler) {
      if (service)
        return add(method, path, std::move(handler));
      add(method, path, [this, route = std::string{path}](auto req, auto) {
        return guarded(req, metrics, route, limits, [&](const exchange_ptr& ex) {
          return answer_now(ex, {404, to_text(error_body("a worker node serves only /metrics "
                                                         "and /health; send requests to its "
                                                         "gateway"))});
        });
      });
    };
    for (const char* path : {"/process-image", "/process_image", "/api/process-image"})
      add_service(restinio::http_method_post(), path,
                  [this, path](auto req, auto) { return process_image(req, path); });
    for (const char* path : {"/tasks/:id", "/api/tasks/:id"})
      add_service(restinio::http_method_get(), path,
                  [this, path](auto req, auto&& params) { return get_task(req, params, path); });
    add_service(restinio::http_method_get(), "/tasks",
                [this](auto req, auto) { return list_tasks(req); });
    add_service(restinio::http_method_get(), "/steps", [this](auto req, auto) {
      return guarded(req, metrics, "/steps", limits, [&](const exchange_ptr& ex) {
        service->list_steps(answer_to<step_list>(ex));
        return restinio::request_accepted();
      });
    });
    add_service(restinio::http_method_get(), "/pipelines", [this](auto req, auto) {
      return guarded(req, metrics, "/pipelines", limits, [&](const exchange_ptr& ex) {
        service->list_pipelines(answer_to<pipeline_list>(ex));
        return restinio::request_accepted();
      });
    });
    add_service(restinio::http_method_post(), "/pipelines", [this](auto req, auto) {
      return change_pipeline(req, "/pipelines", [&](const exchange_ptr& ex) {
        service->create_pipeline(std::string{req->body()},
                                 answer_to<pipeline_record>(ex, [](const pipeline_record& record) {
                                   return to_reply(record, 201);
                                 }));
      });
    });
    auto bad_id = [](const exchange_ptr& ex) {
      return answer_now(ex, error_reply(make_failure(error_code::bad_request,
                                                     "pipeline id must be a positive integer")));
    };
    add_service(
        restinio::http_method_get(), "/pipelines/:id", [this, bad_id](auto req, auto&& params) {
          return guarded(req, metrics, "/pipelines/:id", limits, [&](const exchange_ptr& ex) {
            auto id = route_id(params, "id");
            if (!id)
              return bad_id(ex);
            service->get_pipeline(*id, std::nullopt, answer_to<pipeline_record>(ex));
            return restinio::request_accepted();
          });
        });
    add_service(restinio::http_method_get(), "/pipelines/:id/versions/:version",
                [this, bad_id](auto req, auto&& params) {
                  return guarded(
                      req, metrics, "/pipelines/:id/versions/:version", limits,
                      [&](const exchange_ptr& ex) {
                        auto id = route_id(params, "id");
                        auto version = route_id(params, "version");
                        if (!id)
                          return bad_id(ex);
                        if (!version)
                          return answer_now(
                              ex, error_reply(make_failure(error_code::bad_request,
                                                           "version must be a positive integer")));
                        service->get_pipeline(*id, *version, answer_to<pipeline_record>(ex));
                        return restinio::request_accepted();
                      });
                });
    // The token is checked before anything else (change_pipeline), even the id.
    add_service(restinio::http_method_put(), "/pipelines/:id", [this](auto req, auto&& params) {
      auto id = route_id(params, "id");
      return change_pipeline(req, "/pipelines/:id", [&](const exchange_ptr& ex) {
        if (id)
          service->replace_pipeline(*id, std::string{req->body()}, answer_to<pipeline_record>(ex));
        else
          answer_now(ex, error_reply(make_failure(error_code::bad_request,
                                                  "pipeline id must be a positive integer")));
      });
    });
    add_service(restinio::http_method_delete(), "/pipelines/:id", [this](auto req, auto&& params) {
      auto id = route_id(params, "id");
      return change_pipeline(req, "/pipelines/:id", [&](const exchange_ptr& ex) {
        if (id)
          service->delete_pipeline(*id, answer_to<pipeline_removal>(ex));
        else
          answer_now(ex, error_reply(make_failure(error_code::bad_request,
                                                  "pipeline id must be a positive integer")));
      });
    });
    add(restinio::http_method_get(), "/ready", [this](auto req, auto) {
      return guarded(req, metrics, "/ready", limits, [&](const exchange_ptr& ex) {
        if (!service) // a worker: ready as soon as it serves
          return answer_now(ex, to_reply(service_ready{}));
        service->check_ready(answer_to<service_ready>(ex));
        return restinio::request_accepted();
      });
    });
    add_service(restinio::http_method_get(), "/cluster", [this](auto req, auto) {
      return guarded(req, metrics, "/cluster", limits, [&](const exchange_ptr& ex) {
        service->cluster_status(answer_to<cluster_view>(ex));
        return restinio::request_accepted();
      });
    });
    add(restinio::http_method_get(), "/metrics", [this](auto req, auto) {
      return guarded(req, metrics, "/metrics", limits, [&](const exchange_ptr& ex) {
        if (!settings.metrics)
          return answer_now(ex, {404, to_text(error_body("metrics are off")), {}});
        return answer_now(ex, {200, settings.metrics->scrape(), {}},
                          "text/plain; version=0.0.4; charset=utf-8");
      });
    });
    // A page and its files, compiled into the binary: GET <page> answers `index`, GET
    // <page>/<file> the file of that name (or 404).
    auto add_page = [&](const char* page, const char* files, std::string index, auto serve) {
      add(restinio::http_method_get(), page,
          [serve, index](auto req, auto) { return serve(req, index); });
      add(restinio::http_method_get(), files, [serve](auto req, auto&& params) {
        auto file = params["file"];
        return serve(req, std::string{file.data(), file.size()});
      });
    };
    add_page("/dashboard", "/dashboard/:file", "index.html",
             [this](const restinio::request_handle_t& req, const std::string& file) {
               return guarded(req, metrics, "/dashboard", limits, [&](const exchange_ptr& ex) {
                 return answer_asset(ex, find_static_asset(file));
               });
             });
    add(restinio::http_method_get(), "/health", [this](auto req, auto) {
      return guarded(req, metrics, "/health", limits, [&](const exchange_ptr& ex) {
        return answer_now(ex, {200, R"({"status":"ok"})", {}});
      });
    });
    add(restinio::http_method_get(), "/openapi.json", [this](auto req, auto) {
      return guarded(req, metrics, "/openapi.json", limits, [&](const exchange_ptr& ex) {
        return answer_now(ex, {200, std::string{openapi_document()}, {}});
      });
    });
    // Swagger UI over /openapi.json (compiled in, no CDN).
    add_page("/docs", "/docs/:file", "docs.html",
             [this](const restinio::request_handle_t& req, const std::string& file) {
               return guarded(req, metrics, "/docs", limits, [&](const exchange_ptr& ex) {
                 if (!find_api_asset("swagger-ui-bundle.js"))
                   return answer_now(
                       ex, {503,
                            to_text(error_body("Swagger UI was not installed when this binary "
                                               "was built (scripts/setup installs it); the API "
                                               "description is at /openapi.json")),
                            {}});
                 return answer_asset(ex, file == "openapi.json" ? nullptr : find_api_asset(file));
               });
             });
    if (registered != api_routes().size())
      throw std::logic_error("the router misses routes of api_routes()");
    router->non_matched_request_handler([this](auto req) {
      return guarded(req, metrics, "other", limits, [&](const exchange_ptr& ex) {
        auto path = req->header().path();
        bool known = is_known_path(std::string_view{path.data(), path.size()});
        return answer_now(ex, {known ? 405 : 404,
                               to_text(error_body(known ? "Method Not Allowed" : "Not Found")),
                               {}});
      });
    });
    return router;
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
