#include "core/step_registry.hpp"

#include "core/object_detectors.hpp"
#include "core/steps/step_params.hpp"

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

void register_default_steps(step_registry& registry,
                            std::shared_ptr<const cascade_library> cascades, step_checks checks) {
  using namespace steps;
  if (!cascades)
    cascades = cascade_library::installed();
  // GET /steps lists the kinds in this order: the car-detection chain first, as it runs.
  registry.add(decode_jpeg_step());
  registry.add(resize_step());
  registry.add(normalize_step());
  registry.add(encode_jpeg_step());
  registry.add(base64_step());
  registry.add(detect_step(checks));
  registry.add(grayscale_step());
  registry.add(crop_step());
  registry.add(letterbox_step());
  registry.add(fit_within_step());
  registry.add(flip_step());
  registry.add(rotate_step());
  registry.add(gaussian_blur_step());
  registry.add(encode_step());
  registry.add(detect_people_step());
  if (!cascades->names().empty())
    registry.add(detect_cascade_step(*cascades));
}

} // namespace imgproc
