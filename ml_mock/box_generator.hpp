#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

namespace imgproc::ml_mock {

/// Side of the square frame the detector works on; every box lies wholly inside it.
inline constexpr int frame_size = 640;

/// One detection in the standard format `[top_left_x, top_left_y, w, h, conf, label]`.
struct box {
  int x = 0;
  int y = 0;
  int w = 0;
  int h = 0;
  double conf = 0; ///< in (0, 1]
  int label = 1;
};

/// Draws the mock model's answers: with `detect_probability` one random in-frame box, otherwise
/// nothing. The same seed gives the same sequence of answers. Thread-safe: draws are serialised,
/// so sequential requests see the sequence in order.
class box_generator {
public:
  /// `detect_probability` must be in [0, 1] (std::invalid_argument otherwise). Without a seed
  /// the engine is seeded from std::random_device.
  explicit box_generator(double detect_probability = 0.5,
                         std::optional<std::uint64_t> seed = std::nullopt);

  /// The next answer: a box, or nullopt for "nothing detected".
  std::optional<box> next();

  double detect_probability() const { return detect_probability_; }

private:
  // Own mappings from raw 64-bit draws instead of std:: distributions: their output is
  // implementation-defined, and a seed should mean the same answers with any standard library.
  double uniform01();              // [0, 1)
  int uniform_int(int lo, int hi); // [lo, hi]

  const double detect_probability_;
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

} // namespace imgproc::ml_mock
