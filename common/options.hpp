#pragma once

// Command-line and environment options in one table.
//
// Every option is written `--name=value` on the command line and may also come from an
// environment variable; the command line wins over the environment, which wins over the default.
// One table drives parsing, validation and `--help`, so the help text cannot drift from what the
// program accepts.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgproc {

/// Thrown for an unknown option or a value that does not parse; the message is for the user.
class option_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct option_spec {
  std::string name;          ///< without the leading dashes
  std::string env;           ///< environment variable, may be empty
  std::string default_value; ///< as text; empty means "unset"
  std::string help;
  /// Given more than once on the command line, the values are joined with commas (a list read
  /// with get_list); otherwise the last one wins.
  bool repeatable = false;
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// Reads the process environment.
env_lookup process_environment();

class option_set {
public:
  option_set& add(option_spec spec);

  /// Parses `args` (without the program and command names) and the environment.
  /// Returns false if `--help` was given. Throws option_error on bad input.
  bool parse(const std::vector<std::string>& args, const env_lookup& env);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;
  std::int64_t get_int(const std::string& name, std::int64_t min, std::int64_t max) const;
  double get_double(const std::string& name, double min, double max) const;
  bool get_bool(const std::string& name) const;
  /// A comma-separated value as its non-empty items ("a,,b" -> {"a", "b"}).
  std::vector<std::string> get_list(const std::string& name) const;

  /// Where the value came from: "command line", "environment VAR" or "default".
  std::string source(const std::string& name) const;

  std::string help_text(const std::string& usage) const;
  const std::vector<option_spec>& specs() const { return specs_; }

private:
  const option_spec& spec(const std::string& name) const;

  std::vector<option_spec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> sources_;
};

/// Parses "123" strictly (no sign unless negative allowed, no spaces, no trailing text).
std::optional<std::int64_t> parse_int(const std::string& text);

} // namespace imgproc
