// image_chain_benchmark: the car-detection pipeline's image work on one thread, with the service's
// own code. The pipeline's stored steps are planned with the step registry exactly as a worker
// plans the steps_json a gateway sends it (core/pipeline_plan), and every step function up to the
// ML call (decode_jpeg, resize 640x640, normalize, encode_jpeg, base64) runs on a fresh payload
// per image, as a node makes one per request. The process is set up like the service's: the same
// malloc thresholds (app/main.cpp) and no OpenCV worker threads (app/commands.cpp).
//
// items_per_second is images per CPU-second of the one benchmark thread: images per second per
// core. One benchmark per image set (bench/bench_images.hpp), each iteration a pass over the set.
//
// The chain_reduced_* variants swap the decode step for one that lets libjpeg decode at 1/2 or
// 1/4 scale (cv::IMREAD_REDUCED_COLOR_2/4) when the source is large enough, to measure what such
// an option of the decode step could save; the service's decoder is not changed. Their counters
// give the scale used and how far the 640x640 normalized image moves from the full decode's.
//
// chain_steps/<set> runs the same chain timing each step, for the split between the steps.
//
// reference/<set> is the fixed yardstick that never changes with the service: the same chain
// written with plain OpenCV calls, as the original service does (cv::imdecode, cv::resize 640x640
// linear, cv::normalize MINMAX 8-bit, cv::imencode JPEG 95, base64), on one thread with fresh
// buffers per image. The service's figures are read as ratios to it.
//
// Exits 1 if any benchmark failed (the smoke test relies on it).

#include "bench/bench_images.hpp"
#include "common/base64.hpp"
#include "core/errors.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/payload.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cstdint>
#include <exception>
#include <malloc.h>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace imgproc;

// Pipeline 1, "car-detection", as db/migrations/0002_car_detection_pipeline.sql stores it, in the
// shape of pipeline_versions.steps (0003): what a gateway sends a worker as steps_json.
constexpr const char* car_detection_steps_json = R"([
  {"handler": "decode_jpeg", "params": {}},
  {"handler": "resize", "params": {"width": 640, "height": 640, "interpolation": "linear"}},
  {"handler": "normalize", "params": {"alpha": 0, "beta": 255}},
  {"handler": "encode_jpeg", "params": {"quality": 95}},
  {"handler": "base64", "params": {}},
  {"handler": "detect", "params": {}}
])";

/// How the reduced-scale decode picks libjpeg's scale: the largest f of 4 and 2 that the rule
/// allows, else a full decode by the service's own step.
enum class reduce_rule {
  none,   ///< the service's decode step, unchanged
  strict, ///< both sides at least f times the resize target: the resize still only shrinks
  loose,  ///< either side at least f times the target: the other axis may then be enlarged
};

const char* to_string(reduce_rule rule) {
  switch (rule) {
    case reduce_rule::none:
      return "chain";
    case reduce_rule::strict:
      return "chain_reduced_strict";
    case reduce_rule::loose:
      return "chain_reduced_loose";
  }
  return "?";
}

int reduction_factor(reduce_rule rule, int width, int height, int target_width, int target_height) {
  for (int f : {4, 2}) {
    bool wide = width >= f * target_width;
    bool tall = height >= f * target_height;
    if ((rule == reduce_rule::strict && wide && tall) ||
        (rule == reduce_rule::loose && (wide || tall)))
      return f;
  }
  return 1;
}

/// The decode step with the reduced-scale option; a full decode goes to the service's step.
step_fn reduced_decode_step(reduce_rule rule, int target_width, int target_height,
                            step_fn full_decode) {
  return [=](stage_resources& res, payload& data) -> status {
    auto header = read_jpeg_header(data.bytes);
    int factor =
        header ? reduction_factor(rule, header->width, header->height, target_width, target_height)
               : 1;
    if (factor == 1)
      return full_decode(res, data);
    // The same size check as jpeg_decoder::decode before anything is allocated.
    if (static_cast<std::uint64_t>(header->width) * header->height >
        res.decoder->settings().max_pixels)
      return make_failure(error_code::image_too_large, "image over the pixel limit");
    try {
      const cv::Mat wrapped(1, static_cast<int>(data.bytes.size()), CV_8UC1,
                            const_cast<char*>(data.bytes.data()));
      cv::Mat image = cv::imdecode(wrapped, factor == 4 ? cv::IMREAD_REDUCED_COLOR_4
                                                        : cv::IMREAD_REDUCED_COLOR_2);
      if (image.empty())
        return make_failure(error_code::undecodable_image, "could not be decoded as JPEG");
      data.image = std::move(image);
      data.kind = value_kind::image;
      data.bytes = {};
      data.owner.reset();
      return std::nullopt;
    } catch (const cv::Exception& e) {
      return make_failure(error_code::undecodable_image, e.what());
    }
  };
}

