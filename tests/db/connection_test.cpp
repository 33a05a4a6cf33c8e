#include "db/connection.hpp"

#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <string>

namespace {

using namespace imgproc::db;

TEST(resolve_dsn, database_url_wins) {
  EXPECT_EQ(resolve_dsn("postgresql://u@h/d", "server", "user", "pw", "db", "5432"),
            "postgresql://u@h/d");
}

TEST(resolve_dsn, nothing_configured_is_empty) {
  EXPECT_EQ(resolve_dsn("", "", "", "", "", ""), "");
  EXPECT_EQ(resolve_dsn("", "", "user", "pw", "db", "5432"), "");
}

TEST(resolve_dsn, builds_uri_from_parts) {
  EXPECT_EQ(resolve_dsn("", "db.example", "app", "secret", "imgproc", "5433"),
            "postgresql://app:secret@db.example:5433/imgproc");
  EXPECT_EQ(resolve_dsn("", "db.example", "app", "", "imgproc", ""),
            "postgresql://app@db.example/imgproc");
  EXPECT_EQ(resolve_dsn("", "db.example", "", "", "", ""), "postgresql://db.example");
  EXPECT_EQ(resolve_dsn("", "db.example:6432", "app", "", "imgproc", ""),
            "postgresql://app@db.example:6432/imgproc");
}

TEST(resolve_dsn, percent_encodes_credentials_and_database) {
  EXPECT_EQ(resolve_dsn("", "h", "us@r", "p:ss/w@rd#?&%", "my db", ""),
            "postgresql://us%40r:p%3Ass%2Fw%40rd%23%3F%26%25@h/my%20db");
  EXPECT_EQ(resolve_dsn("", "h", "u", "пароль", "d", ""),
            "postgresql://u:%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C@h/d");
}

TEST(resolve_dsn, socket_directory_and_ipv6_hosts) {
  EXPECT_EQ(resolve_dsn("", "/var/run/postgresql", "u", "", "d", ""),
            "postgresql://u@%2Fvar%2Frun%2Fpostgresql/d");
  EXPECT_EQ(resolve_dsn("", "::1", "u", "", "d", "5432"), "postgresql://u@[::1]:5432/d");
  EXPECT_EQ(resolve_dsn("", "[::1]", "u", "", "d", ""), "postgresql://u@[::1]/d");
}

TEST(redact_dsn, hides_passwords) {
  EXPECT_EQ(redact_dsn("postgresql://app:secret@db:5432/imgproc"),
            "postgresql://app:***@db:5432/imgproc");
  EXPECT_EQ(redact_dsn("postgresql://app:se%40cret@db/imgproc?sslmode=require"),
            "postgresql://app:***@db/imgproc?sslmode=require");
  EXPECT_EQ(redact_dsn("postgres://db/imgproc?user=app&password=secret&sslmode=require"),
            "postgres://db/imgproc?user=app&password=***&sslmode=require");
  EXPECT_EQ(redact_dsn("host=db user=app password=secret dbname=imgproc"),
            "host=db user=app password=*** dbname=imgproc");
  EXPECT_EQ(redact_dsn("host=db password='a b\\' c' dbname=imgproc"),
            "host=db password=*** dbname=imgproc");
}

TEST(redact_dsn, leaves_dsns_without_password_alone) {
  EXPECT_EQ(redact_dsn("postgresql:///imgproc?host=/tmp/x/socket&user=postgres"),
            "postgresql:///imgproc?host=/tmp/x/socket&user=postgres");
  EXPECT_EQ(redact_dsn("postgresql://app@db/imgproc"), "postgresql://app@db/imgproc");
  EXPECT_EQ(redact_dsn("host=db dbname=imgproc"), "host=db dbname=imgproc");
  EXPECT_EQ(redact_dsn(""), "");
}

TEST(with_connect_timeout, adds_only_when_missing) {
  EXPECT_EQ(with_connect_timeout("postgresql://h/d"), "postgresql://h/d?connect_timeout=5");
  EXPECT_EQ(with_connect_timeout("postgresql:///d?host=/s"),
            "postgresql:///d?host=/s&connect_timeout=5");
  EXPECT_EQ(with_connect_timeout("host=h dbname=d", 3), "host=h dbname=d connect_timeout=3");
  EXPECT_EQ(with_connect_timeout(""), "connect_timeout=5");
  EXPECT_EQ(with_connect_timeout("postgresql://h/d?connect_timeout=1"),
            "postgresql://h/d?connect_timeout=1");
}

TEST(new_instance_id, is_16_lowercase_hex_digits) {
  const std::regex hex16{"[0-9a-f]{16}"};
  for (int i = 0; i < 100; ++i) {
    const auto id = new_instance_id();
    EXPECT_TRUE(std::regex_match(id, hex16)) << id;
  }
}

TEST(new_instance_id, differs_between_calls) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.insert(new_instance_id());
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(instance_application_name, prefixes_the_instance_id) {
  EXPECT_EQ(instance_application_name("0123456789abcdef"), "imgproc:0123456789abcdef");
  EXPECT_EQ(instance_application_name(""), "imgproc:");
  const auto id = new_instance_id();
  EXPECT_EQ(instance_application_name(id), "imgproc:" + id);
}

TEST(instance_application_name, is_cut_to_postgres_63_byte_limit) {
  const std::string fits(55, 'a'); // 8 + 55 = 63
  EXPECT_EQ(instance_application_name(fits), "imgproc:" + fits);
  const auto cut = instance_application_name(std::string(56, 'b') + "tail");
  EXPECT_EQ(cut.size(), 63u);
  EXPECT_EQ(cut, "imgproc:" + std::string(55, 'b'));
  EXPECT_EQ(instance_application_name(std::string(1000, 'c')).size(), 63u);
}

TEST(instance_application_name, replaces_bytes_postgres_would_replace) {
  // As PostgreSQL 15 stores it: each byte outside printable ASCII becomes '?'.
  EXPECT_EQ(instance_application_name("h\xc3\xa9te\tx"), "imgproc:h??te?x");
  // A multi-byte character cut in half by the limit leaves no stray byte behind.
  const auto cut = instance_application_name(std::string(54, 'a') + "\xc3\xa9");
  EXPECT_EQ(cut, "imgproc:" + std::string(54, 'a') + "?");
}

TEST(one_line, joins_libpq_lines_and_collapses_spaces) {
  EXPECT_EQ(one_line("connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  "
                     "password authentication failed for user \"imgproc\"\n"),
            "connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL: password "
            "authentication failed for user \"imgproc\"");
  EXPECT_EQ(one_line("ERROR:  relation \"tasks\" does not exist\nLINE 1: UPDATE tasks\n   ^\n"),
            "ERROR: relation \"tasks\" does not exist; LINE 1: UPDATE tasks; ^");
  EXPECT_EQ(one_line("  \n\t "), "");
}

TEST(is_configuration_error, tells_what_waiting_does_not_cure) {
  EXPECT_TRUE(is_configuration_error(
      "connection to server failed: FATAL: password authentication failed for user \"x\""));
  EXPECT_TRUE(is_configuration_error("FATAL: role \"nobody\" does not exist"));
  EXPECT_TRUE(is_configuration_error("FATAL: database \"imgproc\" does not exist"));
  EXPECT_TRUE(is_configuration_error("FATAL: no pg_hba.conf entry for host \"10.0.0.7\""));
  EXPECT_FALSE(is_configuration_error(
      "connection to server at \"db\" (10.0.0.5), port 5432 failed: Connection refused"));
  EXPECT_FALSE(is_configuration_error("could not translate host name \"postgres\" to address"));
  EXPECT_FALSE(is_configuration_error("FATAL: the database system is starting up"));
}

} // namespace
