#include "ml_mock/box_generator.hpp"

#include <stdexcept>

namespace imgproc::ml_mock {
namespace {

// Boxes smaller than this would be noise for any real detector; the mock stays plausible.
constexpr int min_box_side = 16;

std::uint64_t seed_from_device() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

} // namespace

box_generator::box_generator(double detect_probability, std::optional<std::uint64_t> seed)
    : detect_probability_(detect_probability), engine_(seed ? *seed : seed_from_device()) {
  if (!(detect_probability >= 0.0 && detect_probability <= 1.0))
    throw std::invalid_argument("detect probability must be in [0, 1]");
}

double box_generator::uniform01() {
  // The top 53 bits fill a double's mantissa exactly.
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

int box_generator::uniform_int(int lo, int hi) {
  // The modulo bias is below 2^-50 for ranges this small.
  auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<int>(engine_() % span);
}

std::optional<box> box_generator::next() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!(uniform01() < detect_probability_))
    return std::nullopt;
  box b;
  b.w = uniform_int(min_box_side, frame_size);
  b.h = uniform_int(min_box_side, frame_size);
  b.x = uniform_int(0, frame_size - b.w);
  b.y = uniform_int(0, frame_size - b.h);
  // Four decimals keep the JSON short and readable; 1..10000 keeps conf in (0, 1].
  b.conf = uniform_int(1, 10000) / 10000.0;
  b.label = 1;
  return b;
}

} // namespace imgproc::ml_mock
