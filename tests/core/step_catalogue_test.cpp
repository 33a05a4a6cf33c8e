#include "core/step_catalogue.hpp"
#include "core/step_registry.hpp"

#include <gtest/gtest.h>
#include <set>
#include <string>

namespace imgproc {
namespace {

class step_catalogue_test : public ::testing::Test {
protected:
  void SetUp() override {
    register_default_steps(registry);
    catalogue = describe_steps(registry);
  }

  const nlohmann::json& step(const std::string& handler) const {
    for (const auto& item : catalogue)
      if (item["handler"] == handler)
        return item;
    ADD_FAILURE() << "no step " << handler;
    static const nlohmann::json none = nlohmann::json::object();
    return none;
  }

  const nlohmann::json& param(const std::string& handler, const std::string& name) const {
    for (const auto& item : step(handler)["params"])
      if (item["name"] == name)
        return item;
    ADD_FAILURE() << "no parameter " << handler << "." << name;
    static const nlohmann::json none = nlohmann::json::object();
    return none;
  }

  step_registry registry;
  nlohmann::json catalogue;
};

TEST_F(step_catalogue_test, lists_every_registered_handler_once_in_order) {
  ASSERT_TRUE(catalogue.is_array());
  auto kinds = registry.kinds();
  ASSERT_EQ(catalogue.size(), kinds.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const auto& item = catalogue[i];
    EXPECT_EQ(item["handler"], kinds[i]->handler);
    EXPECT_EQ(item["title"], kinds[i]->title);
    EXPECT_EQ(item["description"], kinds[i]->description);
    EXPECT_EQ(item["stage"], to_string(kinds[i]->stage));
    EXPECT_EQ(item["input"], to_string(kinds[i]->input));
    EXPECT_EQ(item["output"], to_string(kinds[i]->output));
    EXPECT_TRUE(seen.insert(item["handler"].get<std::string>()).second);
    ASSERT_EQ(item["params"].size(), kinds[i]->params.size()) << kinds[i]->handler;
    for (std::size_t k = 0; k < kinds[i]->params.size(); ++k) {
      const auto& spec = kinds[i]->params[k];
      const auto& p = item["params"][k];
      EXPECT_EQ(p["name"], spec.name);
      EXPECT_EQ(p["type"], to_string(spec.type));
      EXPECT_EQ(p["default"], spec.default_value);
      EXPECT_EQ(p["required"], spec.default_value.is_null());
      EXPECT_EQ(p["help"], spec.help);
      EXPECT_FALSE(spec.help.empty()) << spec.name;
      // Bounds exactly for numeric parameters, never for strings and booleans.
      bool numeric = spec.type == param_type::integer || spec.type == param_type::number;
      EXPECT_EQ(p.contains("minimum"), numeric) << spec.name;
      EXPECT_EQ(p.contains("maximum"), numeric) << spec.name;
    }
  }
  for (auto handler : {"decode_jpeg", "resize", "normalize", "encode_jpeg", "base64", "detect",
                       "grayscale", "crop", "letterbox", "fit_within", "flip", "rotate",
                       "gaussian_blur", "encode", "detect_people", "detect_cascade"})
    EXPECT_TRUE(seen.count(handler)) << handler;
}

TEST_F(step_catalogue_test, describes_kinds_and_their_value_types) {
  const auto& detect = step("detect");
  EXPECT_EQ(detect["stage"], "detect");
  EXPECT_EQ(detect["input"], "base64_text");
  EXPECT_EQ(detect["output"], "detection");
  EXPECT_EQ(step("decode_jpeg")["stage"], "decode");
  // reduce_to_width, reduce_to_height, corrupt_data
  EXPECT_EQ(step("decode_jpeg")["params"].size(), 3u);
  EXPECT_EQ(step("encode")["output"], "encoded_bytes");
  EXPECT_EQ(step("grayscale")["stage"], "transform");
  for (auto handler : {"detect_people", "detect_cascade"}) {
    EXPECT_EQ(step(handler)["stage"], "local_detect") << handler;
    EXPECT_EQ(step(handler)["input"], "image") << handler;
    EXPECT_EQ(step(handler)["output"], "detections") << handler;
  }
}

TEST_F(step_catalogue_test, offers_the_installed_cascades_and_boolean_switches) {
  const auto& cascade = param("detect_cascade", "cascade");
  EXPECT_EQ(cascade["required"], true);
  std::set<std::string> choices;
  for (const auto& choice : cascade["choices"])
    choices.insert(choice.get<std::string>());
  // Debian's opencv-data, which scripts/setup installs.
  for (auto name : {"haarcascade_frontalface_default", "haarcascade_fullbody",
                    "haarcascade_russian_plate_number", "haarcascade_licence_plate_rus_16stages",
                    "lbpcascade_frontalface_improved"})
    EXPECT_TRUE(choices.count(name)) << name;
  const auto& scale = param("detect_people", "scale_to_input");
  EXPECT_EQ(scale["type"], "boolean");
  EXPECT_EQ(scale["default"], false);
  EXPECT_FALSE(scale.contains("minimum"));
  EXPECT_EQ(param("detect_people", "win_stride")["choices"], nlohmann::json::array({4, 8, 16}));
  EXPECT_EQ(param("detect_cascade", "max_boxes")["maximum"], 1000);
  EXPECT_EQ(param("fit_within", "upscale")["type"], "boolean");
}

TEST_F(step_catalogue_test, gives_bounds_defaults_and_choices) {
  const auto& width = param("letterbox", "width");
  EXPECT_EQ(width["type"], "integer");
  EXPECT_EQ(width["minimum"], 1);
  EXPECT_EQ(width["maximum"], 16384);
  EXPECT_TRUE(width["minimum"].is_number_integer()); // 1, not 1.0
  EXPECT_EQ(width["default"], 640);
  EXPECT_EQ(width["required"], false);
  EXPECT_EQ(param("letterbox", "color")["default"], 114);

  const auto& degrees = param("rotate", "degrees");
  EXPECT_EQ(degrees["required"], true);
  EXPECT_TRUE(degrees["default"].is_null());
  EXPECT_EQ(degrees["choices"], nlohmann::json::array({90, 180, 270}));
  EXPECT_TRUE(degrees["choices"][0].is_number_integer());

  EXPECT_EQ(param("grayscale", "keep_channels")["choices"], nlohmann::json::array({1, 3}));
  EXPECT_EQ(param("flip", "mode")["choices"],
            nlohmann::json::array({"horizontal", "vertical", "both"}));
  EXPECT_FALSE(param("flip", "mode").contains("minimum"));
  EXPECT_EQ(param("encode", "format")["choices"], nlohmann::json::array({"jpeg", "png"}));
  EXPECT_EQ(param("encode", "png_compression")["maximum"], 9);
  EXPECT_EQ(param("crop", "width")["required"], true);
  EXPECT_EQ(param("crop", "x")["default"], 0);

  const auto& kernel = param("gaussian_blur", "kernel");
  EXPECT_EQ(kernel["odd"], true);
  EXPECT_EQ(kernel["minimum"], 1);
  EXPECT_EQ(kernel["maximum"], 99);
  EXPECT_FALSE(param("gaussian_blur", "sigma").contains("odd"));
  const auto& sigma = param("gaussian_blur", "sigma");
  EXPECT_EQ(sigma["type"], "number");
  EXPECT_EQ(sigma["maximum"], 100);

  const auto& reduce = param("decode_jpeg", "reduce_to_width");
  EXPECT_EQ(reduce["type"], "integer");
  EXPECT_EQ(reduce["default"], 0); // off: a full-size decode
  EXPECT_EQ(reduce["minimum"], 0);
  EXPECT_EQ(reduce["maximum"], 16384);
  EXPECT_EQ(param("decode_jpeg", "reduce_to_height")["default"], 0);

  const auto& confidence = param("detect", "min_confidence");
  EXPECT_EQ(confidence["type"], "number");
  EXPECT_EQ(confidence["minimum"], 0);
  EXPECT_EQ(confidence["maximum"], 1);
  EXPECT_FALSE(param("detect", "url").contains("choices")); // any string
}

TEST_F(step_catalogue_test, is_plain_json_text) {
  // Served as is by GET /steps: it must serialize, and parse back to the same value.
  auto text = catalogue.dump();
  EXPECT_EQ(nlohmann::json::parse(text), catalogue);
}

} // namespace
} // namespace imgproc
