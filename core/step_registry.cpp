#include "core/step_registry.hpp"

#include "common/base64.hpp"
#include "core/detector_client.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/object_detectors.hpp"
#include "core/preprocessor.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace imgproc {

const char* to_string(stage_kind kind) {
  switch (kind) {
    case stage_kind::decode:
      return "decode";
    case stage_kind::transform:
      return "transform";
    case stage_kind::detect:
      return "detect";
    case stage_kind::local_detect:
      return "local_detect";
  }
  return "?";
}

const char* to_string(param_type type) {
  switch (type) {
    case param_type::integer:
      return "integer";
    case param_type::number:
      return "number";
    case param_type::string:
      return "string";
    case param_type::boolean:
      return "boolean";
  }
  return "?";
}

void step_registry::add(step_kind kind) {
  if (find(kind.handler))
    throw std::logic_error("step handler registered twice: " + kind.handler);
  kinds_.push_back(std::make_unique<step_kind>(std::move(kind)));
}

const step_kind* step_registry::find(std::string_view handler) const {
  for (const auto& kind : kinds_)
    if (kind->handler == handler)
      return kind.get();
  return nullptr;
}

std::vector<const step_kind*> step_registry::kinds() const {
  std::vector<const step_kind*> out;
  for (const auto& kind : kinds_)
    out.push_back(kind.get());
  return out;
}

namespace {

std::string describe_bounds(const param_spec& spec) {
  std::ostringstream out;
  out << "[" << spec.min << ", " << spec.max << "]";
  return out.str();
}

failure param_failure(const param_spec& spec, const std::string& what) {
  return make_failure(error_code::invalid_pipeline, "parameter '" + spec.name + "' " + what);
}

/// 90 rather than 90.0 for whole numbers, so that messages read as the pipeline was written.
std::string number_text(double v) {
  if (std::floor(v) == v && std::abs(v) < 1e15)
    return std::to_string(static_cast<std::int64_t>(v));
  std::ostringstream out;
  out << v;
  return out.str();
}

/// The checks integers and numbers share besides their bounds: the allowed list, then oddness.
status check_number(const param_spec& spec, double v, const nlohmann::json& given) {
  if (!spec.allowed_numbers.empty()) {
    bool allowed = false;
    for (double choice : spec.allowed_numbers)
      allowed = allowed || choice == v;
    if (!allowed) {
      std::string list;
      for (double choice : spec.allowed_numbers)
        list += (list.empty() ? "" : ", ") + number_text(choice);
      return param_failure(spec, "must be one of " + list + ", got " + given.dump());
    }
  }
  if (spec.odd && std::fmod(v, 2) == 0)
    return param_failure(spec, "must be odd, got " + given.dump());
  return std::nullopt;
}

} // namespace

