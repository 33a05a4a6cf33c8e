#include "app/settings.hpp"

#include "core/object_detectors.hpp"
#include "db/connection.hpp"

#include <cstdio>
#include <functional>
#include <thread>
#include <type_traits>
#include <unistd.h>

namespace imgproc {

namespace {

unsigned cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string default_node_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "node");
  return std::string{host} + "-" + std::to_string(getpid());
}

gateway_address parse_gateway_address(const std::string& text) {
  auto colon = text.rfind(':');
  auto port = colon == std::string::npos ? std::nullopt : parse_int(text.substr(colon + 1));
  if (colon == 0 || colon == std::string::npos || !port || *port < 1 || *port > 65535)
    throw option_error("--join takes host:port (e.g. gateway.internal:4242), got '" + text + "'");
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') // [::1]:4242
    host = host.substr(1, host.size() - 2);
  return {host, static_cast<std::uint16_t>(*port)};
}

/// Reads one option (`name`) into the settings it configures.
using setting = std::function<void(const option_set&, const std::string& name, serve_settings&)>;

/// One row of the option table: the option as the user sees it (name, environment variable,
/// default, help) and the field it sets. `apply` is empty for the options read together in
/// derive() (the database parts, the `off` ports, the node name).
struct option_row {
  option_spec spec;
  setting apply;
};

// A field of serve_settings, for the helpers below.
#define FIELD(member)                                                                              \
  [](serve_settings & s) -> auto& {                                                                \
    return s.member;                                                                               \
  }

template <class Field> setting integer(Field field, std::int64_t min, std::int64_t max) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    auto& target = field(s);
    target = static_cast<std::decay_t<decltype(target)>>(o.get_int(name, min, max));
  };
}

template <class Field> setting millis(Field field, std::int64_t min, std::int64_t max) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    field(s) = std::chrono::milliseconds(o.get_int(name, min, max));
  };
}

template <class Field> setting text(Field field) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    field(s) = o.get(name);
  };
}

template <class Field> setting text_list(Field field) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    field(s) = o.get_list(name);
  };
}

template <class Field> setting scheduler(Field field) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    auto value = o.get(name);
    if (value == "sharing")
      field(s) = scheduler_policy::sharing;
    else if (value == "stealing")
      field(s) = scheduler_policy::stealing;
    else
      throw option_error("--" + name + " takes sharing or stealing, got '" + value + "'");
  };
}

template <class Field> setting flag(Field field) {
  return [=](const option_set& o, const std::string& name, serve_settings& s) {
    field(s) = o.get_bool(name);
  };
}

