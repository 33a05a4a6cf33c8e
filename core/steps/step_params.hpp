#pragma once

// Inside core/ only: how the built-in step kinds declare their parameters, and the step families
// that register_default_steps() lists (codec_steps.cpp, image_steps.cpp, detector_steps.cpp).

#include "core/name_table.hpp"
#include "core/step_registry.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imgproc::steps {

/// The largest side any step accepts or produces, in pixels.
constexpr double max_side = 16384;

param_spec integer_param(std::string name, nlohmann::json def, double min, double max,
                         std::string help);
param_spec number_param(std::string name, nlohmann::json def, double min, double max,
                        std::string help);
/// An integer limited to a few values (rotate's degrees): `allowed` must lie in [min, max].
param_spec integer_choice_param(std::string name, nlohmann::json def, std::vector<double> allowed,
                                std::string help);
param_spec string_param(std::string name, nlohmann::json def, std::vector<std::string> choices,
                        std::string help);
param_spec boolean_param(std::string name, bool def, std::string help);

/// A string parameter whose choices are the names of `table`.
template <class Enum, std::size_t N>
param_spec choice_param(std::string name, const name_table<Enum, N>& table, Enum def,
                        std::string help) {
  return string_param(std::move(name), name_of(table, def), names_of(table), std::move(help));
}

/// The value a validated choice parameter names (`fallback` only if validation let a stranger in).
template <class Enum, std::size_t N>
Enum read_choice(const nlohmann::json& params, const char* name, const name_table<Enum, N>& table,
                 Enum fallback) {
  return parse_name(table, params[name].get<std::string>()).value_or(fallback);
}

// -- the families: one function per kind ---------------------------------------------------------

// codec_steps.cpp: bytes in or out.
step_kind decode_jpeg_step();
step_kind encode_jpeg_step();
step_kind encode_step();
step_kind base64_step();

// image_steps.cpp: image -> image, on the image workers; step_failed when they cannot apply.
step_kind resize_step();
step_kind normalize_step();
step_kind grayscale_step();
step_kind crop_step();
step_kind letterbox_step();
step_kind fit_within_step();
step_kind flip_step();
step_kind rotate_step();
step_kind gaussian_blur_step();

// detector_steps.cpp: the ML service's detect, and the local detectors.
step_kind detect_step(const step_checks& checks);
step_kind detect_people_step();
step_kind detect_cascade_step(const cascade_library& cascades);

} // namespace imgproc::steps
