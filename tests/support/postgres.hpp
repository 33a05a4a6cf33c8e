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

/// The pipelines the migrations create, with ids 1 to 4 in this order: car-detection
/// (0002), people-detection, face-detection and plate-detection (0007). A pipeline a test creates
/// gets the next id.
inline constexpr int seeded_pipeline_count = 4;

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
  /// The same on the server `admin_dsn` names (e.g. a private_postgres of the test's own).
  explicit scratch_database(std::string admin_dsn);
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

/// A PostgreSQL server of the test's own, for tests that stop and start the server while the
/// service runs (the shared ctest fixture server must never be restarted): `script` (the
/// repository's scripts/private-postgres) on a fresh directory under /tmp, with
/// PRIVATE_PG_FAST=1 (throwaway data). start() and stop() wait until the script has finished:
/// the server accepts connections after start(), and is gone after stop().
class private_postgres {
public:
  /// Makes the directory and starts the server. Throws std::runtime_error if it does not start.
  explicit private_postgres(std::string script);
  /// Stops the server (if running) and removes the directory. Reports but does not throw.
  ~private_postgres();
  private_postgres(const private_postgres&) = delete;
  private_postgres& operator=(const private_postgres&) = delete;

  /// `private-postgres start DIR` (fine when already running). Throws if it fails.
  void start();
  /// `private-postgres stop DIR`: a fast shutdown, which ends every connection. Throws if it
  /// fails.
  void stop();

  /// A DSN with rights to create databases on this server (its "imgproc" database).
  const std::string& admin_dsn() const { return admin_dsn_; }
  const std::string& dir() const { return dir_; }

private:
  /// Runs the script with `command`; returns its stdout. Throws on a non-zero exit.
  std::string run(const std::string& command);

  std::string script_;
  std::string dir_;
  std::string admin_dsn_;
};

} // namespace imgproc::testing