/// Every option of every command, once: the parser, `--help` and the settings all come from it.
std::vector<option_row> option_table(role r) {
  auto threads = std::to_string(cores());
  // A job spends part of its life waiting for the ML service: a few per core keep cores busy.
  auto node_capacity = std::to_string(4 * cores());
  return {
      {{"host", "IMGPROC_HOST", "0.0.0.0", "address the HTTP front-end listens on"},
       text(FIELD(http.host))},
      {{"port", "IMGPROC_PORT", "8000", "HTTP port; 0 picks a free one (printed at start)"},
       integer(FIELD(http.port), 0, 65535)},
      {{"db", "DATABASE_URL", "",
        "PostgreSQL DSN (libpq URI, e.g. postgresql://user:pass@host:5432/imgproc); "
        "without it the POSTGRES_* parts below are used"},
       {}},
      {{"postgres-server", "POSTGRES_SERVER", "", "database host (the original's variable)"}, {}},
      {{"postgres-port", "POSTGRES_PORT", "", "database port"}, {}},
      {{"postgres-user", "POSTGRES_USER", "", "database user"}, {}},
      {{"postgres-password", "POSTGRES_PASSWORD", "", "database password"}, {}},
      {{"postgres-db", "POSTGRES_DB", "", "database name"}, {}},
      {{"ml-url", "ML_SERVICE_URL", "http://127.0.0.1:5000/ml-process-img",
        "ML service endpoint (a detect step's `url` parameter overrides it)"},
       text(FIELD(node.stages.detector.url))},
      {{"ml-allowed-urls", "IMGPROC_ML_ALLOWED_URLS", "",
        "comma-separated URLs a pipeline's detect step may call besides --ml-url: same scheme, "
        "host and port, and the path or one below it; no user or password"},
       text_list(FIELD(node.stages.detector.allowed_urls))},
      {{"ml-timeout-ms", "IMGPROC_ML_TIMEOUT_MS", "5000",
        "timeout of one ML call (a detect step's `timeout_ms` overrides it)"},
       millis(FIELD(node.stages.detector.timeout), 1, 600000)},
      {{"ml-concurrency", "IMGPROC_ML_CONCURRENCY", "16",
        "detector-client actors: concurrent ML calls, one kept-alive connection each"},
       integer(FIELD(node.stages.detector_clients), 1, 1024)},
      {{"local-detectors", "IMGPROC_LOCAL_DETECTORS", "2",
        "local-detector actors, each with its own thread: detect_people and detect_cascade "
        "steps run at once (about one core each)"},
       integer(FIELD(node.stages.local_detectors), 1, 256)},
      {{"dry-run-detectors", "IMGPROC_DRY_RUN_DETECTORS", "1",
        "local-detector actors of dry runs' own, each with its own thread: a dry run never "
        "takes the detectors requests use"},
       integer(FIELD(node.stages.dry_run_detectors), 1, 64)},
      {{"cascade-dir", "IMGPROC_CASCADE_DIR", default_cascade_root,
        "folder whose haarcascades/ and lbpcascades/ hold the cascades detect_cascade offers "
        "(Debian's opencv-data installs them here); without any, the step is not offered"},
       text(FIELD(node.stages.cascade_dir))},
      {{"ml-retries", "IMGPROC_ML_RETRIES", "2",
        "further attempts of an ML call after a transient failure (unreachable, HTTP 5xx, "
        "timeout), with backoff, within the request's deadline"},
       integer(FIELD(node.stages.detector.retries), 0, 10)},
      {{"ml-breaker-failures", "IMGPROC_ML_BREAKER_FAILURES", "5",
        "consecutive ML failures that open the circuit: calls then fail at once with 502"},
       integer(FIELD(node.stages.detector.breaker.failures_to_open), 1, 1000)},
      {{"ml-breaker-open-ms", "IMGPROC_ML_BREAKER_OPEN_MS", "2000",
        "how long an open circuit refuses ML calls before one trial call is let through"},
       millis(FIELD(node.stages.detector.breaker.open_for), 1, 3600000)},
      {{"max-upload-bytes", "IMGPROC_MAX_UPLOAD_BYTES", "20971520",
        "largest accepted request body; larger ones get 413"},
       integer(FIELD(http.max_upload_bytes), 1024, 1LL << 30)},
      {{"max-image-pixels", "IMGPROC_MAX_IMAGE_PIXELS", "50000000",
        "largest accepted image (width x height, read from the JPEG header before decoding), and "
        "largest image a step may produce"},
       integer(FIELD(node.stages.decoder.max_pixels), 1, 1LL << 32)},
      {{"max-request-bytes", "IMGPROC_MAX_REQUEST_BYTES", "536870912",
        "most memory one request may hold at once (its upload, a step's input and output images, "
        "a detector's pyramid), planned from the pipeline and the JPEG header before any work; "
        "more is 413 naming the step"},
       integer(FIELD(node.stages.budget.max_request_bytes), 1 << 20, 1LL << 40)},
      {{"max-detector-work", "IMGPROC_MAX_DETECTOR_WORK", "100000000",
        "most pixels a local detector step may visit over its image pyramid (about 1-4 s of a "
        "core); more is 422 naming the step"},
       integer(FIELD(node.stages.budget.max_detector_work), 1000, 1LL << 40)},
      {{"max-jpeg-scans", "IMGPROC_MAX_JPEG_SCANS", "100",
        "most scans a JPEG may have (each one of a progressive file is a pass over the whole "
        "image); more is 422 as soon as the decoder reaches it"},
       integer(FIELD(node.stages.decoder.max_scans), 1, 10000)},
      {{"min-image-side", "IMGPROC_MIN_IMAGE_SIDE", "1",
        "smallest accepted width and height in pixels (read from the JPEG header)"},
       integer(FIELD(http.min_image_side), 1, 65535)},
      {{"max-url-bytes", "IMGPROC_MAX_URL_BYTES", "8192",
        "longest accepted request target (path and query); longer ones get 414"},
       integer(FIELD(http.max_url_bytes), 256, 1 << 20)},
      {{"max-header-bytes", "IMGPROC_MAX_HEADER_BYTES", "32768",
        "most header bytes (names and values) a request may send; more get 431"},
       integer(FIELD(http.max_header_bytes), 1024, 1 << 22)},
      {{"read-timeout-ms", "IMGPROC_READ_TIMEOUT_MS", "60000",
        "a client that sends nothing for this long is disconnected (slow or idle clients)"},
       millis(FIELD(http.read_timeout), 100, 3600000)},
      {{"request-timeout-ms", "IMGPROC_REQUEST_TIMEOUT_MS", "30000",
        "deadline of one /process-image request"},
       millis(FIELD(http.request_timeout), 100, 600000)},
      {{"http-threads", "IMGPROC_HTTP_THREADS", "2", "RESTinio I/O threads"},
       integer(FIELD(http.threads), 1, 64)},
      {{"worker-threads", "IMGPROC_WORKER_THREADS", threads,
        "CAF scheduler threads, where the image steps run (defaults to the cores)"},
       integer(FIELD(node.scheduler_threads), 1, 256)},
      {{"scheduler-policy", "IMGPROC_SCHEDULER_POLICY", "sharing",
        "CAF scheduler: sharing (one queue, idle threads sleep) or stealing (CAF's default: a "
        "queue per thread, idle threads poll)"},
       scheduler(FIELD(node.scheduler))},
      {{"capacity", "IMGPROC_CAPACITY", r == role::gateway ? "0" : node_capacity,
        r == role::worker
            ? "jobs this node runs at once, advertised to its gateways"
            : "jobs this process runs itself at once (0: only worker nodes run jobs)"},
       integer(FIELD(node.capacity), 0, 100000)},
      {{"queue-limit", "IMGPROC_QUEUE_LIMIT", "256",
        "jobs that may wait for a free node; beyond it requests get 503 with Retry-After"},
       integer(FIELD(node.queue_limit), 0, 1000000)},
      {{"async-concurrency", "IMGPROC_ASYNC_CONCURRENCY", "8",
        "queued tasks (POST ?async=true) this process claims and runs at once; 0: claims none"},
       integer(FIELD(node.async.concurrency), 0, 100000)},
      {{"async-queue-limit", "IMGPROC_ASYNC_QUEUE_LIMIT", "10000",
        "queued tasks beyond which POST ?async=true gets 503 with Retry-After"},
       integer(FIELD(node.async_queue_limit), 1, 100000000)},
      {{"dry-run-limit", "IMGPROC_DRY_RUN_LIMIT", "4",
        "dry runs (POST /pipelines/.../dry-run) at once beyond which one gets 503"},
       integer(FIELD(node.dry_run_limit), 1, 1000)},
      {{"async-poll-ms", "IMGPROC_ASYNC_POLL_MS", "200",
        "how often the queue is checked for tasks queued by other processes"},
       millis(FIELD(node.async.poll), 10, 600000)},
      {{"async-max-attempts", "IMGPROC_ASYNC_MAX_ATTEMPTS", "3",
        "claims of a queued task whose process died each time before it is failed"},
       integer(FIELD(node.async.max_attempts), 1, 1000)},
      {{"node-name", "IMGPROC_NODE_NAME", "", "this node's name in /cluster (host-pid)"}, {}},
      {{"cluster-host", "IMGPROC_CLUSTER_HOST", "127.0.0.1",
        "address the cluster port binds to (loopback unless set; 0.0.0.0 for all)"},
       text(FIELD(node.cluster.host))},
      {{"cluster-port", "IMGPROC_CLUSTER_PORT", r == role::gateway ? "4242" : "off",
        "port worker nodes join on; 0 picks a free one (printed at start), off: none"},
       {}},
      {{"metrics-port", "IMGPROC_METRICS_PORT", "off",
        "worker: serve its own /metrics and /health on this port (0 picks one; the gateway "
        "serves every node's metrics anyway)"},
       {}},
      {{"join", "IMGPROC_JOIN", "",
        "gateways to join, host:port, comma-separated or repeated (worker only)", true},
       {}},
      {{"cluster-heartbeat-ms", "IMGPROC_CLUSTER_HEARTBEAT_MS", "500",
        "heartbeat interval on node links; the same on every node (0: off)"},
       millis(FIELD(node.cluster.heartbeat), 0, 600000)},
      {{"cluster-timeout-ms", "IMGPROC_CLUSTER_TIMEOUT_MS", "2000",
        "a node link silent this long is closed and its jobs go elsewhere; the same on "
        "every node"},
       millis(FIELD(node.cluster.link_timeout), 0, 3600000)},
      {{"cluster-cert", "IMGPROC_CLUSTER_CERT", "",
        "PEM certificate of this node: with --cluster-key and --cluster-ca, node links use "
        "mutual TLS"},
       text(FIELD(node.cluster.certificate_file))},
      {{"cluster-key", "IMGPROC_CLUSTER_KEY", "", "PEM private key of --cluster-cert"},
       text(FIELD(node.cluster.key_file))},
      {{"cluster-key-passphrase", "IMGPROC_CLUSTER_KEY_PASSPHRASE", "",
        "passphrase of an encrypted --cluster-key"},
       text(FIELD(node.cluster.key_passphrase))},
      {{"cluster-ca", "IMGPROC_CLUSTER_CA", "",
        "PEM CA bundle: only nodes with a certificate it signed may connect"},
       text(FIELD(node.cluster.ca_file))},
      {{"db-connections", "IMGPROC_DB_CONNECTIONS", "4",
        "persistence actors, each with its own database connection"},
       integer(FIELD(node.db_connections), 1, 256)},
      {{"db-write-group", "IMGPROC_DB_WRITE_GROUP", "64",
        "most task row writes a persistence actor writes together (one statement and commit per "
        "kind); 1 writes each row alone"},
       integer(FIELD(node.db_write_group), 1, 10000)},
      {{"pipeline-cache-ms", "IMGPROC_PIPELINE_CACHE_MS", "1000",
        "how long a loaded pipeline is reused; edits in the database apply after it"},
       millis(FIELD(node.pipeline_cache_ttl), 0, 3600000)},
      {{"migrate-on-start", "IMGPROC_MIGRATE_ON_START", "true",
        "apply pending migrations when serve starts"},
       flag(FIELD(migrate_on_start))},
      {{"db-wait-ms", "IMGPROC_DB_WAIT_MS", r == role::migrate ? "30000" : "3000",
        r == role::migrate
            ? "how long to wait for the database to accept connections"
            : "how long start-up waits for the database before serving without it (/ready "
              "answers 503 and the start-up work is retried every 2 s until it answers)"},
       millis(FIELD(db_wait), 0, 3600000)},
      {{"db-statement-timeout-ms", "IMGPROC_DB_STATEMENT_TIMEOUT_MS", "5000",
        "server-side limit on one database statement (lock waits get half)"},
       millis(FIELD(node.db_statement_timeout), 100, 600000)},
      {{"max-connections", "IMGPROC_MAX_CONNECTIONS", "1024",
        "concurrent HTTP connections; further ones wait in the listen backlog"},
       integer(FIELD(http.max_connections), 1, 1000000)},
      {{"shutdown-grace-ms", "IMGPROC_SHUTDOWN_GRACE_MS", "25000",
        "on SIGTERM, how long requests in flight may take to finish"},
       millis(FIELD(shutdown_grace), 0, 3600000)},
      {{"admin-token", "IMGPROC_ADMIN_TOKEN", "",
        "when set, creating, changing and deleting pipelines needs "
        "`Authorization: Bearer <token>`; set it in production"},
       text(FIELD(http.admin_token))},
      {{"log-level", "LOG_LEVEL", "info", "debug, info, warning or error"},
       [](const option_set& o, const std::string& name, serve_settings& s) {
         if (!log::parse_level(o.get(name), s.log_level))
           throw option_error("--log-level must be debug, info, warning or error");
       }},
  };
}

