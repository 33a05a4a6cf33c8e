#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>
#include <unistd.h>

namespace imgproc::log {
namespace {

std::atomic<level> min_level{level::info};

const char* name(level lvl) {
  switch (lvl) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warning:
      return "warning";
    case level::error:
      return "error";
  }
  return "?";
}

} // namespace

void set_min_level(level min) {
  min_level = min;
}

bool parse_level(std::string_view text, level& out) {
  for (auto lvl : {level::debug, level::info, level::warning, level::error})
    if (text == name(lvl)) {
      out = lvl;
      return true;
    }
  return false;
}

void write(level lvl, std::string_view component, std::string_view message) {
  if (lvl < min_level.load(std::memory_order_relaxed))
    return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[40];
  auto len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + len, sizeof stamp - len, ".%03dZ", static_cast<int>(millis));
  std::string line;
  line.reserve(64 + message.size());
  line.append(stamp).append(" ").append(name(lvl)).append(" ");
  line.append(component).append(": ").append(message).append("\n");
  // A short write on stderr is not worth retrying: logging must never block the request path.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace imgproc::log
