#include "tests/support/postgres.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <random>
#include <regex>
#include <stdexcept>
#include <unistd.h>

namespace imgproc::testing {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string unique_database_name() {
  static std::atomic<unsigned> counter{0};
  // The pid and counter make names unique within a machine; the random part guards against
  // a pid reused by a later run while an earlier run's database was left behind.
  std::random_device device;
  char random[9];
  std::snprintf(random, sizeof random, "%08x", static_cast<unsigned>(device()));
  return "imgproc_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + random;
}

} // namespace

std::string private_server_dsn(const std::string& dir) {
  // The script resolves DIR to an absolute path; do the same so a relative or slash-terminated
  // IMGPROC_TEST_PG_DIR still names the same socket.
  std::string path = std::filesystem::absolute(dir).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return "postgresql:///imgproc?host=" + path + "/socket&user=postgres";
}

std::string admin_dsn() {
  if (auto url = env("IMGPROC_TEST_DATABASE_URL"); !url.empty())
    return url;
  if (auto dir = env("IMGPROC_TEST_PG_DIR"); !dir.empty())
    return private_server_dsn(dir);
  throw std::runtime_error("no PostgreSQL for tests: IMGPROC_TEST_PG_DIR and "
                           "IMGPROC_TEST_DATABASE_URL are unset; run through ctest, or set "
                           "IMGPROC_TEST_DATABASE_URL");
}

std::string with_database(const std::string& dsn, const std::string& database) {
  const bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
  if (!uri) {
    static const std::regex dbname{R"((^|\s)dbname\s*=\s*('([^'\\]|\\.)*'|\S*))"};
    if (std::regex_search(dsn, dbname))
      return std::regex_replace(dsn, dbname, "$1dbname=" + database);
    return dsn + (dsn.empty() ? "" : " ") + "dbname=" + database;
  }
  // The path starts at the first '/' after the authority and runs to the query.
  const std::size_t authority = dsn.find("://") + 3;
  const std::size_t path = dsn.find_first_of("/?", authority);
  if (path == std::string::npos)
    return dsn + "/" + database;
  if (dsn[path] == '?')
    return dsn.substr(0, path) + "/" + database + dsn.substr(path);
  const std::size_t path_end = dsn.find('?', path);
  return dsn.substr(0, path) + "/" + database +
         (path_end == std::string::npos ? "" : dsn.substr(path_end));
}

scratch_database::scratch_database() : scratch_database(testing::admin_dsn()) {}

scratch_database::scratch_database(std::string admin_dsn)
    : admin_dsn_(std::move(admin_dsn)), name_(unique_database_name()),
      dsn_(with_database(admin_dsn_, name_)) {
  pqxx::connection conn{admin_dsn_};
  // CREATE DATABASE cannot run inside a transaction block.
  pqxx::nontransaction txn{conn};
  txn.exec("CREATE DATABASE " + txn.quote_name(name_));
}

scratch_database::~scratch_database() {
  try {
    pqxx::connection conn{admin_dsn_};
    pqxx::nontransaction txn{conn};
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scratch_database: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

} // namespace imgproc::testing

namespace imgproc::testing {

private_postgres::private_postgres(std::string script) : script_(std::move(script)) {
  // Short: the server's socket path (DIR/socket/.s.PGSQL.5432) must stay under 100 characters.
  char pattern[] = "/tmp/imgproc-pg-XXXXXX";
  if (!::mkdtemp(pattern))
    throw std::runtime_error("private_postgres: mkdtemp failed");
  dir_ = pattern;
  try {
    start();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

private_postgres::~private_postgres() {
  try {
    run("stop");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "private_postgres: %s\n", e.what());
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void private_postgres::start() {
  auto out = run("start");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  if (out.rfind("postgresql://", 0) != 0)
    throw std::runtime_error("private_postgres: unexpected output of start: " + out);
  admin_dsn_ = out;
}

void private_postgres::stop() {
  run("stop");
}

std::string private_postgres::run(const std::string& command) {
  // The directory is ours (mkdtemp: plain characters); the script path is single-quoted.
  std::string line = "PRIVATE_PG_FAST=1 '" + script_ + "' " + command + " '" + dir_ + "'";
  FILE* pipe = ::popen(line.c_str(), "re");
  if (!pipe)
    throw std::runtime_error("private_postgres: cannot run " + line);
  std::string out;
  char buffer[512];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    out.append(buffer, n);
  int status = ::pclose(pipe);
  if (status != 0)
    throw std::runtime_error("private_postgres: '" + line + "' failed (status " +
                             std::to_string(status) + ")");
  return out;
}

} // namespace imgproc::testing
