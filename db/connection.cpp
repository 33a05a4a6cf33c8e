#include "db/connection.hpp"

#include <cstddef>
#include <cstdint>
#include <pqxx/nontransaction>
#include <random>
#include <regex>
#include <stdexcept>
#include <string_view>

namespace imgproc::db {

namespace {

bool is_uri(std::string_view dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

} // namespace

std::string percent_encode(const std::string& text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += hex[byte >> 4];
      out += hex[byte & 0x0f];
    }
  }
  return out;
}

std::string with_connect_timeout(const std::string& dsn, int seconds) {
  if (dsn.find("connect_timeout") != std::string::npos)
    return dsn;
  const std::string setting = "connect_timeout=" + std::to_string(seconds);
  if (!is_uri(dsn))
    return dsn.empty() ? setting : dsn + " " + setting;
  // A fragment is not part of a libpq URI, so only '?' matters.
  if (dsn.find('?') == std::string::npos)
    return dsn + "?" + setting;
  const char last = dsn.back();
  return dsn + (last == '?' || last == '&' ? "" : "&") + setting;
}

std::string with_application_name(const std::string& dsn, const std::string& name) {
  if (!is_uri(dsn)) {
    // key=value form: single-quote the value, escaping backslashes and quotes.
    std::string quoted = "'";
    for (char c : name) {
      if (c == '\\' || c == '\'')
        quoted += '\\';
      quoted += c;
    }
    quoted += "'";
    std::string setting = "application_name=" + quoted;
    return dsn.empty() ? setting : dsn + " " + setting;
  }
  std::string setting = "application_name=" + percent_encode(name);
  if (dsn.find('?') == std::string::npos)
    return dsn + "?" + setting;
  const char last = dsn.back();
  return dsn + (last == '?' || last == '&' ? "" : "&") + setting;
}

std::unique_ptr<pqxx::connection> connect(const std::string& dsn) {
  return std::make_unique<pqxx::connection>(with_connect_timeout(dsn));
}

std::string resolve_dsn(const std::string& database_url, const std::string& postgres_server,
                        const std::string& postgres_user, const std::string& postgres_password,
                        const std::string& postgres_db, const std::string& postgres_port) {
  if (!database_url.empty())
    return database_url;
  if (postgres_server.empty())
    return "";

  std::string uri = "postgresql://";
  if (!postgres_user.empty() || !postgres_password.empty()) {
    uri += percent_encode(postgres_user);
    if (!postgres_password.empty())
      uri += ":" + percent_encode(postgres_password);
    uri += "@";
  }
  if (postgres_server.front() == '/') {
    // libpq accepts a percent-encoded socket directory as the URI host.
    uri += percent_encode(postgres_server);
  } else if (postgres_server.find(':') != postgres_server.rfind(':') &&
             postgres_server.front() != '[') {
    uri += "[" + postgres_server + "]"; // a bare IPv6 address
  } else {
    // "host" or "host:port" (as the original service allowed) go in unchanged.
    uri += postgres_server;
  }
  if (!postgres_port.empty())
    uri += ":" + postgres_port;
  if (!postgres_db.empty())
    uri += "/" + percent_encode(postgres_db);
  return uri;
}

std::string one_line(const std::string& message) {
  std::string out;
  bool pending_space = false;
  bool pending_break = false;
  for (char c : message) {
    if (c == '\n' || c == '\r') {
      pending_break = !out.empty();
      continue;
    }
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_break)
      out += "; ";
    else if (pending_space)
      out += ' ';
    pending_break = pending_space = false;
    out += c;
  }
  return out;
}

bool is_configuration_error(const std::string& message) {
  static const std::regex configuration{
      R"(password authentication failed|no password supplied|role ".*" does not exist|)"
      R"(database ".*" does not exist|pg_hba\.conf|permission denied for database|)"
      R"(certificate|server does not support SSL)",
      std::regex::icase};
  return std::regex_search(message, configuration);
}

std::string redact_dsn(const std::string& dsn) {
  if (!is_uri(dsn)) {
    // key=value form: the value is a single word or a quoted string with backslash escapes.
    static const std::regex password_kv{R"((^|\s)password\s*=\s*('([^'\\]|\\.)*'?|\S*))"};
    return std::regex_replace(dsn, password_kv, "$1password=***");
  }

  std::string out = dsn;
  const std::size_t authority = out.find("://") + 3;
  const std::size_t authority_end = out.find_first_of("/?", authority);
  const std::size_t at =
      out.rfind('@', authority_end == std::string::npos ? out.size() - 1 : authority_end - 1);
  if (at != std::string::npos && at >= authority) {
    const std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at)
      out.replace(colon + 1, at - colon - 1, "***");
  }

  const std::size_t query = out.find('?');
  if (query != std::string::npos) {
    std::size_t pos = query + 1;
    while (pos < out.size()) {
      std::size_t end = out.find('&', pos);
      if (end == std::string::npos)
        end = out.size();
      if (out.compare(pos, 9, "password=") == 0) {
        out.replace(pos + 9, end - pos - 9, "***");
        end = pos + 12;
      }
      pos = end + 1;
    }
  }
  return out;
}

void set_session_timeouts(pqxx::connection& conn, std::chrono::milliseconds statement,
                          std::chrono::milliseconds lock) {
  pqxx::nontransaction txn{conn};
  txn.exec("SET statement_timeout = " + std::to_string(statement.count()));
  txn.exec("SET lock_timeout = " + std::to_string(lock.count()));
}

std::string new_instance_id() {
  std::random_device device;
  // random_device yields 32-bit values (its result_type is unsigned int): take two.
  const std::uint64_t bits = (std::uint64_t{device()} << 32) ^ std::uint64_t{device()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 0; i < 16; ++i)
    id[static_cast<std::size_t>(i)] = hex[(bits >> (60 - 4 * i)) & 0x0f];
  return id;
}

std::string instance_application_name(const std::string& instance_id) {
  // NAMEDATALEN - 1 in a standard PostgreSQL build: longer names are cut by the server (with a
  // NOTICE), and pg_stat_activity reports the cut value.
  constexpr std::size_t max_length = 63;
  std::string name = "imgproc:" + instance_id;
  if (name.size() > max_length)
    name.resize(max_length);
  // The server replaces every byte outside printable ASCII with '?' (PostgreSQL 15; 16 and
  // later write \x.. escapes instead). Doing it here keeps the name the same on every version.
  for (char& c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e)
      c = '?';
  }
  return name;
}

void set_application_name(pqxx::connection& conn, const std::string& name) {
  if (name.find('\0') != std::string::npos)
    throw std::invalid_argument("application_name contains a NUL byte");
  pqxx::nontransaction txn{conn};
  txn.exec_params("SELECT set_config('application_name', $1, false)", name);
}

} // namespace imgproc::db
