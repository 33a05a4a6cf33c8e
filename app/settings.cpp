#include "app/settings.hpp"

#include "db/connection.hpp"

#include <cstdio>
#include <thread>
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

} // namespace

option_set make_options(role r) {
  auto threads = std::to_string(cores());
  // A job spends part of its life waiting for the ML service: a few per core keep cores busy.
  auto node_capacity = std::to_string(4 * cores());
  option_set o;
  o.add({"host", "IMGPROC_HOST", "0.0.0.0", "address the HTTP front-end listens on"})
      .add({"port", "IMGPROC_PORT", "8000", "HTTP port; 0 picks a free one (printed at start)"})
      .add({"db", "DATABASE_URL", "",
            "PostgreSQL DSN (libpq URI, e.g. postgresql://user:pass@host:5432/imgproc); "
            "without it the POSTGRES_* parts below are used"})
      .add({"postgres-server", "POSTGRES_SERVER", "", "database host (the original's variable)"})
      .add({"postgres-port", "POSTGRES_PORT", "", "database port"})
      .add({"postgres-user", "POSTGRES_USER", "", "database user"})
      .add({"postgres-password", "POSTGRES_PASSWORD", "", "database password"})
      .add({"postgres-db", "POSTGRES_DB", "", "database name"})
      .add({"ml-url", "ML_SERVICE_URL", "http://127.0.0.1:5000/ml-process-img",
            "ML service endpoint (a detect step's `url` parameter overrides it)"})
      .add({"ml-allowed-urls", "IMGPROC_ML_ALLOWED_URLS", "",
            "comma-separated URL prefixes a pipeline's detect step may call besides --ml-url"})
      .add({"ml-timeout-ms", "IMGPROC_ML_TIMEOUT_MS", "5000",
            "timeout of one ML call (a detect step's `timeout_ms` overrides it)"})
      .add({"ml-concurrency", "IMGPROC_ML_CONCURRENCY", "16",
            "detector-client actors: concurrent ML calls, one kept-alive connection each"})
      .add({"ml-retries", "IMGPROC_ML_RETRIES", "2",
            "further attempts of an ML call after a transient failure (unreachable, HTTP 5xx, "
            "timeout), with backoff, within the request's deadline"})
      .add({"ml-breaker-failures", "IMGPROC_ML_BREAKER_FAILURES", "5",
            "consecutive ML failures that open the circuit: calls then fail at once with 502"})
      .add({"ml-breaker-open-ms", "IMGPROC_ML_BREAKER_OPEN_MS", "2000",
            "how long an open circuit refuses ML calls before one trial call is let through"})
      .add({"max-upload-bytes", "IMGPROC_MAX_UPLOAD_BYTES", "20971520",
            "largest accepted request body; larger ones get 413"})
      .add({"max-image-pixels", "IMGPROC_MAX_IMAGE_PIXELS", "50000000",
            "largest accepted image (width x height, read from the JPEG header before decoding)"})
      .add({"min-image-side", "IMGPROC_MIN_IMAGE_SIDE", "1",
            "smallest accepted width and height in pixels (read from the JPEG header)"})
      .add({"max-url-bytes", "IMGPROC_MAX_URL_BYTES", "8192",
            "longest accepted request target (path and query); longer ones get 414"})
      .add({"max-header-bytes", "IMGPROC_MAX_HEADER_BYTES", "32768",
            "most header bytes (names and values) a request may send; more get 431"})
      .add({"read-timeout-ms", "IMGPROC_READ_TIMEOUT_MS", "60000",
            "a client that sends nothing for this long is disconnected (slow or idle clients)"})
      .add({"request-timeout-ms", "IMGPROC_REQUEST_TIMEOUT_MS", "30000",
            "deadline of one /process-image request"})
      .add({"http-threads", "IMGPROC_HTTP_THREADS", "2", "RESTinio I/O threads"})
      .add({"worker-threads", "IMGPROC_WORKER_THREADS", threads,
            "CAF scheduler threads, where decoding and preprocessing run (defaults to the cores)"})
      .add({"capacity", "IMGPROC_CAPACITY", r == role::gateway ? "0" : node_capacity,
            r == role::worker
                ? "jobs this node runs at once, advertised to its gateways"
                : "jobs this process runs itself at once (0: only worker nodes run jobs)"})
      .add({"queue-limit", "IMGPROC_QUEUE_LIMIT", "256",
            "jobs that may wait for a free node; beyond it requests get 503 with Retry-After"})
      .add({"async-concurrency", "IMGPROC_ASYNC_CONCURRENCY", "8",
            "queued tasks (POST ?async=true) this process claims and runs at once; 0: claims none"})
      .add({"async-queue-limit", "IMGPROC_ASYNC_QUEUE_LIMIT", "10000",
            "queued tasks beyond which POST ?async=true gets 503 with Retry-After"})
      .add({"async-poll-ms", "IMGPROC_ASYNC_POLL_MS", "200",
            "how often the queue is checked for tasks queued by other processes"})
      .add({"async-max-attempts", "IMGPROC_ASYNC_MAX_ATTEMPTS", "3",
            "claims of a queued task whose process died each time before it is failed"})
      .add({"node-name", "IMGPROC_NODE_NAME", "", "this node's name in /cluster (host-pid)"})
      .add({"cluster-host", "IMGPROC_CLUSTER_HOST", "127.0.0.1",
            "address the cluster port binds to (loopback unless set; 0.0.0.0 for all)"})
      .add({"cluster-port", "IMGPROC_CLUSTER_PORT", r == role::gateway ? "4242" : "off",
            "port worker nodes join on; 0 picks a free one (printed at start), off: none"})
      .add({"metrics-port", "IMGPROC_METRICS_PORT", "off",
            "worker: serve its own /metrics and /health on this port (0 picks one; the gateway "
            "serves every node's metrics anyway)"})
      .add({"join", "IMGPROC_JOIN", "",
            "gateways to join, host:port, comma-separated or repeated (worker only)", true})
      .add({"cluster-heartbeat-ms", "IMGPROC_CLUSTER_HEARTBEAT_MS", "500",
            "heartbeat interval on node links; the same on every node (0: off)"})
      .add({"cluster-timeout-ms", "IMGPROC_CLUSTER_TIMEOUT_MS", "2000",
            "a node link silent this long is closed and its jobs go elsewhere; the same on "
            "every node"})
      .add({"cluster-cert", "IMGPROC_CLUSTER_CERT", "",
            "PEM certificate of this node: with --cluster-key and --cluster-ca, node links use "
            "mutual TLS"})
      .add({"cluster-key", "IMGPROC_CLUSTER_KEY", "", "PEM private key of --cluster-cert"})
      .add({"cluster-key-passphrase", "IMGPROC_CLUSTER_KEY_PASSPHRASE", "",
            "passphrase of an encrypted --cluster-key"})
      .add({"cluster-ca", "IMGPROC_CLUSTER_CA", "",
            "PEM CA bundle: only nodes with a certificate it signed may connect"})
      .add({"db-connections", "IMGPROC_DB_CONNECTIONS", "4",
            "persistence actors, each with its own database connection"})
      .add({"pipeline-cache-ms", "IMGPROC_PIPELINE_CACHE_MS", "1000",
            "how long a loaded pipeline is reused; edits in the database apply after it"})
      .add({"migrate-on-start", "IMGPROC_MIGRATE_ON_START", "true",
            "apply pending migrations when serve starts"})
      .add({"db-wait-ms", "IMGPROC_DB_WAIT_MS", r == role::migrate ? "30000" : "3000",
            r == role::migrate
                ? "how long to wait for the database to accept connections"
                : "how long start-up waits for the database before serving without it (/ready "
                  "answers 503 and the start-up work is retried every 2 s until it answers)"})
      .add({"db-statement-timeout-ms", "IMGPROC_DB_STATEMENT_TIMEOUT_MS", "5000",
            "server-side limit on one database statement (lock waits get half)"})
      .add({"max-connections", "IMGPROC_MAX_CONNECTIONS", "1024",
            "concurrent HTTP connections; further ones wait in the listen backlog"})
      .add({"shutdown-grace-ms", "IMGPROC_SHUTDOWN_GRACE_MS", "25000",
            "on SIGTERM, how long requests in flight may take to finish"})
      .add({"admin-token", "IMGPROC_ADMIN_TOKEN", "",
            "when set, creating, changing and deleting pipelines needs "
            "`Authorization: Bearer <token>`; set it in production"})
      .add({"log-level", "LOG_LEVEL", "info", "debug, info, warning or error"});
  return o;
}

