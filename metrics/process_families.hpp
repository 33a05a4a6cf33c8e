#pragma once

// Inside metrics/ only: the standard process_* families (CPU, resident memory, open descriptors,
// start time), read from /proc at each scrape.

#include <prometheus/metric_family.h>
#include <string>
#include <vector>

namespace imgproc::metrics::detail {

/// Appends this process's families, labelled with `node`; a value /proc does not give is left out.
void append_process_families(std::vector<prometheus::MetricFamily>& out, const std::string& node);

} // namespace imgproc::metrics::detail
