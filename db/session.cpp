#include "db/session.hpp"

#include "common/log.hpp"
#include "db/connection.hpp"

#include <pqxx/nontransaction>

namespace imgproc::db {

session::session(std::string dsn, prepare_hook on_connect)
    : dsn_(std::move(dsn)), on_connect_(std::move(on_connect)) {}

session::~session() = default;

pqxx::connection& session::connection() {
  if (conn_ && conn_->is_open())
    return *conn_;
  conn_.reset();
  auto fresh = db::connect(dsn_);
  if (on_connect_) {
    try {
      on_connect_(*fresh);
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      if (fresh->is_open())
        throw;
      throw pqxx::broken_connection{e.what()};
    }
  }
  conn_ = std::move(fresh);
  log::info("db", "connected to " + redact_dsn(dsn_));
  return *conn_;
}

std::string session::health_problem() noexcept {
  try {
    run([](pqxx::connection& conn) { pqxx::nontransaction{conn}.exec("SELECT 1"); });
    return {};
  } catch (const std::exception& e) {
    try {
      auto problem = one_line(e.what());
      return problem.empty() ? "the database does not answer" : problem;
    } catch (...) {
      return "the database does not answer";
    }
  } catch (...) {
    return "the database does not answer";
  }
}

bool session::connected() const noexcept {
  return conn_ && conn_->is_open();
}

void session::drop() noexcept {
  if (!conn_)
    return;
  conn_.reset();
  try {
    log::warning("db", "dropped connection to " + redact_dsn(dsn_));
  } catch (...) {
    // Losing a log line beats terminating from a noexcept function.
  }
}

std::unique_ptr<session> bounded_session(std::string dsn,
                                         std::chrono::milliseconds statement_timeout,
                                         session::prepare_hook prepare) {
  return std::make_unique<session>(
      std::move(dsn), [statement_timeout, prepare = std::move(prepare)](pqxx::connection& conn) {
        set_session_timeouts(conn, statement_timeout, statement_timeout / 2);
        if (prepare)
          prepare(conn);
      });
}

} // namespace imgproc::db