/// The planned car-detection pipeline and what a stage lends its steps. Built once: the plan
/// points into the registry, so neither moves.
class chain {
public:
  chain() {
    register_default_steps(registry_);
    auto definitions = parse_steps_json(car_detection_steps_json);
    if (!definitions)
      throw std::runtime_error("steps JSON: " + definitions.error().detail);
    auto plan = plan_pipeline(registry_, 1, "car-detection", definitions.value());
    if (!plan)
      throw std::runtime_error("plan: " + plan.error().detail);
    plan_ = std::move(plan.value());
    for (const auto& step : plan_.steps) {
      if (step.kind->stage == stage_kind::detect)
        break; // the ML call: network work on another service, not image work
      if (step.kind->handler == "resize") {
        target_width_ = step.params["width"].get<int>();
        target_height_ = step.params["height"].get<int>();
      }
      if (step.kind->handler == "normalize")
        normalize_count_ = steps_.size() + 1;
      steps_.push_back(step.run);
    }
    if (steps_.empty() || plan_.steps.front().kind->handler != "decode_jpeg" ||
        target_width_ == 0 || normalize_count_ == 0)
      throw std::runtime_error("the car-detection plan lacks decode_jpeg, resize or normalize");
    resources_.decoder = &decoder_;
    resources_.images = &images_;
  }

  /// The image steps (all before detect), the decode step swapped for `rule`'s.
  std::vector<step_fn> steps(reduce_rule rule) const {
    auto out = steps_;
    if (rule != reduce_rule::none)
      out.front() = reduced_decode_step(rule, target_width_, target_height_, steps_.front());
    return out;
  }

  /// How many of steps() run up to and including normalize.
  std::size_t normalize_count() const { return normalize_count_; }
  int reduction(reduce_rule rule, int width, int height) const {
    return rule == reduce_rule::none
               ? 1
               : reduction_factor(rule, width, height, target_width_, target_height_);
  }
  stage_resources resources() const { return resources_; }
  /// The handler of steps()[i].
  const std::string& handler(std::size_t i) const { return plan_.steps[i].kind->handler; }

private:
  step_registry registry_;
  pipeline_plan plan_;
  jpeg_decoder decoder_; // the service's defaults (--max-image-pixels 50000000)
  preprocessor images_;
  stage_resources resources_;
  std::vector<step_fn> steps_;
  std::size_t normalize_count_ = 0;
  int target_width_ = 0;
  int target_height_ = 0;
};

const chain& car_detection_chain() {
  static const chain instance;
  return instance;
}

/// Points `data` (a fresh payload, as a node makes per request) at `jpeg` and runs the first
/// `count` steps on it.
status run_steps(const std::vector<step_fn>& steps, std::size_t count, stage_resources& res,
                 const std::string& jpeg, payload& data) {
  data.kind = value_kind::jpeg_bytes;
  data.bytes = jpeg;
  for (std::size_t i = 0; i < count; ++i)
    if (auto err = steps[i](res, data))
      return err;
  return std::nullopt;
}

struct difference {
  double mean_abs = 0; ///< mean over the set of each image's mean absolute difference
  double max_abs = 0;  ///< largest difference of any pixel channel in the set
};

/// Compares the normalized 640x640 images of the full and the reduced decode, per channel value.
difference compare_normalized(const chain& c, reduce_rule rule,
                              const std::vector<std::string>& jpegs) {
  auto full = c.steps(reduce_rule::none);
  auto reduced = c.steps(rule);
  auto res = c.resources();
  difference out;
  for (const auto& jpeg : jpegs) {
    payload a;
    payload b;
    if (auto err = run_steps(full, c.normalize_count(), res, jpeg, a))
      throw std::runtime_error(err->detail);
    if (auto err = run_steps(reduced, c.normalize_count(), res, jpeg, b))
      throw std::runtime_error(err->detail);
    double values = static_cast<double>(a.image.total()) * a.image.channels();
    out.mean_abs += cv::norm(a.image, b.image, cv::NORM_L1) / values / jpegs.size();
    out.max_abs = std::max(out.max_abs, cv::norm(a.image, b.image, cv::NORM_INF));
  }
  return out;
}

bool any_failed = false;

