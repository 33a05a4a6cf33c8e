// detector_benchmark: the local detectors' image work on one thread, with the service's own code.
// Each benchmark plans the steps of a pipeline the migrations ship (db/migrations/0007) with the
// step registry, as a node does, and runs them on every image of a benchmark set
// (bench/bench_images.hpp) with a fresh payload per image: decode_jpeg, fit_within, then the
// detector. The process is set up like the service's: no OpenCV worker threads.
//
// items_per_second is images per CPU-second of the one benchmark thread: images per second per
// core. detect_ms is the detector step's share per image (the rest is decode and fit_within);
// boxes is the mean number of boxes an image gave.
//
//   people-detection/<set>  detect_people (HOG) on the image fitted within 640x640
//   face-detection/<set>    detect_cascade haarcascade_frontalface_default, within 800x800
//   plate-detection/<set>   detect_cascade haarcascade_russian_plate_number, within 1280x1280
//   face-lbp/<set>          face-detection with lbpcascade_frontalface_improved instead, for
//                           comparison (the LBP cascade is the cheaper face detector)
//
// Exits 1 if any benchmark failed (the smoke test relies on it).

#include "bench/bench_images.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/object_detectors.hpp"
#include "core/payload.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"

#include <benchmark/benchmark.h>
#include <chrono>
#include <exception>
#include <malloc.h>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgproc {
namespace {

/// The shipped pipelines' steps as db/migrations/0007_local_detector_pipelines.sql stores them,
/// and the face pipeline with the LBP cascade.
const std::map<std::string, std::string>& pipelines() {
  static const std::map<std::string, std::string> steps = {
      {"people-detection",
       R"([{"handler":"decode_jpeg","params":{}},
           {"handler":"fit_within","params":{"width":640,"height":640}},
           {"handler":"detect_people","params":{"min_confidence":0.75,"scale_to_input":true}}])"},
      {"face-detection",
       R"([{"handler":"decode_jpeg","params":{}},
           {"handler":"fit_within","params":{"width":800,"height":800}},
           {"handler":"detect_cascade","params":{"cascade":"haarcascade_frontalface_default",
             "min_neighbors":5,"min_width":24,"min_height":24,"scale_to_input":true}}])"},
      {"plate-detection",
       R"([{"handler":"decode_jpeg","params":{}},
           {"handler":"fit_within","params":{"width":1280,"height":1280}},
           {"handler":"detect_cascade","params":{"cascade":"haarcascade_russian_plate_number",
             "min_neighbors":3,"scale_to_input":true}}])"},
      {"face-lbp",
       R"([{"handler":"decode_jpeg","params":{}},
           {"handler":"fit_within","params":{"width":800,"height":800}},
           {"handler":"detect_cascade","params":{"cascade":"lbpcascade_frontalface_improved",
             "min_neighbors":5,"min_width":24,"min_height":24,"scale_to_input":true}}])"},
  };
  return steps;
}

bool any_failed = false;

void run_pipeline(benchmark::State& state, const std::string& name,
                  const bench::image_set_size& size) {
  using clock = std::chrono::steady_clock;
  try {
    step_registry registry;
    register_default_steps(registry);
    auto definitions = parse_steps_json(pipelines().at(name));
    if (!definitions)
      throw std::runtime_error(definitions.error().detail);
    auto plan = plan_pipeline(registry, 1, name, definitions.value());
    if (!plan)
      throw std::runtime_error(plan.error().detail);
    jpeg_decoder decoder;
    preprocessor images;
    object_detectors detectors;
    stage_resources res{&decoder, &images, nullptr, &detectors};
    const auto& jpegs = bench::cached_image_set(size);
    clock::duration detecting{};
    double boxes = 0;
    for (auto _ : state) {
      status err;
      for (const auto& jpeg : jpegs) {
        auto data = std::make_shared<payload>();
        data->bytes = jpeg;
        for (std::size_t i = 0; i < plan->steps.size() && !err; ++i) {
          auto start = clock::now();
          err = plan->steps[i].run(res, *data);
          if (plan->steps[i].kind->stage == stage_kind::local_detect)
            detecting += clock::now() - start;
        }
        if (err)
          break;
        boxes += static_cast<double>(data->boxes.size());
        benchmark::DoNotOptimize(data->boxes.data());
      }
      if (err) {
        any_failed = true;
        state.SkipWithError(err->detail.c_str());
        break;
      }
    }
    auto images_run = static_cast<double>(state.iterations()) * jpegs.size();
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(jpegs.size()));
    state.counters["per_image"] = benchmark::Counter(static_cast<double>(jpegs.size()),
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
    if (images_run > 0) {
      state.counters["detect_ms"] =
          std::chrono::duration<double, std::milli>(detecting).count() / images_run;
      state.counters["boxes"] = boxes / images_run;
    }
  } catch (const std::exception& e) {
    any_failed = true;
    state.SkipWithError(e.what());
  }
}

} // namespace
} // namespace imgproc

int main(int argc, char** argv) {
  using namespace imgproc;
  // As app/main.cpp and app/commands.cpp: image buffers stay in the heap, no OpenCV threads.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  cv::setNumThreads(0);

  for (const auto& size : bench::image_set_sizes())
    for (const auto& pipeline : pipelines())
      benchmark::RegisterBenchmark((pipeline.first + "/" + size.name).c_str(),
                                   [name = pipeline.first, size](benchmark::State& state) {
                                     run_pipeline(state, name, size);
                                   })
          ->Unit(benchmark::kMillisecond);

  std::string photos;
  for (const auto& name : bench::source_photos())
    photos += (photos.empty() ? "" : " ") + name;
  benchmark::AddCustomContext("photos", bench::photo_dir() + ": " + photos);
  benchmark::AddCustomContext("opencv", cv::getVersionString());

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return any_failed ? 1 : 0;
}
