#pragma once

// What a request will cost, known before any of its work starts: from the pipeline's steps and
// the upload's JPEG header alone, every image a step will produce is sized, the bytes the request
// holds at once are added up, and a local detector's work (the pixels of its image pyramid) is
// counted. A request over a limit is refused at once, naming the step, instead of being found out
// after gigabytes were allocated: a 73 KB photo fitted into 16384x16384 and given to a cascade
// detector once took 9 GB.
//
// The figures are upper estimates of what OpenCV allocates (see request_budget.cpp for each
// step's rule), not measurements; a step kind without a rule is refused, so that a new step
// cannot slip past the budget (tests/core/request_budget_test.cpp checks every registered kind).

#include "core/errors.hpp"
#include "core/pipeline_plan.hpp"

#include <cstdint>
#include <string_view>

namespace imgproc {

struct budget_limits {
  /// Largest image any step may produce, width x height (the upload's own limit, by default).
  std::uint64_t max_image_pixels = 50'000'000;
  /// Most bytes one request may hold at once: the upload, a step's input and output images, a
  /// detector's pyramid.
  std::uint64_t max_request_bytes = 512ull << 20;
  /// Most pixels a local detector may visit over its image pyramid (every level's pixels): about
  /// 1-4 s of one core.
  std::uint64_t max_detector_work = 100'000'000;
};

struct budget_estimate {
  std::uint64_t peak_bytes = 0;           ///< the most the request holds at once
  std::uint64_t largest_image_pixels = 0; ///< of any image, uploaded or produced
  std::uint64_t detector_work = 0;        ///< the largest of any local detector step
};

/// Plans `plan` on `upload` (JPEG bytes: only the header and EXIF are read) against `limits`.
/// Fails with image_too_large (413) when an image or the bytes held are over their limit and with
/// step_failed (422) when a detector's work is, the detail naming the step and what to change;
/// an upload whose header cannot be read is not planned past the decoder, which refuses it.
result<budget_estimate> plan_budget(const pipeline_plan& plan, std::string_view upload,
                                    const budget_limits& limits);

/// Whether plan_budget() knows how to size `handler`'s output.
bool has_budget_rule(std::string_view handler);

} // namespace imgproc
