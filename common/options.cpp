#include "common/options.hpp"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace imgproc {

env_lookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str()))
      return std::string{value};
    return std::nullopt;
  };
}

option_set& option_set::add(option_spec spec) {
  specs_.push_back(std::move(spec));
  return *this;
}

const option_spec& option_set::spec(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name)
      return s;
  throw std::logic_error("option not declared: " + name);
}

bool option_set::parse(const std::vector<std::string>& args, const env_lookup& env) {
  values_.clear();
  sources_.clear();
  for (const auto& s : specs_) {
    if (!s.default_value.empty()) {
      values_[s.name] = s.default_value;
      sources_[s.name] = "default";
    }
    if (!s.env.empty() && env) {
      if (auto value = env(s.env); value && !value->empty()) {
        values_[s.name] = *value;
        sources_[s.name] = "environment " + s.env;
      }
    }
  }
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h")
      return false;
    if (arg.rfind("--", 0) != 0)
      throw option_error("unexpected argument '" + arg + "' (options are written --name=value)");
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const option_spec* spec = nullptr;
    for (const auto& s : specs_)
      if (s.name == name)
        spec = &s;
    if (!spec)
      throw option_error("unknown option --" + name + " (see --help)");
    if (eq == std::string::npos)
      throw option_error("option --" + name + " needs a value: --" + name + "=VALUE");
    auto value = arg.substr(eq + 1);
    if (spec->repeatable && sources_[name] == "command line" && !value.empty())
      values_[name] += "," + value;
    else
      values_[name] = value;
    sources_[name] = "command line";
  }
  return true;
}

bool option_set::has(const std::string& name) const {
  spec(name);
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

std::string option_set::get(const std::string& name) const {
  spec(name);
  auto it = values_.find(name);
  return it == values_.end() ? std::string{} : it->second;
}

std::string option_set::source(const std::string& name) const {
  auto it = sources_.find(name);
  return it == sources_.end() ? "unset" : it->second;
}

std::optional<std::int64_t> parse_int(const std::string& text) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  std::size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size())
    return std::nullopt;
  for (std::size_t k = i; k < text.size(); ++k)
    if (text[k] < '0' || text[k] > '9')
      return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return std::nullopt;
  return static_cast<std::int64_t>(value);
}

std::int64_t option_set::get_int(const std::string& name, std::int64_t min,
                                 std::int64_t max) const {
  auto text = get(name);
  auto value = parse_int(text);
  if (!value || *value < min || *value > max) {
    std::ostringstream msg;
    msg << "--" << name << " must be an integer in [" << min << ", " << max << "], got '" << text
        << "' (" << source(name) << ")";
    throw option_error(msg.str());
  }
  return *value;
}

double option_set::get_double(const std::string& name, double min, double max) const {
  auto text = get(name);
  char* end = nullptr;
  errno = 0;
  double value = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || *end != '\0' || !(value >= min && value <= max)) {
    std::ostringstream msg;
    msg << "--" << name << " must be a number in [" << min << ", " << max << "], got '" << text
        << "' (" << source(name) << ")";
    throw option_error(msg.str());
  }
  return value;
}

bool option_set::get_bool(const std::string& name) const {
  auto text = get(name);
  if (text == "1" || text == "true" || text == "yes" || text == "on")
    return true;
  if (text.empty() || text == "0" || text == "false" || text == "no" || text == "off")
    return false;
  throw option_error("--" + name + " must be true or false, got '" + text + "'");
}

std::vector<std::string> option_set::get_list(const std::string& name) const {
  std::vector<std::string> items;
  std::string item;
  for (char c : get(name) + ",") {
    if (c != ',') {
      item += c;
    } else if (!item.empty()) {
      items.push_back(item);
      item.clear();
    }
  }
  return items;
}

std::string option_set::help_text(const std::string& usage) const {
  std::ostringstream out;
  out << "Usage: " << usage
      << "\n\nOptions (each also read from the environment variable shown):\n";
  for (const auto& s : specs_) {
    out << "  --" << s.name << "=VALUE";
    if (!s.env.empty())
      out << "  [env " << s.env << "]";
    out << "\n      " << s.help;
    if (!s.default_value.empty())
      out << " (default: " << s.default_value << ")";
    out << "\n";
  }
  out << "  --help\n      Show this text and exit.\n";
  return out.str();
}

} // namespace imgproc
