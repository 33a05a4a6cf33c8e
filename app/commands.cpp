#include "app/commands.hpp"

#include "actors/nodes/gateway_node.hpp"
#include "actors/nodes/worker_node.hpp"
#include "app/settings.hpp"
#include "common/log.hpp"
#include "core/detector_client.hpp"
#include "core/object_detectors.hpp"
#include "core/outbound_url.hpp"
#include "core/step_registry.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/outage_log.hpp"
#include "db/task_repository.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <opencv2/core/utility.hpp>
#include <thread>
#include <unistd.h>

namespace imgproc {
namespace {

/// A pipeline naming an ML url this process would refuse to call is refused when it is saved.
step_checks ml_url_checks(const detector_settings& detector) {
  return {[configured = detector.url, allowed = detector.allowed_urls](const std::string& url) {
    return refuse_ml_url(configured, allowed, url);
  }};
}

/// Parses options; prints help or the error. Returns -1 to go on, else the exit code.
int parse(role r, const std::vector<std::string>& args, const std::string& usage,
          serve_settings& out) {
  auto options = make_options(r);
  try {
    if (!options.parse(args, process_environment())) {
      std::cout << options.help_text(usage);
      return 0;
    }
    out = read_serve_settings(options, r);
    log::set_min_level(out.log_level);
  } catch (const option_error& e) {
    std::cerr << "imgproc: " << e.what() << "\n";
    return 2;
  }
  if (out.dsn.empty() && r != role::worker) {
    std::cerr << "imgproc: no database configured: set --db (DATABASE_URL) or POSTGRES_SERVER\n";
    return 2;
  }
  return -1;
}

bool stop_signal_pending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM);
}

/// Opens a connection, retrying until `wait` has passed: in a container start-up the database
/// may come up after the service. Logs the first failure and then only a different one (at
/// `retry_level`), so a wait is one line. Gives up at once on an error waiting does not cure
/// (wrong password, unknown role or database). Throws std::runtime_error with the error on one
/// line.
std::unique_ptr<pqxx::connection>
connect_with_wait(const std::string& dsn, std::chrono::milliseconds wait, log::level retry_level) {
  auto give_up = std::chrono::steady_clock::now() + wait;
  std::chrono::milliseconds backoff{100};
  std::string reported;
  for (;;) {
    if (stop_signal_pending())
      throw std::runtime_error("stopped by a signal while waiting for the database");
    try {
      return db::connect(dsn);
    } catch (const std::exception& e) {
      auto problem = db::one_line(e.what());
      if (db::is_configuration_error(problem) ||
          std::chrono::steady_clock::now() + backoff > give_up)
        throw std::runtime_error(problem);
      if (problem != reported)
        log::write(retry_level, "imgproc",
                   "database " + db::redact_dsn(dsn) + " not reachable yet (" + problem +
                       "); retrying for up to " + std::to_string(wait.count() / 1000) + " s");
      reported = problem;
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

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it: they are taken by
/// wait_for_stop_signal(). Also ignores SIGPIPE (a peer closing a socket is an error value).
void take_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

/// CAF 0.17 may never finish tearing down an actor system whose node links were cut (see
/// docs/notes-caf-cluster.md): after the work is done, exit anyway once `limit` has passed.
void exit_after(std::chrono::milliseconds limit, int code) {
  std::thread([limit, code] {
    std::this_thread::sleep_for(limit);
    log::warning("imgproc", "the actor system did not stop in time; exiting anyway");
    std::fflush(nullptr);
    _exit(code);
  }).detach();
}

/// One line on stdout, written at once: tests and scripts wait for these.
void announce(const std::string& line) {
  std::string text = line + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

/// This process's metrics registry, labelled with its node name, where every actor and the
/// node links report.
std::shared_ptr<metrics::registry> start_metrics(const std::string& node_name) {
  auto registry = std::make_shared<metrics::registry>(node_name);
  metrics::registry::set_process_registry(registry);
  return registry;
}

/// The database work a serving process does before it takes requests: migrations (when asked),
/// then queued tasks of stopped processes go back to the queue and rows left 'processing' by
/// stopped gateways are failed.
void database_startup(pqxx::connection& conn, const serve_settings& settings,
                      const std::string& instance) {
  if (settings.migrate_on_start)
    migrate(conn);
  db::prepare_task_statements(conn);
  // Queued tasks of stopped processes are run again (their uploads are stored); only what
  // cannot be rerun is failed.
  auto requeued = db::requeue_abandoned_tasks(conn, settings.node.async.max_attempts,
                                              "abandoned: its process stopped during each of " +
                                                  std::to_string(settings.node.async.max_attempts) +
                                                  " attempts");
  if (requeued.requeued + requeued.failed > 0)
    log::warning("imgproc", "requeued " + std::to_string(requeued.requeued) +
                                " queued task(s) of stopped processes, failed " +
                                std::to_string(requeued.failed));
  auto abandoned =
      db::fail_abandoned_tasks(conn, "interrupted: the service stopped before the task finished");
  if (abandoned > 0)
    log::warning("imgproc", "marked " + std::to_string(abandoned) +
                                " unfinished task(s) of stopped gateways as failed");
  log::info("imgproc", "instance " + instance + " (owner of the task rows it creates)");
}

/// Retries database_startup() every 2 s on its own thread while the database was unavailable at
/// start-up, and reports each outcome: a new problem (logged once per distinct error) or "" when
/// done. Does nothing when start-up succeeded. Stops and joins on destruction.
class database_startup_retry {
public:
  database_startup_retry(std::string problem, std::function<void(std::string)> report,
                         const serve_settings& settings, std::string instance) {
    if (problem.empty())
      return;
    thread_ = std::thread([this, problem, report = std::move(report), &settings,
                           instance = std::move(instance)]() mutable {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!stop_) {
        if (wakeup_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_; }))
          return;
        lock.unlock();
        try {
          auto conn = db::connect(settings.dsn);
          database_startup(*conn, settings, instance);
          db::outage_log::process().succeeded();
          report("");
          log::info("imgproc", "database " + db::redact_dsn(settings.dsn) +
                                   " reachable: start-up done, serving");
          return;
        } catch (const std::exception& e) {
          problem = db::one_line(e.what());
          db::outage_log::process().failed("retrying the start-up work", problem);
          report(problem);
        }
        lock.lock();
      }
    });
  }
  ~database_startup_retry() {
    if (!thread_.joinable())
      return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wakeup_.notify_all();
    thread_.join();
  }
  database_startup_retry(const database_startup_retry&) = delete;
  database_startup_retry& operator=(const database_startup_retry&) = delete;

private:
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stop_ = false;
  std::thread thread_;
};

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
         "  serve     all in one: the HTTP front-end and the image work (applies migrations)\n"
         "  gateway   the HTTP front-end; worker nodes join it and run the image work\n"
         "  worker    runs image work for the gateways it joins (--join=HOST:PORT)\n"
         "  migrate   apply pending database migrations and exit\n\n"
         "`imgproc COMMAND --help` lists the options of a command.\n";
  return to_stderr ? 2 : 0;
}

