#include "core/task_json.hpp"

namespace imgproc {

const char* detection_status(const std::optional<detection>& found) {
  return found ? "detected" : "undetected";
}

nlohmann::json detection_json(const std::optional<detection>& found) {
  if (!found)
    return nlohmann::json::array();
  return {{"top_left_x", found->top_left_x}, {"top_left_y", found->top_left_y},
          {"width", found->width},           {"height", found->height},
          {"confidence", found->confidence}, {"class_id", found->class_id}};
}

nlohmann::json detections_json(const std::vector<detection>& boxes) {
  auto out = nlohmann::json::array();
  for (const auto& box : boxes)
    out.push_back(detection_json(box));
  return out;
}

nlohmann::json output_json(const payload& data) {
  switch (data.kind) {
    case value_kind::detection:
      return detection_json(data.found);
    case value_kind::detections:
      return detections_json(data.boxes);
    case value_kind::image:
      return {{"kind", "image"},
              {"width", data.image.cols},
              {"height", data.image.rows},
              {"channels", data.image.channels()}};
    case value_kind::encoded_bytes:
      return {{"kind", "encoded_bytes"},
              {"format", data.format},
              {"width", data.encoded_width},
              {"height", data.encoded_height},
              {"bytes", data.text.size()}};
    case value_kind::base64_text:
      return {{"kind", "base64_text"}, {"bytes", data.text.size()}};
    case value_kind::jpeg_bytes:
      return {{"kind", "jpeg_bytes"}, {"bytes", data.bytes.size()}};
  }
  return {{"kind", to_string(data.kind)}};
}

const char* result_status(const payload& data) {
  if (data.kind == value_kind::detections)
    return data.boxes.empty() ? "undetected" : "detected";
  return data.kind == value_kind::detection ? detection_status(data.found) : "processed";
}

bool json_depth_at_most(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return false;
    } else if (c == ']' || c == '}')
      --depth;
  }
  return true;
}

std::string to_text(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_text(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace imgproc
