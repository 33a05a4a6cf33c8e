// db::with_application_name against a real server: whatever form the DSN has (URI with or
// without a query, key=value) and whatever it already says about application_name, a session
// opened with the result reports exactly the name given. The gateway relies on it: the name marks
// the instance that owns the task rows its sessions create.

#include "db/connection.hpp"
#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <string>

namespace {

using imgproc::db::percent_encode;
using imgproc::db::with_application_name;
using imgproc::testing::scratch_database;

/// What the server says the session's application_name is.
std::string session_application_name(const std::string& dsn) {
  pqxx::connection conn{dsn};
  pqxx::nontransaction txn{conn};
  return txn.exec1("SELECT current_setting('application_name')")[0].as<std::string>();
}

/// A key=value value in single quotes, backslashes and quotes escaped (as libpq reads it).
std::string quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'')
      out += '\\';
    out += c;
  }
  return out + "'";
}

/// The parameters of a live session on the scratch database, so the test can spell the same
/// target in other DSN forms. (A password is not among them: a server that needs one must get it
/// from PGPASSWORD or ~/.pgpass for the forms built here.)
struct target {
  std::string host; ///< a host name, or a Unix socket directory
  std::string port;
  std::string user;
  std::string dbname;
};

target target_of(const std::string& dsn) {
  pqxx::connection conn{dsn};
  target out;
  out.host = conn.hostname() ? conn.hostname() : "";
  out.port = conn.port() ? conn.port() : "";
  out.user = conn.username();
  out.dbname = conn.dbname();
  return out;
}

/// "host='...' port='...' user='...' dbname='...'".
std::string key_value_dsn(const target& t) {
  std::string out;
  if (!t.host.empty())
    out += "host=" + quoted(t.host) + " ";
  if (!t.port.empty())
    out += "port=" + quoted(t.port) + " ";
  return out + "user=" + quoted(t.user) + " dbname=" + quoted(t.dbname);
}

/// "postgresql://user@host:port/dbname", with no query part (a socket directory as the host is
/// percent-encoded, which libpq accepts).
std::string uri_without_query(const target& t) {
  return "postgresql://" + percent_encode(t.user) + "@" + percent_encode(t.host) +
         (t.port.empty() ? "" : ":" + t.port) + "/" + percent_encode(t.dbname);
}

// --- Pure string checks --------------------------------------------------------------------------

TEST(with_application_name, appends_to_a_uri) {
  EXPECT_EQ(with_application_name("postgresql://h/d", "imgproc:0123456789abcdef"),
            "postgresql://h/d?application_name=imgproc%3A0123456789abcdef");
  EXPECT_EQ(with_application_name("postgresql:///d?host=/s", "a"),
            "postgresql:///d?host=/s&application_name=a");
  EXPECT_EQ(with_application_name("postgresql://h/d?", "a"), "postgresql://h/d?application_name=a");
  EXPECT_EQ(with_application_name("postgresql://h/d?x=1&", "a"),
            "postgresql://h/d?x=1&application_name=a");
  EXPECT_EQ(with_application_name("postgres://h/d?application_name=x", "a"),
            "postgres://h/d?application_name=x&application_name=a");
  EXPECT_EQ(with_application_name("postgresql://h/d", "a b&c=d"),
            "postgresql://h/d?application_name=a%20b%26c%3Dd");
}

TEST(with_application_name, appends_a_quoted_value_to_a_key_value_dsn) {
  EXPECT_EQ(with_application_name("host=h dbname=d", "imgproc:0123456789abcdef"),
            "host=h dbname=d application_name='imgproc:0123456789abcdef'");
  EXPECT_EQ(with_application_name("host=h application_name=x", "a"),
            "host=h application_name=x application_name='a'");
  EXPECT_EQ(with_application_name("", "a"), "application_name='a'");
  EXPECT_EQ(with_application_name("host=h", R"(it's a \ name)"),
            R"(host=h application_name='it\'s a \\ name')");
}

// --- Against the server --------------------------------------------------------------------------

