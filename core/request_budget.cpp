#include "core/request_budget.hpp"

#include "core/jpeg_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

namespace imgproc {
namespace {

/// What a step holds after it ran: an image of w x h x channels bytes, or encoded bytes / text.
struct planned_value {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  std::uint64_t channels = 3;
  std::uint64_t bytes = 0; ///< what the value itself takes
  bool is_image = false;
};

std::uint64_t image_bytes(std::uint64_t w, std::uint64_t h, std::uint64_t channels) {
  return w * h * channels;
}

planned_value image_of(std::uint64_t w, std::uint64_t h, std::uint64_t channels) {
  return {w, h, channels, image_bytes(w, h, channels), true};
}

/// One step's cost: its output, the bytes it holds while it runs besides its input and output
/// (a detector's pyramid), and a detector's work.
struct step_cost {
  planned_value output;
  std::uint64_t working_bytes = 0;
  std::uint64_t detector_work = 0;
};

using rule = std::function<step_cost(const nlohmann::json& params, const planned_value& in)>;

/// The pixels of an image pyramid whose level i is the image divided by scale^i, kept while a
/// window of window_w x window_h still fits, at most max_levels levels.
std::uint64_t pyramid_pixels(std::uint64_t w, std::uint64_t h, double scale, double window_w,
                             double window_h, int max_levels) {
  std::uint64_t total = 0;
  double factor = 1;
  for (int level = 0; level < max_levels; ++level, factor *= scale) {
    double lw = std::round(static_cast<double>(w) / factor);
    double lh = std::round(static_cast<double>(h) / factor);
    if (lw < window_w || lh < window_h)
      break;
    total += static_cast<std::uint64_t>(lw * lh);
  }
  return total;
}

step_cost same_size(const nlohmann::json&, const planned_value& in) {
  return {image_of(in.width, in.height, in.channels)};
}

/// Resizing to width x height, whatever the input.
step_cost to_size(const nlohmann::json& p, const planned_value& in) {
  return {image_of(p["width"].get<std::uint64_t>(), p["height"].get<std::uint64_t>(), in.channels)};
}

/// Encoded bytes: at most the raw image plus a quarter (JPEG at quality 100 of noise, PNG of
/// noise) and the format's headers.
step_cost encoded(const nlohmann::json&, const planned_value& in) {
  planned_value out;
  out.bytes = in.bytes + in.bytes / 4 + 65536;
  return {out};
}

const std::map<std::string, rule, std::less<>>& rules() {
  static const std::map<std::string, rule, std::less<>> table = {
      {"resize", to_size},
      {"letterbox", to_size},
      {"normalize", same_size},
      {"flip", same_size},
      {"gaussian_blur", same_size},
      {"encode_jpeg", encoded},
      {"encode", encoded},
      {"grayscale",
       [](const nlohmann::json& p, const planned_value& in) {
         return step_cost{image_of(in.width, in.height, p["keep_channels"].get<std::uint64_t>())};
       }},
      {"crop", // a view into its input: no new pixels
       [](const nlohmann::json& p, const planned_value& in) {
         auto w = std::min(p["width"].get<std::uint64_t>(), in.width);
         auto h = std::min(p["height"].get<std::uint64_t>(), in.height);
         auto out = image_of(w, h, in.channels);
         out.bytes = 0;
         return step_cost{out};
       }},
      {"rotate",
       [](const nlohmann::json& p, const planned_value& in) {
         bool turned = p["degrees"].get<int>() != 180;
         return step_cost{turned ? image_of(in.height, in.width, in.channels)
                                 : image_of(in.width, in.height, in.channels)};
       }},
      {"fit_within", // as preprocessor::fit_within sizes it
       [](const nlohmann::json& p, const planned_value& in) {
         auto width = p["width"].get<double>();
         auto height = p["height"].get<double>();
         double scale = std::min(width / static_cast<double>(in.width),
                                 height / static_cast<double>(in.height));
         if (!p["upscale"].get<bool>())
           scale = std::min(scale, 1.0);
         auto w = std::clamp(std::round(static_cast<double>(in.width) * scale), 1.0, width);
         auto h = std::clamp(std::round(static_cast<double>(in.height) * scale), 1.0, height);
         return step_cost{
             image_of(static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(h), in.channels)};
       }},
      {"base64",
       [](const nlohmann::json&, const planned_value& in) {
         planned_value out;
         out.bytes = (in.bytes + 2) / 3 * 4;
         return step_cost{out};
       }},
      {"detect", [](const nlohmann::json&, const planned_value&) { return step_cost{}; }},
      // HOG (OpenCV's HOGDescriptor::detectMultiScale): levels of the padded image while the
      // 64x128 window fits, at most 64 (its nlevels); one level at a time (cv::setNumThreads(0)),
      // each holding its resized copy and gradients (magnitude and angle, two floats and two
      // bytes per pixel) and the block histograms: about 24 bytes per pixel of the largest.
      {"detect_people",
       [](const nlohmann::json& p, const planned_value& in) {
         auto padding = 2 * p["padding"].get<std::uint64_t>();
         auto w = in.width + padding;
         auto h = in.height + padding;
         step_cost cost;
         cost.detector_work = pyramid_pixels(w, h, p["scale_factor"].get<double>(), 64, 128, 64);
         cost.working_bytes = cost.detector_work > 0 ? w * h * 24 : 0;
         return cost;
       }},
      // Cascades (cv::CascadeClassifier::detectMultiScale): the grey image, then every level of
      // the pyramid at once, each as an 8-bit copy and 32-bit integral images (sum and squared
      // sum for Haar): 9 bytes per pyramid pixel. The smallest cascade window shipped with OpenCV
      // is 20 pixels on its short side; a smaller one here overestimates, never under.
      {"detect_cascade",
       [](const nlohmann::json& p, const planned_value& in) {
         step_cost cost;
         cost.detector_work =
             pyramid_pixels(in.width, in.height, p["scale_factor"].get<double>(), 20, 20, 1000);
         cost.working_bytes = in.width * in.height + cost.detector_work * 9;
         return cost;
       }},
  };
  return table;
}

std::string mib(std::uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

} // namespace

bool has_budget_rule(std::string_view handler) {
  return handler == "decode_jpeg" || rules().count(handler) > 0;
}

result<budget_estimate> plan_budget(const pipeline_plan& plan, std::string_view upload,
                                    const budget_limits& limits) {
  budget_estimate estimate;
  planned_value value;
  value.bytes = upload.size(); // the upload stays until the decoder is done with it
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    const auto& handler = step.kind->handler;
    // Named only when refused: this runs for every request, twice (gateway and node).
    auto where = [&] { return "step " + std::to_string(i + 1) + " (" + handler + ")"; };
    step_cost cost;
    if (handler == "decode_jpeg") {
      auto header = read_jpeg_header(upload);
      if (!header)
        return estimate; // the decoder refuses it, naming itself, before anything else runs
      std::uint64_t w = header->width;
      std::uint64_t h = header->height;
      // A reduced decode may fall back to full size (an EXIF turn): the full size is the bound.
      if (jpeg_exif_orientation(upload) >= 5)
        std::swap(w, h);
      cost.output = image_of(w, h, 3);
    } else if (auto rule = rules().find(handler); rule != rules().end()) {
      if (!value.is_image && step.kind->input == value_kind::image)
        return make_failure(error_code::internal, where() + " takes an image the plan has not");
      cost = rule->second(step.params, value);
    } else {
      return make_failure(error_code::internal,
                          where() +
                              ": no budget rule for this step kind (core/request_budget.cpp)");
    }
    auto pixels = cost.output.width * cost.output.height;
    if (cost.output.is_image && pixels > limits.max_image_pixels)
      return make_failure(error_code::image_too_large,
                          where() + " would make a " + std::to_string(cost.output.width) + "x" +
                              std::to_string(cost.output.height) + " image, over the limit of " +
                              std::to_string(limits.max_image_pixels) +
                              " pixels (--max-image-pixels)");
    if (cost.detector_work > limits.max_detector_work)
      return make_failure(
          error_code::step_failed,
          where() + " would visit " + std::to_string(cost.detector_work) +
              " pixels over its image pyramid, over the limit of " +
              std::to_string(limits.max_detector_work) +
              " (--max-detector-work): make its image smaller first (fit_within) or its "
              "scale_factor larger");
    // While a step runs it holds its input (the upload, for the decoder) and its output.
    auto held = value.bytes + cost.output.bytes + cost.working_bytes;
    if (held > limits.max_request_bytes)
      return make_failure(error_code::image_too_large,
                          where() + " would hold " + mib(held) + " at once, over the limit of " +
                              mib(limits.max_request_bytes) + " (--max-request-bytes)");
    estimate.peak_bytes = std::max(estimate.peak_bytes, held);
    estimate.largest_image_pixels = std::max(estimate.largest_image_pixels, pixels);
    estimate.detector_work = std::max(estimate.detector_work, cost.detector_work);
    value = cost.output; // a detector's or the ML call's result is a few numbers: nothing
  }
  return estimate;
}

} // namespace imgproc
