#include "db/outage_log.hpp"

#include "common/log.hpp"
#include "db/connection.hpp"

#include <cstdio>

namespace imgproc::db {

bool outage_log::failed(const std::string& what, const std::string& error) {
  auto text = one_line(error);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!down_.load(std::memory_order_relaxed)) {
    down_.store(true, std::memory_order_release);
    failures_ = 1;
    since_ = std::chrono::steady_clock::now();
    last_error_ = text;
    log::error(component_, "database unavailable (" + text + "), noticed while " + what +
                               "; what needs it answers 503 until it answers again (further "
                               "failures are logged at debug level)");
    return true;
  }
  ++failures_;
  if (text != last_error_) {
    last_error_ = text;
    log::warning(component_, "database still unavailable, now: " + text);
    return true;
  }
  log::debug(component_, what + " failed: " + text);
  return false;
}

bool outage_log::succeeded() {
  if (!down_.load(std::memory_order_acquire))
    return false;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!down_.load(std::memory_order_relaxed))
    return false; // another thread logged the end of this outage
  down_.store(false, std::memory_order_release);
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count());
  log::info(component_, "database answers again, after " + std::to_string(failures_) +
                            " failed call(s) in " + seconds + " s");
  return true;
}

outage_log& outage_log::process() {
  static outage_log shared{"db"};
  return shared;
}

} // namespace imgproc::db
