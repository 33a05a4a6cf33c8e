#pragma once

// One lazily (re)opened connection to a database.
//
// A service must start, and answer "database unavailable", while PostgreSQL is down, and carry
// on once it is back. `session` therefore opens its connection on first use rather than at
// construction, drops it as soon as it breaks, and opens a fresh one on the next call. It never
// retries a call itself: whether repeating a statement is safe is the caller's decision.
//
// Not thread-safe (neither is pqxx::connection): one session per thread or actor.

#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/connection>
#include <pqxx/except>
#include <string>
#include <type_traits>
#include <utility>

namespace imgproc::db {

class session {
public:
  /// Called on every freshly opened connection, before any call runs on it; registers
  /// prepared statements (e.g. prepare_task_statements), which do not survive a reconnect.
  using prepare_hook = std::function<void(pqxx::connection&)>;

  /// Does not connect.
  explicit session(std::string dsn, prepare_hook on_connect = {});
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Calls `fn(pqxx::connection&)` on the open connection, opening it first if needed, and
  /// returns what `fn` returns.
  /// Throws pqxx::broken_connection if the database cannot be reached or the connection broke
  /// during `fn` (then the connection is dropped, and the next call reconnects). Other exceptions
  /// from `fn` (pqxx::sql_error, ...) pass through and keep the connection; pqxx::in_doubt_error
  /// keeps its type. An exception from the prepare hook passes through and no connection is kept.
  template <class F> auto run(F&& fn) -> std::invoke_result_t<F&&, pqxx::connection&> {
    pqxx::connection& conn = connection();
    try {
      return std::forward<F>(fn)(conn);
    } catch (const pqxx::broken_connection&) {
      drop();
      throw;
    } catch (const pqxx::in_doubt_error&) {
      // Keep the type: the caller must know a commit may or may not have happened.
      if (!conn.is_open())
        drop();
      throw;
    } catch (const std::exception& e) {
      // Whatever the error said, a connection that is gone means "database unavailable"; give
      // callers one exception type for that.
      if (conn.is_open())
        throw;
      drop();
      throw pqxx::broken_connection{e.what()};
    }
  }

  /// Checks the database answers (`SELECT 1`), connecting if needed. Never throws.
  bool healthy() noexcept { return health_problem().empty(); }

  /// The same check, saying why it failed: empty when the database answers, else the error on
  /// one line (e.g. `... FATAL: password authentication failed for user "imgproc"`).
  std::string health_problem() noexcept;

  /// Whether a connection is currently held and open; does no I/O.
  bool connected() const noexcept;

  /// Closes the connection, if any; the next call reconnects.
  void drop() noexcept;

  /// The DSN as given, for connecting; log redact_dsn(dsn()) instead.
  const std::string& dsn() const noexcept { return dsn_; }

private:
  /// The open connection, connecting and running the prepare hook first if needed.
  /// Throws pqxx::broken_connection on failure.
  pqxx::connection& connection();

  std::string dsn_;
  prepare_hook on_connect_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// A session whose every (re)opened connection first bounds statements to `statement_timeout`
/// (lock waits to half of it), so a stuck database fails a call instead of holding its thread,
/// then registers its statements with `prepare`.
std::unique_ptr<session> bounded_session(std::string dsn,
                                         std::chrono::milliseconds statement_timeout,
                                         session::prepare_hook prepare);

} // namespace imgproc::db
