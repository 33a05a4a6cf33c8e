#include "core/payload.hpp"

namespace imgproc {

const char* to_string(value_kind kind) {
  switch (kind) {
    case value_kind::jpeg_bytes:
      return "jpeg_bytes";
    case value_kind::image:
      return "image";
    case value_kind::encoded_bytes:
      return "encoded_bytes";
    case value_kind::base64_text:
      return "base64_text";
    case value_kind::detection:
      return "detection";
    case value_kind::detections:
      return "detections";
  }
  return "?";
}

} // namespace imgproc