#undef FIELD

/// What the table's rows do not set one by one: options read together, settings that follow
/// from others, and the checks across options.
void derive(const option_set& o, role r, serve_settings& s) {
  s.dsn = db::resolve_dsn(o.get("db"), o.get("postgres-server"), o.get("postgres-user"),
                          o.get("postgres-password"), o.get("postgres-db"), o.get("postgres-port"));
  auto& n = s.node;
  n.dsn = s.dsn;
  n.stages.image_workers = n.scheduler_threads;
  s.http.max_image_pixels = n.stages.decoder.max_pixels;
  // No image a step produces may be larger than an upload may be.
  n.stages.budget.max_image_pixels = n.stages.decoder.max_pixels;
  // RESTinio drops a response later than this silently: it must outlast the deadline plus the
  // final row write the answer waits for.
  s.http.handle_timeout =
      s.http.request_timeout + n.db_statement_timeout + std::chrono::milliseconds(5000);
  // A row can stay 'processing' for the deadline plus the final write; anything older whose
  // gateway has no connection left was abandoned.
  n.sweep.min_age = std::chrono::duration_cast<std::chrono::seconds>(
      s.http.request_timeout + 2 * n.db_statement_timeout + std::chrono::seconds(10));
  n.async.deadline = s.http.request_timeout;
  n.node_name = o.get("node-name").empty() ? default_node_name() : o.get("node-name");
  auto& c = n.cluster;
  c.listen = o.get("cluster-port") != "off";
  if (c.listen)
    c.port = static_cast<std::uint16_t>(o.get_int("cluster-port", 0, 65535));
  if (c.heartbeat.count() > 0 && c.link_timeout <= c.heartbeat)
    throw option_error("--cluster-timeout-ms must be longer than --cluster-heartbeat-ms");
  int tls_parts = !c.certificate_file.empty() + !c.key_file.empty() + !c.ca_file.empty();
  // CAF aborts the process when only some are set, and TLS without a CA would accept anyone.
  if (tls_parts != 0 && tls_parts != 3)
    throw option_error("mutual TLS needs all of --cluster-cert, --cluster-key and --cluster-ca");
  if (r == role::gateway && n.capacity == 0 && !c.listen)
    throw option_error("a gateway with --capacity=0 needs a --cluster-port for worker nodes");

  auto& w = s.worker;
  w.scheduler_threads = n.scheduler_threads;
  w.scheduler = n.scheduler;
  w.stages = n.stages;
  w.node_name = n.node_name;
  w.capacity = std::max(1, n.capacity);
  w.cluster = c;
  w.cluster.listen = false;
  if (o.get("metrics-port") != "off")
    s.worker_metrics_port = static_cast<std::uint16_t>(o.get_int("metrics-port", 0, 65535));
  for (const auto& item : o.get_list("join"))
    w.gateways.push_back(parse_gateway_address(item));
  if (r == role::worker) {
    if (w.gateways.empty())
      throw option_error("a worker needs --join=HOST:PORT (a gateway's cluster port)");
    if (n.capacity < 1)
      throw option_error("a worker's --capacity must be at least 1");
  }
}

} // namespace

option_set make_options(role r) {
  option_set options;
  for (auto& row : option_table(r))
    options.add(std::move(row.spec));
  return options;
}

serve_settings read_serve_settings(const option_set& o, role r) {
  serve_settings s;
  s.role = r;
  for (const auto& row : option_table(r))
    if (row.apply)
      row.apply(o, row.spec.name, s);
  derive(o, r, s);
  return s;
}

} // namespace imgproc
