#include "core/dry_run.hpp"

#include "common/base64.hpp"
#include "core/jpeg_encoder.hpp"
#include "core/task_json.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <opencv2/imgproc.hpp>

namespace imgproc {

nlohmann::json describe_output(const payload& data) {
  switch (data.kind) {
    case value_kind::image: {
      auto out = output_json(data);
      out["bytes"] = data.image.total() * data.image.elemSize();
      return out;
    }
    case value_kind::detection:
      return {{"kind", "detection"}, {"box", detection_json(data.found)}};
    case value_kind::detections:
      return {{"kind", "detections"}, {"boxes", detections_json(data.boxes)}};
    default:
      return output_json(data);
  }
}

nlohmann::json preview_json(const cv::Mat& image, const std::vector<detection>& boxes,
                            cv::Size box_space, int max_side) {
  if (image.empty() || max_side <= 0)
    return nullptr;
  try {
    double scale = std::min(1.0, static_cast<double>(max_side) / std::max(image.cols, image.rows));
    cv::Mat small;
    if (scale < 1.0)
      cv::resize(image, small,
                 cv::Size{std::max(1, static_cast<int>(std::lround(image.cols * scale))),
                          std::max(1, static_cast<int>(std::lround(image.rows * scale)))},
                 0, 0, cv::INTER_AREA);
    else
      small = image.clone(); // the boxes are drawn on it
    if (!boxes.empty()) {
      if (small.depth() != CV_8U)
        small.convertTo(small, CV_8U);
      if (small.channels() == 1)
        cv::cvtColor(small, small, cv::COLOR_GRAY2BGR);
      else if (small.channels() == 4)
        cv::cvtColor(small, small, cv::COLOR_BGRA2BGR);
      double sx = box_space.width > 0 ? static_cast<double>(small.cols) / box_space.width : 1;
      double sy = box_space.height > 0 ? static_cast<double>(small.rows) / box_space.height : 1;
      for (const auto& box : boxes) {
        cv::Point top_left{static_cast<int>(std::lround(box.top_left_x * sx)),
                           static_cast<int>(std::lround(box.top_left_y * sy))};
        cv::Point bottom_right{static_cast<int>(std::lround((box.top_left_x + box.width) * sx)),
                               static_cast<int>(std::lround((box.top_left_y + box.height) * sy))};
        cv::rectangle(small, top_left, bottom_right, cv::Scalar{0, 220, 0}, 2);
      }
    }
    std::string jpeg;
    std::string problem;
    if (!encode_jpeg(small, 80, jpeg, problem))
      return nullptr;
    std::string url = "data:image/jpeg;base64,";
    base64_encode(jpeg, url);
    return {{"width", small.cols}, {"height", small.rows}, {"data_url", std::move(url)}};
  } catch (const std::exception&) {
    return nullptr;
  }
}

void record_step(dry_run_trace& trace, const pipeline_plan& plan, std::size_t index,
                 const cv::Mat& before, const payload& after, double seconds) {
  try {
    const auto& step = plan.steps.at(index);
    nlohmann::json preview = nullptr;
    switch (after.kind) {
      case value_kind::image:
        preview = preview_json(after.image, {}, after.image.size());
        trace.last_image = after.image;
        break;
      case value_kind::encoded_bytes:
        preview = preview_json(before, {}, before.size()); // the image that was encoded
        break;
      case value_kind::detection: {
        std::vector<detection> found;
        if (after.found)
          found.push_back(*after.found);
        // The ML service saw the last image produced (the 640x640 frame of the car pipeline).
        preview = preview_json(trace.last_image, found, trace.last_image.size());
        break;
      }
      case value_kind::detections: {
        bool mapped = step.params.value("scale_to_input", false);
        cv::Size space = mapped ? cv::Size{after.input_width, after.input_height} : before.size();
        preview = preview_json(before, after.boxes, space);
        break;
      }
      default:
        break;
    }
    trace.steps.push_back({{"index", index + 1},
                           {"handler", step.kind->handler},
                           {"params", step.params},
                           {"time_ms", seconds * 1000},
                           {"output", describe_output(after)},
                           {"preview", std::move(preview)}});
  } catch (const std::exception&) {
    // A trace is a convenience: a step that cannot be described is left out, the run goes on.
  }
}

} // namespace imgproc
