// libFuzzer target: parse_ml_answer, the parser of the ML service's HTTP answer body.
#include "core/detector_client.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = imgproc::parse_ml_answer({reinterpret_cast<const char*>(data), size});
  (void)r;
  return 0;
}
