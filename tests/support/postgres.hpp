#pragma once

// PostgreSQL for tests: where the server is, and a throwaway database per test.
//
// ctest starts one private server per run (scripts/private-postgres, fixture "postgres") and
// exports its directory as IMGPROC_TEST_PG_DIR; IMGPROC_TEST_DATABASE_URL points the tests at
// another server instead. Each test then works in its own scratch database, so tests never see
// each other's rows and may run in any order or in parallel.
//
// Depends only on libpqxx: tests apply migrations themselves with db::apply_migrations.

#include <string>

namespace imgproc::testing {

/// A DSN with rights to create databases: IMGPROC_TEST_DATABASE_URL if set, otherwise the private
/// server in IMGPROC_TEST_PG_DIR. Throws std::runtime_error (failing the test) if neither is set.
std::string admin_dsn();

/// The DSN scripts/private-postgres prints for a server directory (made absolute).
std::string private_server_dsn(const std::string& dir);

/// `dsn` with its database name replaced by `database`. Handles URIs with or without a path
/// (`postgresql:///db?host=...`, `postgresql://user@host:port/db?...`, `postgresql://host`) and
/// key=value DSNs.
std::string with_database(const std::string& dsn, const std::string& database);

/// A uniquely named, empty database that lives as long as this object.
class scratch_database {
public:
  /// Creates imgproc_t_<pid>_<counter>_<random> on the admin_dsn() server.
  /// Throws std::runtime_error or pqxx exceptions if that fails.
  scratch_database();
  /// Drops the database WITH (FORCE), ending connections the test left open. Reports but does
  /// not throw on failure.
  ~scratch_database();
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  const std::string& name() const { return name_; }
  /// Connects to this database.
  const std::string& dsn() const { return dsn_; }
  /// Connects to the server's admin database (e.g. to kill this database's backends).
  const std::string& admin_dsn() const { return admin_dsn_; }

private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

} // namespace imgproc::testing
