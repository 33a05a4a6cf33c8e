#pragma once

// A pipeline's result as stored in a task row's `data` and `status` (http/api_json answers the
// same values), plus the JSON text helpers every layer uses.

#include "core/errors.hpp"
#include "core/payload.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

/// "detected" or "undetected".
const char* detection_status(const std::optional<detection>& found);

/// The box object, or `[]` when nothing was found (what the tasks table stores in `data`).
nlohmann::json detection_json(const std::optional<detection>& found);

/// Every box as detection_json() does one, in order: `[]` when there are none.
nlohmann::json detections_json(const std::vector<detection>& boxes);

/// The pipeline's final output as stored in `data` and answered: for a detection exactly
/// detection_json() (the car pipeline's shape), for a local detector's detections a list of
/// boxes (detections_json()), otherwise a description, not the content:
///   image          {"kind":"image","width","height","channels"}
///   encoded_bytes  {"kind":"encoded_bytes","format","width","height","bytes"}
///   base64_text    {"kind":"base64_text","bytes"}
///   jpeg_bytes     {"kind":"jpeg_bytes","bytes"}
/// where "bytes" is the size in bytes.
nlohmann::json output_json(const payload& data);

/// The task status for the pipeline's final output: detection_status() for a detection,
/// "detected" or "undetected" for detections (any box or none), "processed" for anything else.
const char* result_status(const payload& data);

/// Whether the JSON text nests arrays and objects at most `max_depth` deep. Checked before
/// parsing untrusted input: nlohmann::json copies, dumps and destroys values recursively, so a
/// few hundred kilobytes of brackets would overflow the stack.
bool json_depth_at_most(std::string_view text, int max_depth);

/// Serializes without ever throwing on invalid UTF-8 (it is replaced).
std::string to_text(const nlohmann::json& json);
std::string to_text(const nlohmann::ordered_json& json);

} // namespace imgproc