/// chain_steps/<set>: the same chain, each step timed on the steady clock (tens of nanoseconds
/// per reading), for the split of an image's time between the steps: one counter per handler,
/// in milliseconds per image.
void run_chain_steps(benchmark::State& state, const bench::image_set_size& size) {
  using clock = std::chrono::steady_clock;
  try {
    const auto& c = car_detection_chain();
    const auto& jpegs = bench::cached_image_set(size);
    auto steps = c.steps(reduce_rule::none);
    auto res = c.resources();
    std::vector<clock::duration> spent(steps.size(), clock::duration::zero());
    for (auto _ : state) {
      status err;
      for (const auto& jpeg : jpegs) {
        auto data = std::make_shared<payload>();
        data->kind = value_kind::jpeg_bytes;
        data->bytes = jpeg;
        for (std::size_t i = 0; i < steps.size() && !err; ++i) {
          auto start = clock::now();
          err = steps[i](res, *data);
          spent[i] += clock::now() - start;
        }
        if (err)
          break;
        benchmark::DoNotOptimize(data->text.data());
      }
      if (err) {
        any_failed = true;
        state.SkipWithError(err->detail.c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(jpegs.size()));
    for (std::size_t i = 0; i < steps.size(); ++i)
      state.counters[c.handler(i) + "_ms"] = benchmark::Counter(
          std::chrono::duration<double, std::milli>(spent[i]).count() / jpegs.size(),
          benchmark::Counter::kAvgIterations);
  } catch (const std::exception& e) {
    any_failed = true;
    state.SkipWithError(e.what());
  }
}

/// Images per second per core (items_per_second), ms per image (per_image) and the set's mean
/// upload size (jpeg_kB), for a benchmark that passes over `jpegs` once per iteration.
void count_images(benchmark::State& state, const std::vector<std::string>& jpegs) {
  auto images = static_cast<double>(jpegs.size());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(jpegs.size()));
  state.counters["per_image"] = benchmark::Counter(
      images, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  double bytes = 0;
  for (const auto& jpeg : jpegs)
    bytes += static_cast<double>(jpeg.size());
  state.counters["jpeg_kB"] = bytes / images / 1024;
}

void run_chain(benchmark::State& state, const bench::image_set_size& size, reduce_rule rule) {
  try {
    const auto& c = car_detection_chain();
    const auto& jpegs = bench::cached_image_set(size);
    auto steps = c.steps(rule);
    auto res = c.resources();
    for (auto _ : state) {
      status err;
      for (const auto& jpeg : jpegs) {
        // One payload per image, as a node makes one per request.
        auto data = std::make_shared<payload>();
        if ((err = run_steps(steps, steps.size(), res, jpeg, *data)))
          break;
        benchmark::DoNotOptimize(data->text.data());
      }
      if (err) {
        any_failed = true;
        state.SkipWithError(err->detail.c_str());
        break;
      }
    }
    count_images(state, jpegs);
    if (rule != reduce_rule::none) {
      // All images of a set have the same size, so one scale per set.
      state.counters["reduced_by"] = c.reduction(rule, size.width, size.height);
      auto diff = compare_normalized(c, rule, jpegs);
      state.counters["mean_abs_diff"] = diff.mean_abs;
      state.counters["max_abs_diff"] = diff.max_abs;
    }
  } catch (const std::exception& e) {
    any_failed = true;
    state.SkipWithError(e.what());
  }
}

/// The reference chain: the original service's calls, nothing of the service's own code.
void run_reference(benchmark::State& state, const bench::image_set_size& size) {
  try {
    const auto& jpegs = bench::cached_image_set(size);
    for (auto _ : state) {
      for (const auto& jpeg : jpegs) {
        std::vector<uchar> bytes(jpeg.begin(), jpeg.end());
        cv::Mat image = cv::imdecode(bytes, cv::IMREAD_COLOR);
        cv::Mat resized, normalized;
        cv::resize(image, resized, cv::Size(640, 640), 0, 0, cv::INTER_LINEAR);
        cv::normalize(resized, normalized, 0, 255, cv::NORM_MINMAX, CV_8U);
        std::vector<uchar> encoded;
        cv::imencode(".jpg", normalized, encoded, {cv::IMWRITE_JPEG_QUALITY, 95});
        auto text = base64_encode(
            std::string_view{reinterpret_cast<const char*>(encoded.data()), encoded.size()});
        benchmark::DoNotOptimize(text.data());
      }
    }
    count_images(state, jpegs);
  } catch (const std::exception& e) {
    any_failed = true;
    state.SkipWithError(e.what());
  }
}

} // namespace

int main(int argc, char** argv) {
  // As app/main.cpp: large image buffers stay in the heap instead of being mapped and unmapped
  // per stage (page faults cost several times the image work on these virtual machines).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // As app/commands.cpp: no OpenCV worker threads, so each image is worked on one core.
  cv::setNumThreads(0);

  for (const auto& size : bench::image_set_sizes()) {
    for (auto rule : {reduce_rule::none, reduce_rule::strict, reduce_rule::loose})
      benchmark::RegisterBenchmark(
          (std::string{to_string(rule)} + "/" + size.name).c_str(),
          [size, rule](benchmark::State& state) { run_chain(state, size, rule); })
          ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("reference/" + size.name).c_str(), [size](
                                                                         benchmark::State& state) {
      run_reference(state, size);
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("chain_steps/" + size.name).c_str(),
                                 [size](benchmark::State& state) { run_chain_steps(state, size); })
        ->Unit(benchmark::kMillisecond);
  }

  std::string photos;
  for (const auto& name : bench::source_photos())
    photos += (photos.empty() ? "" : " ") + name;
  benchmark::AddCustomContext("chain", "car-detection: decode_jpeg, resize 640x640 linear, "
                                       "normalize 0..255, encode_jpeg q95, base64");
  benchmark::AddCustomContext("photos", bench::photo_dir() + ": " + photos);
  benchmark::AddCustomContext("opencv", cv::getVersionString());

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return any_failed ? 1 : 0;
}