serve_settings read_serve_settings(const option_set& o, role r) {
  serve_settings s;
  s.role = r;
  s.http.host = o.get("host");
  s.http.port = static_cast<std::uint16_t>(o.get_int("port", 0, 65535));
  s.http.threads = static_cast<std::size_t>(o.get_int("http-threads", 1, 64));
  s.http.max_upload_bytes =
      static_cast<std::size_t>(o.get_int("max-upload-bytes", 1024, 1LL << 30));
  s.http.request_timeout = std::chrono::milliseconds(o.get_int("request-timeout-ms", 100, 600000));

  s.dsn = db::resolve_dsn(o.get("db"), o.get("postgres-server"), o.get("postgres-user"),
                          o.get("postgres-password"), o.get("postgres-db"), o.get("postgres-port"));
  auto& n = s.node;
  n.dsn = s.dsn;
  n.scheduler_threads = static_cast<std::size_t>(o.get_int("worker-threads", 1, 256));
  auto& stages = n.stages;
  stages.decoders = n.scheduler_threads;
  stages.preprocessors = n.scheduler_threads;
  stages.detector_clients = static_cast<std::size_t>(o.get_int("ml-concurrency", 1, 1024));
  n.db_connections = static_cast<std::size_t>(o.get_int("db-connections", 1, 256));
  n.pipeline_cache_ttl = std::chrono::milliseconds(o.get_int("pipeline-cache-ms", 0, 3600000));
  stages.detector.url = o.get("ml-url");
  stages.detector.timeout = std::chrono::milliseconds(o.get_int("ml-timeout-ms", 1, 600000));
  stages.detector.allowed_urls = o.get_list("ml-allowed-urls");
  stages.detector.retries = static_cast<int>(o.get_int("ml-retries", 0, 10));
  stages.detector.breaker.failures_to_open =
      static_cast<std::size_t>(o.get_int("ml-breaker-failures", 1, 1000));
  stages.detector.breaker.open_for =
      std::chrono::milliseconds(o.get_int("ml-breaker-open-ms", 1, 3600000));
  stages.decoder.max_pixels =
      static_cast<std::uint64_t>(o.get_int("max-image-pixels", 1, 1LL << 32));
  n.db_statement_timeout =
      std::chrono::milliseconds(o.get_int("db-statement-timeout-ms", 100, 600000));
  s.http.max_image_pixels = stages.decoder.max_pixels;
  s.http.min_image_side = static_cast<int>(o.get_int("min-image-side", 1, 65535));
  s.http.max_url_bytes = static_cast<std::size_t>(o.get_int("max-url-bytes", 256, 1 << 20));
  s.http.max_header_bytes = static_cast<std::size_t>(o.get_int("max-header-bytes", 1024, 1 << 22));
  s.http.read_timeout = std::chrono::milliseconds(o.get_int("read-timeout-ms", 100, 3600000));
  s.http.max_connections = static_cast<std::size_t>(o.get_int("max-connections", 1, 1000000));
  // RESTinio drops a response later than this silently: it must outlast the deadline plus the
  // final row write the answer waits for.
  s.http.handle_timeout =
      s.http.request_timeout + n.db_statement_timeout + std::chrono::milliseconds(5000);
  s.http.admin_token = o.get("admin-token");
  s.shutdown_grace = std::chrono::milliseconds(o.get_int("shutdown-grace-ms", 0, 3600000));

  // A row can stay 'processing' for the deadline plus the final write; anything older whose
  // gateway has no connection left was abandoned.
  n.sweep.min_age = std::chrono::duration_cast<std::chrono::seconds>(
      s.http.request_timeout + 2 * n.db_statement_timeout + std::chrono::seconds(10));
  n.async.concurrency = static_cast<int>(o.get_int("async-concurrency", 0, 100000));
  n.async_queue_limit = static_cast<int>(o.get_int("async-queue-limit", 1, 100000000));
  n.async.poll = std::chrono::milliseconds(o.get_int("async-poll-ms", 10, 600000));
  n.async.max_attempts = static_cast<int>(o.get_int("async-max-attempts", 1, 1000));
  n.async.deadline = s.http.request_timeout;
  n.node_name = o.get("node-name").empty() ? default_node_name() : o.get("node-name");
  n.capacity = static_cast<int>(o.get_int("capacity", 0, 100000));
  n.queue_limit = static_cast<std::size_t>(o.get_int("queue-limit", 0, 1000000));
  auto& c = n.cluster;
  c.host = o.get("cluster-host");
  c.listen = o.get("cluster-port") != "off";
  if (c.listen)
    c.port = static_cast<std::uint16_t>(o.get_int("cluster-port", 0, 65535));
  c.heartbeat = std::chrono::milliseconds(o.get_int("cluster-heartbeat-ms", 0, 600000));
  c.link_timeout = std::chrono::milliseconds(o.get_int("cluster-timeout-ms", 0, 3600000));
  if (c.heartbeat.count() > 0 && c.link_timeout <= c.heartbeat)
    throw option_error("--cluster-timeout-ms must be longer than --cluster-heartbeat-ms");
  c.certificate_file = o.get("cluster-cert");
  c.key_file = o.get("cluster-key");
  c.key_passphrase = o.get("cluster-key-passphrase");
  c.ca_file = o.get("cluster-ca");
  int tls_parts = !c.certificate_file.empty() + !c.key_file.empty() + !c.ca_file.empty();
  // CAF aborts the process when only some are set, and TLS without a CA would accept anyone.
  if (tls_parts != 0 && tls_parts != 3)
    throw option_error("mutual TLS needs all of --cluster-cert, --cluster-key and --cluster-ca");
  if (r == role::gateway && n.capacity == 0 && !c.listen)
    throw option_error("a gateway with --capacity=0 needs a --cluster-port for worker nodes");

  auto& w = s.worker;
  w.scheduler_threads = n.scheduler_threads;
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

  s.migrate_on_start = o.get_bool("migrate-on-start");
  s.db_wait = std::chrono::milliseconds(o.get_int("db-wait-ms", 0, 3600000));
  if (!log::parse_level(o.get("log-level"), s.log_level))
    throw option_error("--log-level must be debug, info, warning or error");
  return s;
}

} // namespace imgproc