int run_migrate(const std::vector<std::string>& args) {
  serve_settings settings;
  if (int code =
          parse(role::migrate, args, "imgproc migrate [--db=DSN] [--option=value ...]", settings);
      code >= 0)
    return code;
  try {
    auto conn = connect_with_wait(settings.dsn, settings.db_wait, log::level::warning);
    migrate(*conn);
    return 0;
  } catch (const std::exception& e) {
    log::error("migrate", e.what());
    return 1;
  }
}

int run_serve(const std::vector<std::string>& args, role r) {
  serve_settings settings;
  std::string usage = r == role::gateway ? "imgproc gateway [--option=value ...]"
                                         : "imgproc serve [--option=value ...]";
  if (int code = parse(r, args, usage, settings); code >= 0)
    return code;

  // Stop signals are taken by sigwait() below; every thread started from here inherits the mask.
  take_stop_signals();

  // OpenCV's own thread pool would compete with CAF's scheduler threads for the same cores.
  cv::setNumThreads(0);
  init_http_client_library();

  // Every connection of this process carries the instance's name: task rows record it as their
  // owner, and a sweep fails only rows whose owner has no connection left (a crashed gateway's).
  auto instance = db::instance_application_name(db::new_instance_id());
  settings.dsn = db::with_application_name(settings.dsn, instance);
  settings.node.dsn = settings.dsn;
  // Without the database the process still starts: /health answers, /ready and requests answer
  // 503 with the reason, and the start-up work is retried until it succeeds.
  std::string startup_problem;
  try {
    // Quiet while waiting: if the wait fails, the outage line below says it all.
    auto conn = connect_with_wait(settings.dsn, settings.db_wait, log::level::debug);
    database_startup(*conn, settings, instance);
  } catch (const std::exception& e) {
    if (stop_signal_pending()) {
      log::error("imgproc", std::string{"database start-up failed: "} + e.what());
      return 1;
    }
    startup_problem = db::one_line(e.what());
    // The one line of this outage: what notices it later (persistence, the change listener)
    // logs at debug level until the database answers.
    db::outage_log::process().failed("starting up with " + db::redact_dsn(settings.dsn) +
                                         " (serving anyway: /ready answers 503 and the start-up "
                                         "work is retried every 2 s)",
                                     startup_problem);
  }

  auto registry = std::make_shared<step_registry>();
  settings.node.stages.cascades =
      std::make_shared<const cascade_library>(settings.node.stages.cascade_dir);
  register_default_steps(*registry, settings.node.stages.cascades,
                         ml_url_checks(settings.node.stages.detector));
  settings.http.metrics = start_metrics(settings.node.node_name);

  try {
    gateway_node node{settings.node, registry};
    // Before the HTTP server starts, so /ready never answers 200 before the start-up work.
    node.set_startup_problem(startup_problem);
    database_startup_retry retry{
        startup_problem, [&](std::string problem) { node.set_startup_problem(std::move(problem)); },
        settings, instance};
    if (auto port = node.cluster_port())
      announce("imgproc cluster listening on " + settings.node.cluster.host + ":" +
               std::to_string(*port) + (settings.node.cluster.tls() ? " (mutual TLS)" : ""));
    http_server server{settings.http, node};
    server.start();
    if (settings.http.admin_token.empty())
      log::warning("imgproc", "no --admin-token: anyone who reaches this port can change "
                              "pipelines; set IMGPROC_ADMIN_TOKEN in production");
    announce("imgproc listening on http://" + settings.http.host + ":" +
             std::to_string(server.port()));
    log::info("imgproc", "serving: database " + db::redact_dsn(settings.dsn) + ", ML service " +
                             redact_url(settings.node.stages.detector.url) + ", " +
                             std::to_string(settings.node.scheduler_threads) +
                             " worker threads, runs " + std::to_string(settings.node.capacity) +
                             " job(s) at once itself");
    int signal = wait_for_stop_signal();
    log::info("imgproc", std::string{"stopping on "} + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                             ": new requests get 503, waiting for the ones in flight");
    // Whatever hangs, the process is gone soon after the grace period (exit 1: not clean).
    exit_after(settings.shutdown_grace + std::chrono::seconds(15), 1);
    // The HTTP server keeps running until the actors are gone: their answers (and the 500 a
    // dropped request gets) are written through it. The actor system itself is torn down only
    // after the server's threads have ended (see gateway_node::shutdown).
    if (!node.drain(settings.shutdown_grace))
      log::warning("imgproc", "requests still running after the grace period are cut off");
    node.stop_actors();
    server.stop();
    if (settings.node.cluster.listen)
      exit_after(std::chrono::seconds(5), 0);
    node.shutdown();
  } catch (const std::exception& e) {
    log::error("imgproc", e.what());
    return 1;
  }
  log::info("imgproc", "stopped");
  return 0;
}

