#include "common/options.hpp"

#include <gtest/gtest.h>
#include <map>

namespace imgproc {
namespace {

option_set sample() {
  option_set o;
  o.add({"port", "TEST_PORT", "8000", "port"}).add({"db", "DATABASE_URL", "", "dsn"});
  return o;
}

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

TEST(options, command_line_beats_environment_beats_default) {
  auto o = sample();
  ASSERT_TRUE(o.parse({}, fake_env({})));
  EXPECT_EQ(o.get_int("port", 0, 65535), 8000);
  EXPECT_EQ(o.source("port"), "default");
  ASSERT_TRUE(o.parse({}, fake_env({{"TEST_PORT", "9000"}})));
  EXPECT_EQ(o.get_int("port", 0, 65535), 9000);
  ASSERT_TRUE(o.parse({"--port=9100"}, fake_env({{"TEST_PORT", "9000"}})));
  EXPECT_EQ(o.get_int("port", 0, 65535), 9100);
  EXPECT_EQ(o.source("port"), "command line");
}

TEST(options, refuses_unknown_options_and_bad_values) {
  auto o = sample();
  EXPECT_THROW(o.parse({"--prot=1"}, fake_env({})), option_error);
  EXPECT_THROW(o.parse({"--port"}, fake_env({})), option_error);
  EXPECT_THROW(o.parse({"positional"}, fake_env({})), option_error);
  ASSERT_TRUE(o.parse({"--port=80x"}, fake_env({})));
  EXPECT_THROW(o.get_int("port", 0, 65535), option_error);
  ASSERT_TRUE(o.parse({"--port=70000"}, fake_env({})));
  EXPECT_THROW(o.get_int("port", 0, 65535), option_error);
}

TEST(options, help_lists_every_option_and_its_variable) {
  auto o = sample();
  EXPECT_FALSE(o.parse({"--help"}, fake_env({})));
  auto help = o.help_text("test");
  EXPECT_NE(help.find("--port=VALUE"), std::string::npos);
  EXPECT_NE(help.find("TEST_PORT"), std::string::npos);
  EXPECT_NE(help.find("DATABASE_URL"), std::string::npos);
}

TEST(options, lists_are_comma_separated_without_empty_items) {
  option_set o;
  o.add({"urls", "", "", "urls"});
  ASSERT_TRUE(o.parse({"--urls=http://a/,,http://b/"}, fake_env({})));
  EXPECT_EQ(o.get_list("urls"), (std::vector<std::string>{"http://a/", "http://b/"}));
  ASSERT_TRUE(o.parse({}, fake_env({})));
  EXPECT_TRUE(o.get_list("urls").empty());
}

TEST(options, parse_int_is_strict) {
  EXPECT_EQ(parse_int("42"), std::optional<std::int64_t>{42});
  EXPECT_FALSE(parse_int(""));
  EXPECT_FALSE(parse_int(" 1"));
  EXPECT_FALSE(parse_int("1.0"));
  EXPECT_FALSE(parse_int("+1"));
  EXPECT_FALSE(parse_int("99999999999999999999"));
}

TEST(options, a_repeatable_option_collects_every_command_line_value) {
  option_set o;
  o.add({"join", "TEST_JOIN", "", "gateways", true}).add({"port", "", "1", "port"});
  // The command line replaces the environment's value, then each repetition adds one.
  ASSERT_TRUE(o.parse({"--join=a:1", "--join=b:2,c:3", "--port=2", "--port=3"},
                      fake_env({{"TEST_JOIN", "env:9"}})));
  EXPECT_EQ(o.get_list("join"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(o.get("port"), "3"); // not repeatable: the last one wins
  ASSERT_TRUE(o.parse({}, fake_env({{"TEST_JOIN", "env:9"}})));
  EXPECT_EQ(o.get_list("join"), (std::vector<std::string>{"env:9"}));
}

} // namespace
} // namespace imgproc
