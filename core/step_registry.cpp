#include "core/step_registry.hpp"

#include "common/base64.hpp"
#include "core/detector_client.hpp"
#include "core/jpeg_decoder.hpp"
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
        return make_failure(error_code::invalid_pipeline,
                            "unknown parameter '" + item.key() + "'");
    }
  }
  for (const auto& spec : kind.params) {
    nlohmann::json value =
        given.is_object() && given.contains(spec.name) ? given[spec.name] : spec.default_value;
    if (value.is_null())
      return param_failure(spec, "is required");
    switch (spec.type) {
      case param_type::integer: {
        bool integral = value.is_number_integer() ||
                        (value.is_number_float() && std::floor(value.get<double>()) ==
                                                        value.get<double>());
        if (!integral)
          return param_failure(spec, "must be an integer");
        auto v = value.get<double>();
        if (v < spec.min || v > spec.max)
          return param_failure(spec, "must be in " + describe_bounds(spec) + ", got " +
                                         value.dump());
        value = static_cast<std::int64_t>(v);
        break;
      }
      case param_type::number: {
        if (!value.is_number())
          return param_failure(spec, "must be a number");
        auto v = value.get<double>();
        if (!std::isfinite(v) || v < spec.min || v > spec.max)
          return param_failure(spec, "must be in " + describe_bounds(spec) + ", got " +
                                         value.dump());
        break;
      }
      case param_type::string: {
        if (!value.is_string())
          return param_failure(spec, "must be a string");
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
        break;
      }
    }
    out[spec.name] = value;
  }
  return out;
}

namespace {

param_spec integer_param(std::string name, nlohmann::json def, double min, double max,
                         std::string help) {
  return param_spec{std::move(name), param_type::integer, std::move(def), min, max, {},
                    std::move(help)};
}

param_spec number_param(std::string name, nlohmann::json def, double min, double max,
                        std::string help) {
  return param_spec{std::move(name), param_type::number, std::move(def), min, max, {},
                    std::move(help)};
}

param_spec string_param(std::string name, nlohmann::json def, std::vector<std::string> choices,
                        std::string help) {
  return param_spec{std::move(name), param_type::string, std::move(def), 0, 0, std::move(choices),
                    std::move(help)};
}

/// Moves a step's output image into the payload, or passes its failure on.
status store_image(result<cv::Mat> out, payload& data) {
  if (!out)
    return out.error();
  data.image = std::move(out.value());
  data.kind = value_kind::image;
  return std::nullopt;
}

constexpr double max_side = 16384;

} // namespace

void register_default_steps(step_registry& registry) {
  registry.add({"decode_jpeg", "Decode JPEG",
                "Wraps the uploaded bytes without copying and decodes them to an 8-bit BGR image "
                "(cv::imdecode); the declared dimensions are checked first.",
                stage_kind::decode, value_kind::jpeg_bytes, value_kind::image, {},
                [](const nlohmann::json&) -> step_fn {
                  return [](stage_resources& res, payload& data) -> status {
                    auto image = res.decoder->decode(data.bytes);
                    if (!image)
                      return image.error();
                    data.image = std::move(image.value());
                    data.kind = value_kind::image;
                    data.bytes = {};
                    data.owner.reset(); // the upload is no longer needed
                    return std::nullopt;
                  };
                }});

  registry.add({"resize", "Resize", "Resizes the image to exactly width x height (cv::resize).",
                stage_kind::transform, value_kind::image, value_kind::image,
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

  registry.add({"normalize", "Normalize",
                "Stretches pixel values to [alpha, beta] (cv::normalize, NORM_MINMAX, 8-bit).",
                stage_kind::transform, value_kind::image, value_kind::image,
                {number_param("alpha", 0, 0, 255, "lower bound of the output range"),
                 number_param("beta", 255, 0, 255, "upper bound of the output range")},
                [](const nlohmann::json& p) -> step_fn {
                  double alpha = p["alpha"].get<double>();
                  double beta = p["beta"].get<double>();
                  return [=](stage_resources& res, payload& data) -> status {
                    return store_image(res.images->normalize(data.image, alpha, beta), data);
                  };
                }});

  registry.add({"encode_jpeg", "Encode JPEG", "Encodes the image as JPEG bytes (cv::imencode).",
                stage_kind::transform, value_kind::image, value_kind::encoded_bytes,
                {integer_param("quality", 95, 1, 100, "JPEG quality")},
                [](const nlohmann::json& p) -> step_fn {
                  int quality = p["quality"].get<int>();
                  return [=](stage_resources& res, payload& data) -> status {
                    if (auto err = res.images->encode_jpeg(data.image, quality, data.text))
                      return err;
                    data.image.release();
                    data.kind = value_kind::encoded_bytes;
                    return std::nullopt;
                  };
                }});

  registry.add({"base64", "Base64 encode", "Encodes bytes as base64 text for the ML service.",
                stage_kind::transform, value_kind::encoded_bytes, value_kind::base64_text, {},
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

  registry.add({"detect", "ML detection",
                "Sends the base64 image to the ML service and keeps the box it finds.",
                stage_kind::detect, value_kind::base64_text, value_kind::detection,
                {string_param("url", "", {}, "ML endpoint; empty means the service's --ml-url"),
                 integer_param("timeout_ms", 0, 0, 60000,
                               "timeout of one ML call; 0 means the service's --ml-timeout-ms"),
                 number_param("min_confidence", 0, 0, 1,
                              "boxes below this confidence count as not found")},
                [](const nlohmann::json& p) -> step_fn {
                  std::string url = p["url"].get<std::string>();
                  std::chrono::milliseconds timeout{p["timeout_ms"].get<int>()};
                  double min_confidence = p["min_confidence"].get<double>();
                  return [=](stage_resources& res, payload& data) -> status {
                    // The step's own timeout, or the settings' one, cut to the time left.
                    auto limit = timeout.count() > 0 ? timeout : res.detector->settings().timeout;
                    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        data.deadline - std::chrono::steady_clock::now());
                    if (left < limit)
                      limit = std::max(left, std::chrono::milliseconds(1));
                    auto found = res.detector->detect(data.text, url, limit);
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
}

} // namespace imgproc
