#pragma once

// One line per event on stderr: timestamp, level, component, message. Each line is written with a
// single write call so lines from different threads never interleave.

#include <string_view>

namespace imgproc::log {

enum class level { debug, info, warning, error };

void set_min_level(level min);
bool parse_level(std::string_view text, level& out);
void write(level lvl, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) {
  write(level::debug, c, m);
}
inline void info(std::string_view c, std::string_view m) {
  write(level::info, c, m);
}
inline void warning(std::string_view c, std::string_view m) {
  write(level::warning, c, m);
}
inline void error(std::string_view c, std::string_view m) {
  write(level::error, c, m);
}

} // namespace imgproc::log
