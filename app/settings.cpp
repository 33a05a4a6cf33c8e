#include "app/settings.hpp"

#include "db/connection.hpp"

#include <thread>

namespace imgproc {

option_set make_serve_options() {
  auto cores = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
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
      .add({"max-upload-bytes", "IMGPROC_MAX_UPLOAD_BYTES", "20971520",
            "largest accepted request body; larger ones get 413"})
      .add({"max-image-pixels", "IMGPROC_MAX_IMAGE_PIXELS", "50000000",
            "largest accepted image (width x height, read from the JPEG header before decoding)"})
      .add({"request-timeout-ms", "IMGPROC_REQUEST_TIMEOUT_MS", "30000",
            "deadline of one /process-image request"})
      .add({"http-threads", "IMGPROC_HTTP_THREADS", "2", "RESTinio I/O threads"})
      .add({"worker-threads", "IMGPROC_WORKER_THREADS", cores,
            "CAF scheduler threads, where decoding and preprocessing run (defaults to the cores)"})
      .add({"db-connections", "IMGPROC_DB_CONNECTIONS", "4",
            "persistence actors, each with its own database connection"})
      .add({"pipeline-cache-ms", "IMGPROC_PIPELINE_CACHE_MS", "1000",
            "how long a loaded pipeline is reused; edits in the database apply after it"})
      .add({"migrate-on-start", "IMGPROC_MIGRATE_ON_START", "true",
            "apply pending migrations when serve starts"})
      .add({"db-wait-ms", "IMGPROC_DB_WAIT_MS", "30000",
            "how long start-up waits for the database to accept connections"})
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

serve_settings read_serve_settings(const option_set& o) {
  serve_settings s;
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
  n.decoders = n.scheduler_threads;
  n.preprocessors = n.scheduler_threads;
  n.detector_clients = static_cast<std::size_t>(o.get_int("ml-concurrency", 1, 1024));
  n.db_connections = static_cast<std::size_t>(o.get_int("db-connections", 1, 256));
  n.pipeline_cache_ttl = std::chrono::milliseconds(o.get_int("pipeline-cache-ms", 0, 3600000));
  n.detector.url = o.get("ml-url");
  n.detector.timeout = std::chrono::milliseconds(o.get_int("ml-timeout-ms", 1, 600000));
  n.detector.allowed_urls = o.get_list("ml-allowed-urls");
  n.decoder.max_pixels = static_cast<std::uint64_t>(o.get_int("max-image-pixels", 1, 1LL << 32));
  n.db_statement_timeout =
      std::chrono::milliseconds(o.get_int("db-statement-timeout-ms", 100, 600000));
  s.http.max_image_pixels = n.decoder.max_pixels;
  s.http.max_connections = static_cast<std::size_t>(o.get_int("max-connections", 1, 1000000));
  // RESTinio drops a response later than this silently: it must outlast the deadline plus the
  // final row write the answer waits for.
  s.http.handle_timeout =
      s.http.request_timeout + n.db_statement_timeout + std::chrono::milliseconds(3000);
  s.http.admin_token = o.get("admin-token");
  s.shutdown_grace = std::chrono::milliseconds(o.get_int("shutdown-grace-ms", 0, 3600000));

  s.migrate_on_start = o.get_bool("migrate-on-start");
  s.db_wait = std::chrono::milliseconds(o.get_int("db-wait-ms", 0, 3600000));
  if (!log::parse_level(o.get("log-level"), s.log_level))
    throw option_error("--log-level must be debug, info, warning or error");
  return s;
}

} // namespace imgproc
