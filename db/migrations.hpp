#pragma once

// Schema migrations: numbered SQL files in db/migrations/, compiled into the binary, applied in
// order and recorded in `schema_migrations`.
//
// Each pending migration runs in its own transaction together with the row recording it, so a
// failed migration leaves neither a half-changed schema nor a record. Every transaction first
// takes a transaction-scoped advisory lock and re-reads what is applied, so several processes
// may start and migrate the same database at once: one applies, the others see it done.

#include <pqxx/connection>
#include <string>
#include <vector>

namespace imgproc::db {

struct migration {
  int version;      ///< NNNN from the file name NNNN_name.sql
  std::string name; ///< the name part
  std::string sql;  ///< the whole file; may hold several statements
};

/// The migrations in db/migrations/, ordered by version (generated at build time).
const std::vector<migration>& bundled_migrations();

struct migration_report {
  std::vector<int> applied; ///< versions this call applied, in order
  int current_version = 0;  ///< highest version recorded in the database afterwards (0: none)
};

/// Applies every migration in `all` that the database has not recorded yet, in version order.
/// Running it again, or concurrently from another process, is harmless.
/// Throws std::invalid_argument if `all` has a duplicate or non-positive version; pqxx exceptions
/// (pqxx::sql_error from a failing migration, pqxx::broken_connection, ...) pass through, and
/// the migrations applied before the failure stay applied.
migration_report apply_migrations(pqxx::connection& conn,
                                  const std::vector<migration>& all = bundled_migrations());

} // namespace imgproc::db
