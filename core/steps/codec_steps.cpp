// The codec family: decode the upload, encode an image as JPEG or PNG, base64 for the ML service.

#include "common/base64.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/preprocessor.hpp"
#include "core/steps/step_params.hpp"

namespace imgproc::steps {
namespace {

/// Records what an encode step produced: the image is released, the output is described later.
void store_encoded(image_format format, payload& data) {
  data.format = name_of(image_format_names, format);
  data.encoded_width = data.image.cols;
  data.encoded_height = data.image.rows;
  data.image.release();
  data.kind = value_kind::encoded_bytes;
}

/// The upload's full-scale size, for detectors that map their boxes back to it: the decoded
/// image's, or after a reduced decode the declared one (sides swapped when EXIF turns it).
void record_input_size(payload& data, const cv::Mat& decoded, jpeg_reduce_target target) {
  data.input_width = decoded.cols;
  data.input_height = decoded.rows;
  if (!target.enabled())
    return;
  if (auto header = read_jpeg_header(data.bytes)) {
    bool turned = jpeg_exif_orientation(data.bytes) >= 5; // 5-8 swap width and height
    data.input_width = turned ? header->height : header->width;
    data.input_height = turned ? header->width : header->height;
  }
}

} // namespace

step_kind decode_jpeg_step() {
  return step_kind{
      "decode_jpeg",
      "Decode JPEG",
      "Decodes the uploaded bytes in place to an 8-bit BGR image (libjpeg-turbo, "
      "pixel for pixel what cv::imdecode gives); the declared dimensions are checked "
      "first. With reduce_to_width or reduce_to_height set, libjpeg decodes at 1/2, 1/4 "
      "or 1/8 scale when both decoded sides stay at least that large (cheaper for a "
      "later downscale). Damaged data (ending early, a corrupt segment) is refused "
      "with 422 naming the defect unless corrupt_data is accept.",
      stage_kind::decode,
      value_kind::jpeg_bytes,
      value_kind::image,
      {integer_param("reduce_to_width", 0, 0, max_side,
                     "decode at reduced scale (1/2, 1/4, 1/8) while the decoded width "
                     "stays >= this; 0: no constraint (both 0: full-size decode)"),
       integer_param("reduce_to_height", 0, 0, max_side,
                     "decode at reduced scale (1/2, 1/4, 1/8) while the decoded height "
                     "stays >= this; 0: no constraint (both 0: full-size decode)"),
       choice_param("corrupt_data", corrupt_data_names, corrupt_data::refuse,
                    "a JPEG libjpeg finds damaged: refuse it (422 naming the defect), "
                    "or accept what decodes, the missing part grey (as cv::imdecode)")},
      [](const nlohmann::json& p) -> step_fn {
        jpeg_reduce_target target{p["reduce_to_width"].get<int>(),
                                  p["reduce_to_height"].get<int>()};
        auto damaged = read_choice(p, "corrupt_data", corrupt_data_names, corrupt_data::refuse);
        return [target, damaged](stage_resources& res, payload& data) -> status {
          auto image = res.decoder->decode(data.bytes, target, damaged, data.stop());
          if (!image)
            return image.error();
          record_input_size(data, image.value(), target);
          data.image = std::move(image.value());
          data.kind = value_kind::image;
          data.bytes = {};
          data.owner.reset(); // the upload is no longer needed
          return std::nullopt;
        };
      }};
}

step_kind encode_jpeg_step() {
  return step_kind{
      "encode_jpeg",
      "Encode JPEG",
      "Encodes the image as JPEG bytes with libjpeg-turbo: the same bytes cv::imencode "
      "gives at that quality.",
      stage_kind::transform,
      value_kind::image,
      value_kind::encoded_bytes,
      {integer_param("quality", 95, 1, 100, "JPEG quality")},
      [](const nlohmann::json& p) -> step_fn {
        int quality = p["quality"].get<int>();
        return [=](stage_resources& res, payload& data) -> status {
          if (auto err = res.images->encode_jpeg(data.image, quality, data.text))
            return err;
          store_encoded(image_format::jpeg, data);
          return std::nullopt;
        };
      }};
}

step_kind base64_step() {
  return step_kind{"base64",
                   "Base64 encode",
                   "Encodes bytes as base64 text for the ML service.",
                   stage_kind::transform,
                   value_kind::encoded_bytes,
                   value_kind::base64_text,
                   {},
                   [](const nlohmann::json&) -> step_fn {
                     return [](stage_resources&, payload& data) -> status {
                       std::string text;
                       text.reserve((data.text.size() + 2) / 3 * 4);
                       base64_encode(data.text, text);
                       data.text = std::move(text);
                       data.kind = value_kind::base64_text;
                       return std::nullopt;
                     };
                   }};
}

/// A separate png_compression rather than mapping quality onto PNG levels: PNG is lossless, so
/// "quality" would silently mean size-versus-speed, and each parameter keeps its own bounds.
step_kind encode_step() {
  return step_kind{
      "encode",
      "Encode image",
      "Encodes the image as JPEG (libjpeg-turbo) or PNG (libpng) bytes, the same bytes "
      "cv::imencode gives with those settings; the format and size are "
      "recorded for the task's output.",
      stage_kind::transform,
      value_kind::image,
      value_kind::encoded_bytes,
      {choice_param("format", image_format_names, image_format::jpeg, "output format"),
       integer_param("quality", 95, 1, 100, "JPEG quality; ignored for PNG"),
       integer_param("png_compression", 3, 0, 9,
                     "PNG compression level (9 smallest, slowest); ignored for JPEG")},
      [](const nlohmann::json& p) -> step_fn {
        auto format = read_choice(p, "format", image_format_names, image_format::jpeg);
        int level =
            format == image_format::png ? p["png_compression"].get<int>() : p["quality"].get<int>();
        return [=](stage_resources& res, payload& data) -> status {
          if (auto err = res.images->encode(data.image, format, level, data.text))
            return err;
          store_encoded(format, data);
          return std::nullopt;
        };
      }};
}

} // namespace imgproc::steps
