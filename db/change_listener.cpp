#include "db/change_listener.hpp"

#include "common/log.hpp"
#include "db/connection.hpp"
#include "db/outage_log.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/notification>
#include <vector>

namespace imgproc::db {

namespace {

constexpr long wait_slice_us = 200'000;
constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{2000};
// libpq's smallest useful value; bounds how long stop() can wait on a connection attempt.
constexpr int connect_timeout_s = 2;
constexpr const char* component = "pipeline_listener";

// Only queues payloads: libpqxx calls receivers from inside await_notification() and swallows
// their exceptions, so the user's callback runs later, outside libpqxx, under our own catch.
class receiver final : public pqxx::notification_receiver {
public:
  receiver(pqxx::connection_base& conn, std::vector<std::string>& inbox)
      : pqxx::notification_receiver(conn, pipeline_changed_channel), inbox_(inbox) {}
  void operator()(const std::string& payload, int) override { inbox_.push_back(payload); }

private:
  std::vector<std::string>& inbox_;
};

// A connection with its receiver, torn down in the one safe order.
struct listening_connection {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<receiver> listening;

  ~listening_connection() {
    // Disconnect first: a receiver destroyed on a live-looking connection sends UNLISTEN, and
    // libpqxx would silently reconnect a broken one to send it (blocking, possibly for the whole
    // connect timeout). Without a connection the receiver just unregisters itself.
    if (conn)
      conn->disconnect();
    listening.reset();
  }
};

std::optional<int> parse_id(const std::string& payload) {
  int id = 0;
  const char* end = payload.data() + payload.size();
  const auto [ptr, ec] = std::from_chars(payload.data(), end, id);
  if (ec != std::errc{} || ptr != end)
    return std::nullopt;
  return id;
}

} // namespace

pipeline_change_listener::pipeline_change_listener(std::string dsn, callback on_change)
    : dsn_(std::move(dsn)), on_change_(std::move(on_change)) {}

pipeline_change_listener::~pipeline_change_listener() {
  stop();
}

void pipeline_change_listener::start() {
  if (thread_.joinable())
    return;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stop_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void pipeline_change_listener::stop() noexcept {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

bool pipeline_change_listener::stopping() {
  std::lock_guard<std::mutex> lock{mutex_};
  return stop_;
}

void pipeline_change_listener::pause(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock{mutex_};
  wake_.wait_for(lock, delay, [this] { return stop_; });
}

void pipeline_change_listener::deliver(std::optional<int> pipeline_id) noexcept {
  try {
    on_change_(pipeline_id);
  } catch (const std::exception& e) {
    log::error(component, std::string("change callback threw: ") + e.what());
  } catch (...) {
    log::error(component, "change callback threw a non-standard exception");
  }
}

void pipeline_change_listener::run() noexcept {
  auto backoff = first_backoff;
  bool warned = false; // one warning per outage, the retries at debug level
  while (!stopping()) {
    bool connected = false;
    try {
      listen(connected);
      return; // stop() was called
    } catch (const std::exception& e) {
      if (connected) { // a new outage: retry quickly first
        backoff = first_backoff;
        warned = false;
      }
      try {
        const std::string message = std::string("not listening (retrying in ") +
                                    std::to_string(backoff.count()) + " ms): " + e.what();
        // One line per outage for the whole process: the persistence actors notice it too.
        if (warned || !outage_log::process().failed("listening for pipeline changes", e.what()))
          log::debug(component, message);
        warned = true;
      } catch (...) {
        // Losing a log line beats terminating the process from a noexcept function.
      }
    } catch (...) {
      // Nothing escapes the thread; retry as after any other failure.
    }
    pause(backoff);
    backoff = std::min(backoff * 2, max_backoff);
  }
}

void pipeline_change_listener::listen(bool& connected) {
  std::vector<std::string> inbox;
  listening_connection lc;
  lc.conn = std::make_unique<pqxx::connection>(with_connect_timeout(dsn_, connect_timeout_s));
  lc.listening = std::make_unique<receiver>(*lc.conn, inbox); // sends LISTEN
  // libpqxx ignores a connection failure during LISTEN (it would re-LISTEN on reconnect);
  // treat it as the failure it is.
  if (!lc.conn->is_open())
    throw pqxx::broken_connection{"connection lost while sending LISTEN"};
  const int backend = lc.conn->backendpid();
  connected = true;
  outage_log::process().succeeded();
  log::info(component, "listening for pipeline changes on " + redact_dsn(dsn_));

  // LISTEN is in place: whatever changed before this point is covered by "drop everything".
  deliver(std::nullopt);

  while (!stopping()) {
    // libpqxx 6 would silently reconnect a broken connection inside await_notification() and
    // re-LISTEN, hiding the gap in which notifications were lost. Notice the break here instead
    // and go through our own reconnect, which announces the gap with nullopt.
    if (!lc.conn->is_open())
      throw pqxx::broken_connection{"listener connection closed"};
    lc.conn->await_notification(0, wait_slice_us);
    if (lc.conn->backendpid() != backend)
      throw pqxx::broken_connection{"listener connection was replaced"};
    for (const auto& payload : inbox) {
      auto id = parse_id(payload);
      if (!id)
        log::warning(component, "notification payload is not a pipeline id: '" + payload + "'");
      deliver(id);
    }
    inbox.clear();
  }
}

} // namespace imgproc::db