class application_name_dsn : public ::testing::Test {
protected:
  const std::string name = "imgproc:0123456789abcdef";
  scratch_database db;
};

TEST_F(application_name_dsn, scratch_dsn_is_a_uri_with_a_query) {
  // The other cases build their DSNs from it; make sure it is what they assume.
  ASSERT_EQ(db.dsn().rfind("postgresql://", 0), 0u) << db.dsn();
  ASSERT_NE(db.dsn().find('?'), std::string::npos) << db.dsn();
}

TEST_F(application_name_dsn, uri_with_a_query) {
  const auto dsn = with_application_name(db.dsn(), name);
  EXPECT_EQ(session_application_name(dsn), name) << dsn;
}

TEST_F(application_name_dsn, uri_without_a_query) {
  const auto plain = uri_without_query(target_of(db.dsn()));
  ASSERT_EQ(plain.find('?'), std::string::npos) << plain;
  ASSERT_NE(session_application_name(plain), name); // the name comes from with_application_name
  const auto dsn = with_application_name(plain, name);
  EXPECT_EQ(session_application_name(dsn), name) << dsn;
}

TEST_F(application_name_dsn, uri_ending_in_a_separator) {
  const auto plain = uri_without_query(target_of(db.dsn()));
  for (const auto& base : {plain + "?", db.dsn() + "&"}) {
    SCOPED_TRACE(base);
    const auto dsn = with_application_name(base, name);
    EXPECT_EQ(session_application_name(dsn), name) << dsn;
  }
}

TEST_F(application_name_dsn, overrides_an_application_name_in_a_uri) {
  const auto named = db.dsn() + "&application_name=x";
  ASSERT_EQ(session_application_name(named), "x");
  const auto dsn = with_application_name(named, name);
  EXPECT_EQ(session_application_name(dsn), name) << dsn;

  const auto first = uri_without_query(target_of(db.dsn())) + "?application_name=x";
  ASSERT_EQ(session_application_name(first), "x");
  const auto dsn2 = with_application_name(first, name);
  EXPECT_EQ(session_application_name(dsn2), name) << dsn2;
}

TEST_F(application_name_dsn, key_value_dsn) {
  const auto plain = key_value_dsn(target_of(db.dsn()));
  const auto dsn = with_application_name(plain, name);
  EXPECT_EQ(session_application_name(dsn), name) << dsn;
}

TEST_F(application_name_dsn, overrides_an_application_name_in_a_key_value_dsn) {
  const auto t = target_of(db.dsn());
  for (const auto& named :
       {key_value_dsn(t) + " application_name=x", "application_name='x' " + key_value_dsn(t)}) {
    SCOPED_TRACE(named);
    ASSERT_EQ(session_application_name(named), "x");
    const auto dsn = with_application_name(named, name);
    EXPECT_EQ(session_application_name(dsn), name) << dsn;
  }
}

TEST_F(application_name_dsn, quotes_backslashes_and_spaces_survive_in_both_forms) {
  const auto t = target_of(db.dsn());
  for (const std::string odd :
       {R"(it's a \ name)", R"(\')", "two  spaces ", "'", "\\", "a=b&c?d#e%20f"}) {
    SCOPED_TRACE(odd);
    const auto key_value = with_application_name(key_value_dsn(t), odd);
    EXPECT_EQ(session_application_name(key_value), odd) << key_value;
    const auto uri = with_application_name(db.dsn(), odd);
    EXPECT_EQ(session_application_name(uri), odd) << uri;
  }
}

TEST_F(application_name_dsn, names_the_session_in_pg_stat_activity) {
  // What the sweep of abandoned rows looks at: another session sees the name.
  pqxx::connection named{with_application_name(db.dsn(), name)};
  pqxx::connection observer{db.dsn()};
  pqxx::nontransaction txn{observer};
  const auto rows = txn.exec_params("SELECT count(*) FROM pg_stat_activity"
                                    " WHERE application_name = $1 AND pid = $2",
                                    name, named.backendpid());
  EXPECT_EQ(rows[0][0].as<int>(), 1);
}

} // namespace
