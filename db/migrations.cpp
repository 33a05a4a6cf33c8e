#include "db/migrations.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <set>
#include <stdexcept>

namespace imgproc::db {

namespace {

// Any constant works as long as nothing else in the database uses it: "imgproc" in ASCII.
constexpr long long migration_lock_key = 0x696d6770726f63;

// Serialises migrators on this database until the transaction ends. Advisory locks are scoped
// to the current database, so scratch databases on one server do not block each other.
void lock_migrations(pqxx::work& txn) {
  txn.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
}

std::set<int> applied_versions(pqxx::work& txn) {
  std::set<int> versions;
  for (const auto& row : txn.exec("SELECT version FROM schema_migrations"))
    versions.insert(row[0].as<int>());
  return versions;
}

} // namespace

migration_report apply_migrations(pqxx::connection& conn, const std::vector<migration>& all) {
  std::vector<const migration*> ordered;
  ordered.reserve(all.size());
  for (const auto& m : all)
    ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const migration* a, const migration* b) { return a->version < b->version; });
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    if (ordered[i]->version <= 0)
      throw std::invalid_argument("migration version must be positive: " + ordered[i]->name);
    if (i > 0 && ordered[i]->version == ordered[i - 1]->version)
      throw std::invalid_argument("duplicate migration version " +
                                  std::to_string(ordered[i]->version));
  }

  migration_report report;
  std::set<int> applied;
  {
    // Under the lock: two concurrent CREATE TABLE IF NOT EXISTS can still collide on the catalog.
    pqxx::work txn{conn, "imgproc_migrations"};
    lock_migrations(txn);
    txn.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version int PRIMARY KEY,"
             " name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())");
    applied = applied_versions(txn);
    txn.commit();
  }

  for (const migration* m : ordered) {
    if (applied.count(m->version) != 0)
      continue;
    pqxx::work txn{conn, "imgproc_migration"};
    lock_migrations(txn);
    // Another process may have applied it between our read and taking the lock.
    if (!txn.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m->version)
             .empty()) {
      applied.insert(m->version);
      continue; // the destructor rolls back the empty transaction
    }
    txn.exec(m->sql);
    txn.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m->version,
                    m->name);
    txn.commit();
    applied.insert(m->version);
    report.applied.push_back(m->version);
    log::info("db", "applied migration " + std::to_string(m->version) + " " + m->name);
  }

  // Read back rather than use `applied`: the database may hold versions newer than this binary.
  pqxx::nontransaction txn{conn};
  report.current_version =
      txn.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
  return report;
}

} // namespace imgproc::db
