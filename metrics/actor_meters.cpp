#include "metrics/actor_meters.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>

namespace imgproc::metrics::detail {
namespace {

using steady = std::chrono::steady_clock;

/// Send stamps kept per actor kind: a message that is never handled (lost, or its handler forgot
/// begin(true)) must not grow memory forever. Past the cap the oldest stamp is dropped.
constexpr std::size_t max_stamps = 100000;

double seconds_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

class meter final : public actor_meter {
public:
  meter(std::shared_ptr<prometheus::Registry> keep, meter_series p)
      : keep_(std::move(keep)), p_(p) {}

  void sent() override {
    const auto now = steady::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stamps_.size() >= max_stamps) {
      stamps_.pop_front();
    }
    stamps_.push_back(now);
    p_.mailbox_size->Set(static_cast<double>(stamps_.size()));
  }

  steady::time_point begin(bool stamped) override {
    const auto now = steady::now();
    if (!stamped) {
      return now;
    }
    std::optional<steady::time_point> sent_at;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!stamps_.empty()) {
        sent_at = stamps_.front();
        stamps_.pop_front();
        p_.mailbox_size->Set(static_cast<double>(stamps_.size()));
      }
    }
    if (sent_at) {
      p_.mailbox_time->Observe(std::max(0.0, seconds_between(*sent_at, now)));
    }
    return now;
  }

  void handled(steady::time_point start, bool failed) override {
    p_.processing_time->Observe(std::max(0.0, seconds_between(start, steady::now())));
    p_.processed->Increment();
    if (failed) {
      p_.failed->Increment();
    }
  }

  void actor_started() override {
    std::lock_guard<std::mutex> lock(mutex_);
    p_.running->Increment();
  }

  void actor_stopped() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (p_.running->Value() >= 1) {
      p_.running->Decrement();
    }
  }

  void rejected() override { p_.rejected->Increment(); }

private:
  std::shared_ptr<prometheus::Registry> keep_;
  meter_series p_;
  std::mutex mutex_;
  std::deque<steady::time_point> stamps_;
};

} // namespace

std::shared_ptr<actor_meter> make_actor_meter(std::shared_ptr<prometheus::Registry> keep,
                                              meter_series series) {
  return std::make_shared<meter>(std::move(keep), series);
}

} // namespace imgproc::metrics::detail
