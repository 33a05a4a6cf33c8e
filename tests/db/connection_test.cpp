#include "db/connection.hpp"

#include <gtest/gtest.h>

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

} // namespace
