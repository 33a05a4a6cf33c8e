#pragma once

// Inside metrics/ only: one scrape out of this process's families and the nodes' reports.

#include <prometheus/metric_family.h>
#include <string>
#include <vector>

namespace imgproc::metrics::detail {

/// Families with the same name become one (first HELP and TYPE win); a family whose type differs
/// from the first one's cannot be merged and is dropped, as is a series already present.
std::vector<prometheus::MetricFamily> merge(std::vector<prometheus::MetricFamily> families);

/// TextSerializer writes HELP verbatim: a backslash or a line break would corrupt the text.
std::string escape_help(const std::string& help);

} // namespace imgproc::metrics::detail
