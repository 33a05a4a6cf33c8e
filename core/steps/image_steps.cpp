// The image family: image -> image transforms, run by the image workers (core/preprocessor).

#include "core/preprocessor.hpp"
#include "core/steps/step_params.hpp"

namespace imgproc::steps {
namespace {

/// Moves a step's output image into the payload, or passes its failure on.
status store_image(result<cv::Mat> out, payload& data) {
  if (!out)
    return out.error();
  data.image = std::move(out.value());
  data.kind = value_kind::image;
  return std::nullopt;
}

} // namespace

step_kind resize_step() {
  return step_kind{"resize",
                   "Resize",
                   "Resizes the image to exactly width x height (cv::resize).",
                   stage_kind::transform,
                   value_kind::image,
                   value_kind::image,
                   {integer_param("width", 640, 1, max_side, "target width in pixels"),
                    integer_param("height", 640, 1, max_side, "target height in pixels"),
                    choice_param("interpolation", interpolation_names, interpolation::linear,
                                 "cv::resize interpolation")},
                   [](const nlohmann::json& p) -> step_fn {
                     int width = p["width"].get<int>();
                     int height = p["height"].get<int>();
                     auto how = read_choice(p, "interpolation", interpolation_names,
                                            interpolation::linear);
                     return [=](stage_resources& res, payload& data) -> status {
                       return store_image(res.images->resize(data.image, width, height, how), data);
                     };
                   }};
}

step_kind normalize_step() {
  return step_kind{"normalize",
                   "Normalize",
                   "Stretches pixel values to [alpha, beta] (cv::normalize, NORM_MINMAX, 8-bit).",
                   stage_kind::transform,
                   value_kind::image,
                   value_kind::image,
                   {number_param("alpha", 0, 0, 255, "lower bound of the output range"),
                    number_param("beta", 255, 0, 255, "upper bound of the output range")},
                   [](const nlohmann::json& p) -> step_fn {
                     double alpha = p["alpha"].get<double>();
                     double beta = p["beta"].get<double>();
                     return [=](stage_resources& res, payload& data) -> status {
                       return store_image(res.images->normalize(data.image, alpha, beta), data);
                     };
                   }};
}

step_kind grayscale_step() {
  return step_kind{
      "grayscale",
      "Grayscale",
      "Converts to one 8-bit gray channel (cv::cvtColor); keep_channels 3 converts the "
      "gray image back to BGR for consumers that expect three channels.",
      stage_kind::transform,
      value_kind::image,
      value_kind::image,
      {integer_choice_param("keep_channels", 1, {1, 3},
                            "channels of the output: 1 (gray) or 3 (gray as BGR)")},
      [](const nlohmann::json& p) -> step_fn {
        int keep_channels = p["keep_channels"].get<int>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_image(res.images->grayscale(data.image, keep_channels), data);
        };
      }};
}

step_kind crop_step() {
  return step_kind{"crop",
                   "Crop",
                   "Keeps the rectangle width x height at (x, y), without copying; fails with "
                   "step_failed when the rectangle is not fully inside the image.",
                   stage_kind::transform,
                   value_kind::image,
                   value_kind::image,
                   {integer_param("x", 0, 0, max_side - 1, "left edge in pixels"),
                    integer_param("y", 0, 0, max_side - 1, "top edge in pixels"),
                    integer_param("width", nullptr, 1, max_side, "width in pixels"),
                    integer_param("height", nullptr, 1, max_side, "height in pixels")},
                   [](const nlohmann::json& p) -> step_fn {
                     int x = p["x"].get<int>();
                     int y = p["y"].get<int>();
                     int width = p["width"].get<int>();
                     int height = p["height"].get<int>();
                     return [=](stage_resources& res, payload& data) -> status {
                       return store_image(res.images->crop(data.image, x, y, width, height), data);
                     };
                   }};
}