result<nlohmann::json> validate_params(const step_kind& kind, const nlohmann::json& given) {
  if (!given.is_null() && !given.is_object())
    return make_failure(error_code::invalid_pipeline, "parameters must be a JSON object");
  nlohmann::json out = nlohmann::json::object();
  if (given.is_object()) {
    for (const auto& item : given.items()) {
      bool known = false;
      for (const auto& spec : kind.params)
        known = known || spec.name == item.key();
      if (!known)
        return make_failure(error_code::invalid_pipeline, "unknown parameter '" + item.key() + "'");
    }
  }
  for (const auto& spec : kind.params) {
    nlohmann::json value =
        given.is_object() && given.contains(spec.name) ? given[spec.name] : spec.default_value;
    if (value.is_null())
      return param_failure(spec, "is required");
    switch (spec.type) {
      case param_type::integer: {
        bool integral =
            value.is_number_integer() ||
            (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
        if (!integral)
          return param_failure(spec, "must be an integer");
        auto v = value.get<double>();
        // Choices first: "one of 90, 180, 270" says more than the bounds they imply.
        if (auto err = check_number(spec, v, value))
          return *err;
        if (v < spec.min || v > spec.max)
          return param_failure(spec,
                               "must be in " + describe_bounds(spec) + ", got " + value.dump());
        value = static_cast<std::int64_t>(v);
        break;
      }
      case param_type::number: {
        if (!value.is_number())
          return param_failure(spec, "must be a number");
        auto v = value.get<double>();
        if (auto err = check_number(spec, v, value))
          return *err;
        if (!std::isfinite(v) || v < spec.min || v > spec.max)
          return param_failure(spec,
                               "must be in " + describe_bounds(spec) + ", got " + value.dump());
        break;
      }
      case param_type::string: {
        if (!value.is_string())
          return param_failure(spec, "must be a string");
        // PostgreSQL cannot store a NUL in text or jsonb: refused here, not as a failed write.
        if (value.get<std::string>().find('\0') != std::string::npos)
          return param_failure(spec, "must not contain a NUL character");
        if (!spec.choices.empty()) {
          bool allowed = false;
          for (const auto& choice : spec.choices)
            allowed = allowed || choice == value.get<std::string>();
          if (!allowed) {
            std::string list;
            for (const auto& choice : spec.choices)
              list += (list.empty() ? "" : ", ") + choice;
            return param_failure(spec, "must be one of " + list + ", got " + value.dump());
          }
        }
        if (spec.check)
          if (auto refused = spec.check(value.get<std::string>()))
            return param_failure(spec, "is refused: " + *refused);
        break;
      }
      case param_type::boolean:
        if (!value.is_boolean())
          return param_failure(spec, "must be true or false");
        break;
    }
    out[spec.name] = value;
  }
  return out;
}

namespace {

param_spec integer_param(std::string name, nlohmann::json def, double min, double max,
                         std::string help) {
  param_spec spec;
  spec.name = std::move(name);
  spec.type = param_type::integer;
  spec.default_value = std::move(def);
  spec.min = min;
  spec.max = max;
  spec.help = std::move(help);
  return spec;
}

param_spec number_param(std::string name, nlohmann::json def, double min, double max,
                        std::string help) {
  auto spec = integer_param(std::move(name), std::move(def), min, max, std::move(help));
  spec.type = param_type::number;
  return spec;
}

/// An integer limited to a few values (rotate's degrees): `allowed` must lie in [min, max].
param_spec integer_choice_param(std::string name, nlohmann::json def, std::vector<double> allowed,
                                std::string help) {
  auto spec = integer_param(std::move(name), std::move(def), allowed.front(), allowed.back(),
                            std::move(help));
  spec.allowed_numbers = std::move(allowed);
  return spec;
}

param_spec string_param(std::string name, nlohmann::json def, std::vector<std::string> choices,
                        std::string help) {
  param_spec spec;
  spec.name = std::move(name);
  spec.type = param_type::string;
  spec.default_value = std::move(def);
  spec.choices = std::move(choices);
  spec.help = std::move(help);
  return spec;
}

param_spec boolean_param(std::string name, bool def, std::string help) {
  param_spec spec;
  spec.name = std::move(name);
  spec.type = param_type::boolean;
  spec.default_value = def;
  spec.help = std::move(help);
  return spec;
}

/// Moves a step's output image into the payload, or passes its failure on.
status store_image(result<cv::Mat> out, payload& data) {
  if (!out)
    return out.error();
  data.image = std::move(out.value());
  data.kind = value_kind::image;
  return std::nullopt;
}

/// Records what an encode step produced: the image is released, the output is described later.
void store_encoded(const char* format, payload& data) {
  data.format = format;
  data.encoded_width = data.image.cols;
  data.encoded_height = data.image.rows;
  data.image.release();
  data.kind = value_kind::encoded_bytes;
}

constexpr double max_side = 16384;

/// The upload's full-scale size, for detectors that map their boxes back to it: the decoded
/// image's, or after a reduced decode the declared one (sides swapped when EXIF turns it).
void record_input_size(payload& data, const cv::Mat& decoded, jpeg_reduce_target target) {
  data.input_width = decoded.cols;
  data.input_height = decoded.rows;
  if (!target.enabled())
    return;
  if (auto header = read_jpeg_header(data.bytes)) {
    bool turned = jpeg_exif_orientation(data.bytes) >= 5; // 5-8 swap width and height
    data.input_width = turned ? header->height : header->width;
    data.input_height = turned ? header->width : header->height;
  }
}

/// The parameters every local detector shares: box sizes, confidence, class id, count and
/// where the boxes are given.
std::vector<param_spec> box_params(double min_confidence) {
  return {integer_param("min_width", 0, 0, max_side, "smallest box width to report; 0: no limit"),
          integer_param("min_height", 0, 0, max_side, "smallest box height to report; 0: no limit"),
          integer_param("max_width", 0, 0, max_side, "largest box width to report; 0: no limit"),
          integer_param("max_height", 0, 0, max_side, "largest box height to report; 0: no limit"),
          number_param("min_confidence", min_confidence, 0, 1,
                       "boxes under this confidence are dropped (see the step's description)"),
          integer_param("class_id", 0, 0, 1000, "the class id every box reports"),
          integer_param("max_boxes", 50, 1, 1000, "the most boxes to report, most confident first"),
          boolean_param("scale_to_input", false,
                        "give the boxes in the uploaded image's coordinates (by the ratio of the "
                        "sizes: right after resize and fit_within, not after crop, letterbox or "
                        "rotate) instead of the frame the detector saw")};
}

box_filter read_box_filter(const nlohmann::json& p) {
  box_filter filter;
  filter.min_width = p["min_width"].get<int>();
  filter.min_height = p["min_height"].get<int>();
  filter.max_width = p["max_width"].get<int>();
  filter.max_height = p["max_height"].get<int>();
  filter.min_confidence = p["min_confidence"].get<double>();
  filter.class_id = p["class_id"].get<int>();
  filter.max_boxes = p["max_boxes"].get<int>();
  return filter;
}

/// Stores a detector's boxes as the payload's output, mapped to the upload when asked.
status store_boxes(result<std::vector<detection>> found, bool scale_to_input, payload& data) {
  if (!found)
    return found.error();
  data.boxes = std::move(found.value());
  if (scale_to_input)
    scale_boxes(data.boxes, data.image.size(), {data.input_width, data.input_height});
  data.image.release();
  data.kind = value_kind::detections;
  return std::nullopt;
}

/// The detect step's `url`: checked against the allow-list when a pipeline is saved.
param_spec ml_url_param(const step_checks& checks) {
  auto spec = string_param("url", "", {},
                           "ML endpoint; empty means the service's --ml-url, otherwise it must be "
                           "--ml-url or within one of --ml-allowed-urls");
  spec.check = checks.ml_url;
  return spec;
}

} // namespace

void register_default_steps(step_registry& registry,
                            std::shared_ptr<const cascade_library> cascades, step_checks checks) {
  if (!cascades)
    cascades = cascade_library::installed();
  registry.add({"decode_jpeg",
                "Decode JPEG",
                "Decodes the uploaded bytes in place to an 8-bit BGR image (libjpeg-turbo, "
                "pixel for pixel what cv::imdecode gives); the declared dimensions are checked "
                "first. With reduce_to_width or reduce_to_height set, libjpeg decodes at 1/2, 1/4 "
                "or 1/8 scale when both decoded sides stay at least that large (cheaper for a "
                "later downscale). Damaged data (ending early, a corrupt segment) is refused "
                "with 422 naming the defect unless corrupt_data is accept.",
                stage_kind::decode,
                value_kind::jpeg_bytes,
                value_kind::image,
                {integer_param("reduce_to_width", 0, 0, max_side,
                               "decode at reduced scale (1/2, 1/4, 1/8) while the decoded width "
                               "stays >= this; 0: no constraint (both 0: full-size decode)"),
                 integer_param("reduce_to_height", 0, 0, max_side,
                               "decode at reduced scale (1/2, 1/4, 1/8) while the decoded height "
                               "stays >= this; 0: no constraint (both 0: full-size decode)"),
                 string_param("corrupt_data", "refuse", {"refuse", "accept"},
                              "a JPEG libjpeg finds damaged: refuse it (422 naming the defect), "
                              "or accept what decodes, the missing part grey (as cv::imdecode)")},
                [](const nlohmann::json& p) -> step_fn {
                  jpeg_reduce_target target{p["reduce_to_width"].get<int>(),
                                            p["reduce_to_height"].get<int>()};
                  auto damaged = p["corrupt_data"].get<std::string>() == "accept"
                                     ? corrupt_data::accept
                                     : corrupt_data::refuse;
                  return [target, damaged](stage_resources& res, payload& data) -> status {
                    auto image = res.decoder->decode(data.bytes, target, damaged, data.stop());
                    if (!image)
                      return image.error();
                    record_input_size(data, image.value(), target);
                    data.image = std::move(image.value());
                    data.kind = value_kind::image;
                    data.bytes = {};
                    data.owner.reset(); // the upload is no longer needed
                    return std::nullopt;
                  };
                }});

  registry.add({"resize",
                "Resize",
                "Resizes the image to exactly width x height (cv::resize).",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {integer_param("width", 640, 1, max_side, "target width in pixels"),
                 integer_param("height", 640, 1, max_side, "target height in pixels"),
                 string_param("interpolation", "linear", {"nearest", "linear", "area", "cubic"},
                              "cv::resize interpolation")},
                [](const nlohmann::json& p) -> step_fn {
                  int width = p["width"].get<int>();
                  int height = p["height"].get<int>();
                  interpolation how = interpolation::linear;
                  parse_interpolation(p["interpolation"].get<std::string>(), how);
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->resize(data.image, width, height, how), data);
                  };
                }});

  registry.add({"normalize",
                "Normalize",
                "Stretches pixel values to [alpha, beta] (cv::normalize, NORM_MINMAX, 8-bit).",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {number_param("alpha", 0, 0, 255, "lower bound of the output range"),
                 number_param("beta", 255, 0, 255, "upper bound of the output range")},
                [](const nlohmann::json& p) -> step_fn {
                  double alpha = p["alpha"].get<double>();
                  double beta = p["beta"].get<double>();
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->normalize(data.image, alpha, beta), data);
                  };
                }});

  registry.add({"encode_jpeg",
                "Encode JPEG",
                "Encodes the image as JPEG bytes (cv::imencode).",
                stage_kind::transform,
                value_kind::image,
                value_kind::encoded_bytes,
                {integer_param("quality", 95, 1, 100, "JPEG quality")},
                [](const nlohmann::json& p) -> step_fn {
                  int quality = p["quality"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    if (auto err = res.images->encode_jpeg(data.image, quality, data.text))
                      return err;
                    store_encoded("jpeg", data);
                    return std::nullopt;
                  };
                }});

  registry.add({"base64",
                "Base64 encode",
                "Encodes bytes as base64 text for the ML service.",
                stage_kind::transform,
                value_kind::encoded_bytes,
                value_kind::base64_text,
                {},
                [](const nlohmann::json&) -> step_fn {
                  return [](stage_resources&, payload& data) -> status {
                    std::string text;
                    text.reserve((data.text.size() + 2) / 3 * 4);
                    base64_encode(data.text, text);
                    data.text = std::move(text);
                    data.kind = value_kind::base64_text;
                    return std::nullopt;
                  };
                }});

  registry.add(
      {"detect",
       "ML detection",
       "Sends the base64 image to the ML service and keeps the box it finds.",
       stage_kind::detect,
       value_kind::base64_text,
       value_kind::detection,
       {ml_url_param(checks),
        integer_param("timeout_ms", 0, 0, 60000,
                      "timeout of one ML call; 0 means the service's --ml-timeout-ms"),
        number_param("min_confidence", 0, 0, 1, "boxes below this confidence count as not found")},
       [](const nlohmann::json& p) -> step_fn {
         std::string url = p["url"].get<std::string>();
         std::chrono::milliseconds timeout{p["timeout_ms"].get<int>()};
         double min_confidence = p["min_confidence"].get<double>();
         return [=](stage_resources& res, payload& data) -> status {
           // The step's own timeout, or the settings' one, for each attempt. The client cuts
           // each one to the time left and answers deadline_exceeded (504) when the request's
           // deadline, not the ML service's slowness, is what ran out.
           auto limit = timeout.count() > 0 ? timeout : res.detector->settings().timeout;
           auto found = res.detector->detect(data.text, url, limit, data.deadline);
           if (!found)
             return found.error();
           data.found = *found;
           if (data.found && data.found->confidence < min_confidence)
             data.found.reset();
           data.text.clear();
           data.kind = value_kind::detection;
           return std::nullopt;
         };
       }});

  // Steps for pipelines other than car detection. Each is image -> image except encode; all run
  // on the preprocessor (stage transform) and fail with step_failed when they cannot apply.

  registry.add({"grayscale",
                "Grayscale",
                "Converts to one 8-bit gray channel (cv::cvtColor); keep_channels 3 converts the "
                "gray image back to BGR for consumers that expect three channels.",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {integer_choice_param("keep_channels", 1, {1, 3},
                                      "channels of the output: 1 (gray) or 3 (gray as BGR)")},
                [](const nlohmann::json& p) -> step_fn {
                  int keep_channels = p["keep_channels"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->grayscale(data.image, keep_channels), data);
                  };
                }});

  registry.add({"crop",
                "Crop",
                "Keeps the rectangle width x height at (x, y), without copying; fails with "
                "step_failed when the rectangle is not fully inside the image.",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {integer_param("x", 0, 0, max_side - 1, "left edge in pixels"),
                 integer_param("y", 0, 0, max_side - 1, "top edge in pixels"),
                 integer_param("width", nullptr, 1, max_side, "width in pixels"),
                 integer_param("height", nullptr, 1, max_side, "height in pixels")},
                [](const nlohmann::json& p) -> step_fn {
                  int x = p["x"].get<int>();
                  int y = p["y"].get<int>();
                  int width = p["width"].get<int>();
                  int height = p["height"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->crop(data.image, x, y, width, height), data);
                  };
                }});

  registry.add(
      {"letterbox",
       "Letterbox",
       "Scales the image to fit width x height keeping its aspect ratio and pads the "
       "rest with a constant gray, the image centred (YOLO's preprocessing).",
       stage_kind::transform,
       value_kind::image,
       value_kind::image,
       {integer_param("width", 640, 1, max_side, "target width in pixels"),
        integer_param("height", 640, 1, max_side, "target height in pixels"),
        integer_param("color", 114, 0, 255, "padding value on every channel; 114 as YOLO uses")},
       [](const nlohmann::json& p) -> step_fn {
         int width = p["width"].get<int>();
         int height = p["height"].get<int>();
         int color = p["color"].get<int>();
         return [=](stage_resources& res, payload& data) -> status {
           return store_image(res.images->letterbox(data.image, width, height, color), data);
         };
       }});

  registry.add({"fit_within",
                "Fit within",
                "Scales the image to fit inside width x height keeping its aspect ratio, without "
                "padding (cv::resize); a smaller image is kept as it is unless upscale. What a "
                "detector needs: its boxes then map back to the upload by one ratio.",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {integer_param("width", 640, 1, max_side, "largest width in pixels"),
                 integer_param("height", 640, 1, max_side, "largest height in pixels"),
                 boolean_param("upscale", false, "also enlarge an image smaller than the box"),
                 string_param("interpolation", "area", {"nearest", "linear", "area", "cubic"},
                              "cv::resize interpolation; area suits downscaling")},
                [](const nlohmann::json& p) -> step_fn {
                  int width = p["width"].get<int>();
                  int height = p["height"].get<int>();
                  bool upscale = p["upscale"].get<bool>();
                  interpolation how = interpolation::area;
                  parse_interpolation(p["interpolation"].get<std::string>(), how);
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(
                        res.images->fit_within(data.image, width, height, upscale, how), data);
                  };
                }});

  registry.add({"flip",
                "Flip",
                "Mirrors the image (cv::flip).",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {string_param("mode", "horizontal", {"horizontal", "vertical", "both"},
                              "horizontal mirrors left-right, vertical upside down, both "
                              "does both (a 180 degree turn)")},
                [](const nlohmann::json& p) -> step_fn {
                  flip_mode mode = flip_mode::horizontal;
                  parse_flip_mode(p["mode"].get<std::string>(), mode);
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->flip(data.image, mode), data);
                  };
                }});

  registry.add({"rotate",
                "Rotate",
                "Rotates the image clockwise by 90, 180 or 270 degrees (cv::rotate: exact, no "
                "interpolation).",
                stage_kind::transform,
                value_kind::image,
                value_kind::image,
                {integer_choice_param("degrees", nullptr, {90, 180, 270},
                                      "clockwise angle: 90, 180 or 270")},
                [](const nlohmann::json& p) -> step_fn {
                  int degrees = p["degrees"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->rotate(data.image, degrees), data);
                  };
                }});

  {
    auto kernel_spec = integer_param("kernel", 5, 1, 99, "window side in pixels; must be odd");
    kernel_spec.odd = true; // cv::GaussianBlur asserts on even sizes: refuse them at plan time
    registry.add(
        {"gaussian_blur",
         "Gaussian blur",
         "Smooths the image (cv::GaussianBlur).",
         stage_kind::transform,
         value_kind::image,
         value_kind::image,
         {kernel_spec,
          number_param("sigma", 0, 0, 100, "standard deviation; 0 derives it from the kernel")},
         [](const nlohmann::json& p) -> step_fn {
           int kernel = p["kernel"].get<int>();
           double sigma = p["sigma"].get<double>();
           return [=](stage_resources& res, payload& data) -> status {
             return store_image(res.images->gaussian_blur(data.image, kernel, sigma), data);
           };
         }});
  }

  // A separate png_compression rather than mapping quality onto PNG levels: PNG is lossless, so
  // "quality" would silently mean size-versus-speed, and each parameter keeps its own bounds.
  registry.add({"encode",
                "Encode image",
                "Encodes the image as JPEG or PNG bytes (cv::imencode); the format and size are "
                "recorded for the task's output.",
                stage_kind::transform,
                value_kind::image,
                value_kind::encoded_bytes,
                {string_param("format", "jpeg", {"jpeg", "png"}, "output format"),
                 integer_param("quality", 95, 1, 100, "JPEG quality; ignored for PNG"),
                 integer_param("png_compression", 3, 0, 9,
                               "PNG compression level (9 smallest, slowest); ignored for JPEG")},
                [](const nlohmann::json& p) -> step_fn {
                  image_format format = image_format::jpeg;
                  parse_image_format(p["format"].get<std::string>(), format);
                  int level = format == image_format::png ? p["png_compression"].get<int>()
                                                          : p["quality"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    if (auto err = res.images->encode(data.image, format, level, data.text))
                      return err;
                    store_encoded(to_string(format), data);
                    return std::nullopt;
                  };
                }});

  // Local detectors (core/object_detectors): image -> detections, run by the local detector
  // actors. The box parameters and the output shape are the same for every detector.
  {
    auto params = std::vector<param_spec>{
        number_param("scale_factor", 1.05, 1.01, 2, "size ratio between the pyramid's levels"),
        integer_param("min_neighbors", 2, 0, 50,
                      "raw hits a box needs (HOG's group threshold); 0 keeps every hit"),
        integer_choice_param("win_stride", 8, {4, 8, 16},
                             "pixels between windows: 4 finds more, 16 is faster"),
        integer_param("padding", 16, 0, 64,
                      "pixels added around the image, to find people cut by its edges")};
    for (auto& spec : box_params(0.5))
      params.push_back(std::move(spec));
    registry.add(
        {"detect_people", "People (HOG)",
         "Finds standing people with OpenCV's HOG descriptor and its default people SVM (no "
         "model file needed); the window is 64x128, so a person needs about 100 pixels of "
         "height. Answers every box, best first: confidence is the logistic of the SVM score "
         "(0.5 at the SVM's boundary, never less), not a probability.",
         stage_kind::local_detect, value_kind::image, value_kind::detections, std::move(params),
         [](const nlohmann::json& p) -> step_fn {
           people_settings settings;
           settings.scale_factor = p["scale_factor"].get<double>();
           settings.min_neighbors = p["min_neighbors"].get<int>();
           settings.win_stride = p["win_stride"].get<int>();
           settings.padding = p["padding"].get<int>();
           settings.boxes = read_box_filter(p);
           bool scale_to_input = p["scale_to_input"].get<bool>();
           return [=](stage_resources& res, payload& data) -> status {
             return store_boxes(res.objects->people(data.image, settings, data.stop()),
                                scale_to_input, data);
           };
         }});
  }

  if (!cascades->names().empty()) {
    auto params = std::vector<param_spec>{
        string_param("cascade", nullptr, cascades->names(),
                     "the cascade, by file name: e.g. haarcascade_frontalface_default, "
                     "haarcascade_fullbody, haarcascade_russian_plate_number, "
                     "haarcascade_licence_plate_rus_16stages"),
        number_param("scale_factor", 1.1, 1.01, 2, "size ratio between the pyramid's levels"),
        integer_param("min_neighbors", 3, 0, 50,
                      "raw hits a box needs; more drops false boxes, fewer finds more")};
    for (auto& spec : box_params(0))
      params.push_back(std::move(spec));
    registry.add(
        {"detect_cascade", "Cascade detector (Haar/LBP)",
         "Finds objects with one of the Haar or LBP cascades installed with OpenCV's data "
         "(faces, bodies, number plates). The image is read in grey. Answers every box, best "
         "first: confidence is n / (n + 1) for the n raw hits merged into the box, not a "
         "probability. min_width/min_height and max_width/max_height also bound the search.",
         stage_kind::local_detect, value_kind::image, value_kind::detections, std::move(params),
         [](const nlohmann::json& p) -> step_fn {
           cascade_settings settings;
           settings.cascade = p["cascade"].get<std::string>();
           settings.scale_factor = p["scale_factor"].get<double>();
           settings.min_neighbors = p["min_neighbors"].get<int>();
           settings.boxes = read_box_filter(p);
           bool scale_to_input = p["scale_to_input"].get<bool>();
           return [=](stage_resources& res, payload& data) -> status {
             return store_boxes(res.objects->cascade(data.image, settings), scale_to_input, data);
           };
         }});
  }
}

} // namespace imgproc
