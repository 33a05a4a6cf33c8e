#include "app/commands.hpp"

#include "actors/local_node.hpp"
#include "app/settings.hpp"
#include "common/log.hpp"
#include "core/detector_client.hpp"
#include "core/step_registry.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/task_repository.hpp"
#include "http/server.hpp"

#include <csignal>
#include <iostream>
#include <opencv2/core/utility.hpp>
#include <thread>

namespace imgproc {
namespace {

/// Parses options; prints help or the error. Returns -1 to go on, else the exit code.
int parse(option_set& options, const std::vector<std::string>& args, const std::string& usage,
          serve_settings& out) {
  try {
    if (!options.parse(args, process_environment())) {
      std::cout << options.help_text(usage);
      return 0;
    }
    out = read_serve_settings(options);
    log::set_min_level(out.log_level);
  } catch (const option_error& e) {
    std::cerr << "imgproc: " << e.what() << "\n";
    return 2;
  }
  if (out.dsn.empty()) {
    std::cerr << "imgproc: no database configured: set --db (DATABASE_URL) or POSTGRES_SERVER\n";
    return 2;
  }
  return -1;
}

/// Opens a connection, retrying until `wait` has passed: in a container start-up the database
/// may come up after the service.
std::unique_ptr<pqxx::connection> connect_with_wait(const std::string& dsn,
                                                    std::chrono::milliseconds wait) {
  auto give_up = std::chrono::steady_clock::now() + wait;
  std::chrono::milliseconds backoff{100};
  for (;;) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM))
      throw std::runtime_error("stopped by a signal while waiting for the database");
    try {
      return db::connect(dsn);
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() + backoff > give_up)
        throw;
      log::warning("imgproc", "database not reachable yet (" + db::redact_dsn(dsn) +
                                  "), retrying: " + e.what());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

void migrate(pqxx::connection& conn) {
  auto report = db::apply_migrations(conn);
  std::string applied;
  for (int v : report.applied)
    applied += (applied.empty() ? "" : ", ") + std::to_string(v);
  log::info("migrate", "schema at version " + std::to_string(report.current_version) +
                           (applied.empty() ? " (nothing to apply)" : "; applied " + applied));
}

int wait_for_stop_signal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

} // namespace

int print_usage(bool to_stderr) {
  auto& out = to_stderr ? std::cerr : std::cout;
  out << "Usage: imgproc COMMAND [--option=value ...]\n\n"
         "Commands:\n"
         "  serve     run the HTTP front-end and the actor system (applies migrations first)\n"
         "  migrate   apply pending database migrations and exit\n\n"
         "`imgproc COMMAND --help` lists the options of a command.\n";
  return to_stderr ? 2 : 0;
}

int run_migrate(const std::vector<std::string>& args) {
  auto options = make_serve_options();
  serve_settings settings;
  if (int code = parse(options, args, "imgproc migrate [--db=DSN] [--option=value ...]", settings);
      code >= 0)
    return code;
  try {
    auto conn = connect_with_wait(settings.dsn, settings.db_wait);
    migrate(*conn);
    return 0;
  } catch (const std::exception& e) {
    log::error("migrate", e.what());
    return 1;
  }
}

int run_serve(const std::vector<std::string>& args) {
  auto options = make_serve_options();
  serve_settings settings;
  if (int code = parse(options, args, "imgproc serve [--option=value ...]", settings); code >= 0)
    return code;

  // Stop signals are taken by sigwait() below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // OpenCV's own thread pool would compete with CAF's scheduler threads for the same cores.
  cv::setNumThreads(0);
  init_http_client_library();

  try {
    auto conn = connect_with_wait(settings.dsn, settings.db_wait);
    if (settings.migrate_on_start)
      migrate(*conn);
    db::prepare_task_statements(*conn);
    auto abandoned = db::fail_abandoned_tasks(
        *conn, "interrupted: the service stopped before the task finished");
    if (abandoned > 0)
      log::warning("imgproc", "marked " + std::to_string(abandoned) +
                                  " unfinished task(s) from an earlier run as failed");
  } catch (const std::exception& e) {
    log::error("imgproc", std::string{"database start-up failed: "} + e.what());
    return 1;
  }

  auto registry = std::make_shared<step_registry>();
  register_default_steps(*registry);

  try {
    local_node node{settings.node, registry};
    http_server server{settings.http, node};
    server.start();
    if (settings.http.admin_token.empty())
      log::warning("imgproc", "no --admin-token: anyone who reaches this port can change "
                              "pipelines; set IMGPROC_ADMIN_TOKEN in production");
    std::cout << "imgproc listening on http://" << settings.http.host << ":" << server.port()
              << std::endl;
    log::info("imgproc", "serving: database " + db::redact_dsn(settings.dsn) + ", ML service " +
                             settings.node.detector.url + ", " +
                             std::to_string(settings.node.scheduler_threads) + " worker threads");
    int signal = wait_for_stop_signal();
    log::info("imgproc", std::string{"stopping on "} + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                             ": new requests get 503, waiting for the ones in flight");
    // The HTTP server keeps running until the actors are gone: their answers (and the 500 a
    // dropped request gets) are written through it. The actor system itself is torn down only
    // after the server's threads have ended (see local_node::shutdown).
    if (!node.drain(settings.shutdown_grace))
      log::warning("imgproc", "requests still running after the grace period are cut off");
    node.stop_actors();
    server.stop();
    node.shutdown();
  } catch (const std::exception& e) {
    log::error("imgproc", e.what());
    return 1;
  }
  log::info("imgproc", "stopped");
  return 0;
}

} // namespace imgproc
