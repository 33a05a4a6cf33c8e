// The detector family: image -> detections. `detect` asks the ML service (core/detector_client);
// detect_people and detect_cascade run locally (core/object_detectors) on the local detector
// actors, with the same box parameters and output shape.

#include "core/detector_client.hpp"
#include "core/object_detectors.hpp"
#include "core/steps/step_params.hpp"

#include <chrono>

namespace imgproc::steps {
namespace {

/// The parameters every local detector shares: box sizes, confidence, class id, count and
/// where the boxes are given.
std::vector<param_spec> box_params(double min_confidence) {
  return {integer_param("min_width", 0, 0, max_side, "smallest box width to report; 0: no limit"),
          integer_param("min_height", 0, 0, max_side, "smallest box height to report; 0: no limit"),
          integer_param("max_width", 0, 0, max_side, "largest box width to report; 0: no limit"),
          integer_param("max_height", 0, 0, max_side, "largest box height to report; 0: no limit"),
          number_param("min_confidence", min_confidence, 0, 1,
                       "boxes under this confidence are dropped (see the step's description)"),
          integer_param("class_id", 0, 0, 1000, "the class id every box reports"),
          integer_param("max_boxes", 50, 1, 1000, "the most boxes to report, most confident first"),
          boolean_param("scale_to_input", false,
                        "give the boxes in the uploaded image's coordinates (by the ratio of the "
                        "sizes: right after resize and fit_within, not after crop, letterbox or "
                        "rotate) instead of the frame the detector saw")};
}

box_filter read_box_filter(const nlohmann::json& p) {
  box_filter filter;
  filter.min_width = p["min_width"].get<int>();
  filter.min_height = p["min_height"].get<int>();
  filter.max_width = p["max_width"].get<int>();
  filter.max_height = p["max_height"].get<int>();
  filter.min_confidence = p["min_confidence"].get<double>();
  filter.class_id = p["class_id"].get<int>();
  filter.max_boxes = p["max_boxes"].get<int>();
  return filter;
}

/// Stores a detector's boxes as the payload's output, mapped to the upload when asked.
status store_boxes(result<std::vector<detection>> found, bool scale_to_input, payload& data) {
  if (!found)
    return found.error();
  data.boxes = std::move(found.value());
  if (scale_to_input)
    scale_boxes(data.boxes, data.image.size(), {data.input_width, data.input_height});
  data.image.release();
  data.kind = value_kind::detections;
  return std::nullopt;
}

/// The detect step's `url`: checked against the allow-list when a pipeline is saved.
param_spec ml_url_param(const step_checks& checks) {
  auto spec = string_param("url", "", {},
                           "ML endpoint; empty means the service's --ml-url, otherwise it must be "
                           "--ml-url or within one of --ml-allowed-urls");
  spec.check = checks.ml_url;
  return spec;
}

} // namespace

step_kind detect_step(const step_checks& checks) {
  return step_kind{
      "detect",
      "ML detection",
      "Sends the base64 image to the ML service and keeps the most confident box it "
      "answers; no box, or none at min_confidence or above, is undetected.",
      stage_kind::detect,
      value_kind::base64_text,
      value_kind::detection,
      {ml_url_param(checks),
       integer_param("timeout_ms", 0, 0, 60000,
                     "timeout of one ML call; 0 means the service's --ml-timeout-ms"),
       number_param("min_confidence", 0, 0, 1, "boxes below this confidence count as not found")},
      [](const nlohmann::json& p) -> step_fn {
        std::string url = p["url"].get<std::string>();
        std::chrono::milliseconds timeout{p["timeout_ms"].get<int>()};
        double min_confidence = p["min_confidence"].get<double>();
        return [=](stage_resources& res, payload& data) -> status {
          // The step's own timeout, or the settings' one, for each attempt. The client cuts
          // each one to the time left and answers deadline_exceeded (504) when the request's
          // deadline, not the ML service's slowness, is what ran out.
          auto limit = timeout.count() > 0 ? timeout : res.detector->settings().timeout;
          auto found = res.detector->detect(data.text, url, limit, data.deadline);
          if (!found)
            return found.error();
          data.found = *found;
          if (data.found && data.found->confidence < min_confidence)
            data.found.reset();
          data.text.clear();
          data.kind = value_kind::detection;
          return std::nullopt;
        };
      }};
}

step_kind detect_people_step() {
  auto params = std::vector<param_spec>{
      number_param("scale_factor", 1.05, 1.01, 2, "size ratio between the pyramid's levels"),
      integer_param("min_neighbors", 2, 0, 50,
                    "raw hits a box needs (HOG's group threshold); 0 keeps every hit"),
      integer_choice_param("win_stride", 8, {4, 8, 16},
                           "pixels between windows: 4 finds more, 16 is faster"),
      integer_param("padding", 16, 0, 64,
                    "pixels added around the image, to find people cut by its edges")};
  for (auto& spec : box_params(0.5))
    params.push_back(std::move(spec));
  return step_kind{
      "detect_people",
      "People (HOG)",
      "Finds standing people with OpenCV's HOG descriptor and its default people SVM (no "
      "model file needed); the window is 64x128, so a person needs about 100 pixels of "
      "height. Answers every box, best first: confidence is the logistic of the SVM score "
      "(0.5 at the SVM's boundary, never less), not a probability.",
      stage_kind::local_detect,
      value_kind::image,
      value_kind::detections,
      std::move(params),
      [](const nlohmann::json& p) -> step_fn {
        people_settings settings;
        settings.scale_factor = p["scale_factor"].get<double>();
        settings.min_neighbors = p["min_neighbors"].get<int>();
        settings.win_stride = p["win_stride"].get<int>();
        settings.padding = p["padding"].get<int>();
        settings.boxes = read_box_filter(p);
        bool scale_to_input = p["scale_to_input"].get<bool>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_boxes(res.objects->people(data.image, settings, data.stop()), scale_to_input,
                             data);
        };
      }};
}

step_kind detect_cascade_step(const cascade_library& cascades) {
  auto params = std::vector<param_spec>{
      string_param("cascade", nullptr, cascades.names(),
                   "the cascade, by file name: e.g. haarcascade_frontalface_default, "
                   "haarcascade_fullbody, haarcascade_russian_plate_number, "
                   "haarcascade_licence_plate_rus_16stages"),
      number_param("scale_factor", 1.1, 1.01, 2, "size ratio between the pyramid's levels"),
      integer_param("min_neighbors", 3, 0, 50,
                    "raw hits a box needs; more drops false boxes, fewer finds more")};
  for (auto& spec : box_params(0))
    params.push_back(std::move(spec));
  return step_kind{
      "detect_cascade",
      "Cascade detector (Haar/LBP)",
      "Finds objects with one of the Haar or LBP cascades installed with OpenCV's data "
      "(faces, bodies, number plates). The image is read in grey. Answers every box, best "
      "first: confidence is n / (n + 1) for the n raw hits merged into the box, not a "
      "probability. min_width/min_height and max_width/max_height also bound the search.",
      stage_kind::local_detect,
      value_kind::image,
      value_kind::detections,
      std::move(params),
      [](const nlohmann::json& p) -> step_fn {
        cascade_settings settings;
        settings.cascade = p["cascade"].get<std::string>();
        settings.scale_factor = p["scale_factor"].get<double>();
        settings.min_neighbors = p["min_neighbors"].get<int>();
        settings.boxes = read_box_filter(p);
        bool scale_to_input = p["scale_to_input"].get<bool>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_boxes(res.objects->cascade(data.image, settings), scale_to_input, data);
        };
      }};
}

} // namespace imgproc::steps
