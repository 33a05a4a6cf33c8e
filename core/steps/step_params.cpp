#include "core/steps/step_params.hpp"

#include <utility>

namespace imgproc::steps {

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

} // namespace imgproc::steps
