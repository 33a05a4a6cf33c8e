#pragma once

// Inside metrics/ only: the actor_meter the registry hands out, one per actor kind, over the
// series of that kind in the caf_actor_* and caf_system_* families.

#include "metrics/metrics.hpp"

#include <memory>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace imgproc::metrics::detail {

/// One actor kind's series.
struct meter_series {
  prometheus::Histogram* processing_time;
  prometheus::Histogram* mailbox_time;
  prometheus::Gauge* mailbox_size;
  prometheus::Counter* processed;
  prometheus::Counter* failed;
  prometheus::Gauge* running;
  prometheus::Counter* rejected;
};

/// `keep` owns the families the series live in, should the meter outlive its registry.
std::shared_ptr<actor_meter> make_actor_meter(std::shared_ptr<prometheus::Registry> keep,
                                              meter_series series);

} // namespace imgproc::metrics::detail
