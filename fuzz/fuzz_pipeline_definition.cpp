// libFuzzer target: parse_pipeline_definition (POST/PUT /pipelines bodies) with the default
// step registry.
#include "core/pipeline_plan.hpp"
#include "core/step_registry.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const imgproc::step_registry registry = [] {
    imgproc::step_registry r;
    imgproc::register_default_steps(r);
    return r;
  }();
  auto r =
      imgproc::parse_pipeline_definition(registry, {reinterpret_cast<const char*>(data), size});
  (void)r;
  return 0;
}