int run_worker(const std::vector<std::string>& args) {
  serve_settings settings;
  if (int code =
          parse(role::worker, args,
                "imgproc worker --join=HOST:PORT[,HOST:PORT] [--option=value ...]", settings);
      code >= 0)
    return code;
  take_stop_signals();
  cv::setNumThreads(0);
  init_http_client_library();

  auto registry = std::make_shared<step_registry>();
  settings.worker.stages.cascades =
      std::make_shared<const cascade_library>(settings.worker.stages.cascade_dir);
  register_default_steps(*registry, settings.worker.stages.cascades,
                         ml_url_checks(settings.worker.stages.detector));
  auto& w = settings.worker;
  w.address = w.node_name + " (pid " + std::to_string(getpid()) + ")";
  w.on_joined = announce;
  auto metrics = start_metrics(w.node_name);
  try {
    worker_node node{w, registry};
    // Its own /metrics (and /health), when asked for: the gateway serves them too.
    std::unique_ptr<http_server> server;
    if (settings.worker_metrics_port) {
      auto http = settings.http;
      http.port = *settings.worker_metrics_port;
      http.metrics = metrics;
      server = std::make_unique<http_server>(http);
      server->start();
      announce("imgproc worker metrics on http://" + http.host + ":" +
               std::to_string(server->port()) + "/metrics");
    }
    std::string gateways;
    for (const auto& g : w.gateways)
      gateways += (gateways.empty() ? "" : ", ") + g.text();
    announce("imgproc worker " + w.node_name + " started: capacity " + std::to_string(w.capacity) +
             ", joining " + gateways);
    int signal = wait_for_stop_signal();
    log::info("worker", std::string{"stopping on "} + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                            ": leaving the gateways, finishing the jobs in flight");
    exit_after(settings.shutdown_grace + std::chrono::seconds(15), 1);
    if (!node.leave(settings.shutdown_grace))
      log::warning("worker", "jobs still running after the grace period are cut off");
    exit_after(std::chrono::seconds(5), 0);
    if (server)
      server->stop();
    node.shutdown();
  } catch (const std::exception& e) {
    log::error("worker", e.what());
    return 1;
  }
  log::info("worker", "stopped");
  return 0;
}

} // namespace imgproc