step_kind letterbox_step() {
  return step_kind{
      "letterbox",
      "Letterbox",
      "Scales the image to fit width x height keeping its aspect ratio and pads the "
      "rest with a constant gray, the image centred (YOLO's preprocessing).",
      stage_kind::transform,
      value_kind::image,
      value_kind::image,
      {integer_param("width", 640, 1, max_side, "target width in pixels"),
       integer_param("height", 640, 1, max_side, "target height in pixels"),
       integer_param("color", 114, 0, 255, "padding value on every channel; 114 as YOLO uses")},
      [](const nlohmann::json& p) -> step_fn {
        int width = p["width"].get<int>();
        int height = p["height"].get<int>();
        int color = p["color"].get<int>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_image(res.images->letterbox(data.image, width, height, color), data);
        };
      }};
}

step_kind fit_within_step() {
  return step_kind{
      "fit_within",
      "Fit within",
      "Scales the image to fit inside width x height keeping its aspect ratio, without "
      "padding (cv::resize); a smaller image is kept as it is unless upscale. What a "
      "detector needs: its boxes then map back to the upload by one ratio.",
      stage_kind::transform,
      value_kind::image,
      value_kind::image,
      {integer_param("width", 640, 1, max_side, "largest width in pixels"),
       integer_param("height", 640, 1, max_side, "largest height in pixels"),
       boolean_param("upscale", false, "also enlarge an image smaller than the box"),
       choice_param("interpolation", interpolation_names, interpolation::area,
                    "cv::resize interpolation; area suits downscaling")},
      [](const nlohmann::json& p) -> step_fn {
        int width = p["width"].get<int>();
        int height = p["height"].get<int>();
        bool upscale = p["upscale"].get<bool>();
        auto how = read_choice(p, "interpolation", interpolation_names, interpolation::area);
        return [=](stage_resources& res, payload& data) -> status {
          return store_image(res.images->fit_within(data.image, width, height, upscale, how), data);
        };
      }};
}

step_kind flip_step() {
  return step_kind{"flip",
                   "Flip",
                   "Mirrors the image (cv::flip).",
                   stage_kind::transform,
                   value_kind::image,
                   value_kind::image,
                   {choice_param("mode", flip_mode_names, flip_mode::horizontal,
                                 "horizontal mirrors left-right, vertical upside down, both "
                                 "does both (a 180 degree turn)")},
                   [](const nlohmann::json& p) -> step_fn {
                     auto mode = read_choice(p, "mode", flip_mode_names, flip_mode::horizontal);
                     return [=](stage_resources& res, payload& data) -> status {
                       return store_image(res.images->flip(data.image, mode), data);
                     };
                   }};
}

step_kind rotate_step() {
  return step_kind{
      "rotate",
      "Rotate",
      "Rotates the image clockwise by 90, 180 or 270 degrees (cv::rotate: exact, no "
      "interpolation).",
      stage_kind::transform,
      value_kind::image,
      value_kind::image,
      {integer_choice_param("degrees", nullptr, {90, 180, 270}, "clockwise angle: 90, 180 or 270")},
      [](const nlohmann::json& p) -> step_fn {
        int degrees = p["degrees"].get<int>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_image(res.images->rotate(data.image, degrees), data);
        };
      }};
}

step_kind gaussian_blur_step() {
  auto kernel_spec = integer_param("kernel", 5, 1, 99, "window side in pixels; must be odd");
  kernel_spec.odd = true; // cv::GaussianBlur asserts on even sizes: refuse them at plan time
  return step_kind{
      "gaussian_blur",
      "Gaussian blur",
      "Smooths the image (cv::GaussianBlur).",
      stage_kind::transform,
      value_kind::image,
      value_kind::image,
      {kernel_spec,
       number_param("sigma", 0, 0, 100, "standard deviation; 0 derives it from the kernel")},
      [](const nlohmann::json& p) -> step_fn {
        int kernel = p["kernel"].get<int>();
        double sigma = p["sigma"].get<double>();
        return [=](stage_resources& res, payload& data) -> status {
          return store_image(res.images->gaussian_blur(data.image, kernel, sigma), data);
        };
      }};
}

} // namespace imgproc::steps
