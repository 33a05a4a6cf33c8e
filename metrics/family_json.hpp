#pragma once

// Inside metrics/ only: families as JSON, the form a worker node reports its metrics in over the
// actor link. Decoding is bounded (size, depth, families, series, labels, buckets) and checks
// names and bucket order: the text arrives from the network.

#include <prometheus/metric_family.h>
#include <string>
#include <vector>

namespace imgproc::metrics::detail {

std::string encode_json(const std::vector<prometheus::MetricFamily>& families);

/// Throws std::invalid_argument ("metrics JSON: ...") for anything malformed or over a bound.
std::vector<prometheus::MetricFamily> decode_json(const std::string& input);

} // namespace imgproc::metrics::detail
