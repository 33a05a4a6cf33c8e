// End-to-end: the pipelines the migrations ship with local detectors (people-detection,
// face-detection, plate-detection) on real photos from Debian's opencv-doc, through the real
// service and database: the answer, the stored row, the per-detector metrics, and pipelines with
// bad detector parameters refused when they are saved.

#include "core/object_detectors.hpp"
#include "tests/e2e/helpers.hpp"

#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

/// The id of the active pipeline titled `title`, from GET /pipelines; 0 if there is none.
int pipeline_id(const service_stack& stack, const std::string& title) {
  auto listed = parse_body(get(stack.url("/pipelines")));
  for (const auto& item : listed["items"])
    if (item["title"] == title)
      return item["id"].get<int>();
  return 0;
}

/// The box `data` holds at `index`, as a rectangle.
cv::Rect box_at(const json& data, std::size_t index) {
  const auto& box = data.at(index);
  return {box.at("top_left_x").get<int>(), box.at("top_left_y").get<int>(),
          box.at("width").get<int>(), box.at("height").get<int>()};
}

double overlap(const cv::Rect& a, const cv::Rect& b) {
  double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

/// Posts `jpeg` to the pipeline titled `title`; checks the answer's shape and that the stored
/// row holds the same status and data; returns the answer.
json run_pipeline(const service_stack& stack, const std::string& title, const std::string& jpeg,
                  const std::string& filename) {
  int id = pipeline_id(stack, title);
  EXPECT_GT(id, 0) << title << " is not a shipped pipeline";
  auto response = upload(stack, "/process-image?pipeline_id=" + std::to_string(id), jpeg, filename);
  EXPECT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  EXPECT_EQ(keys_of(body),
            (std::set<std::string>{"id", "pipeline_id", "status", "filename", "data"}))
      << response.body;
  EXPECT_EQ(body["pipeline_id"], id);
  EXPECT_EQ(body["filename"], filename);
  EXPECT_TRUE(body["data"].is_array()) << response.body;
  EXPECT_EQ(body["status"], body["data"].empty() ? "undetected" : "detected") << response.body;
  for (const auto& box : body["data"]) {
    EXPECT_EQ(keys_of(box), (std::set<std::string>{"top_left_x", "top_left_y", "width", "height",
                                                   "confidence", "class_id"}))
        << box;
    EXPECT_GE(box["confidence"].get<double>(), 0);
    EXPECT_LE(box["confidence"].get<double>(), 1);
  }
  auto row = read_task(stack.dsn(), body.value("id", std::int64_t{0}));
  EXPECT_TRUE(row) << "no stored row for " << response.body;
  if (row) {
    EXPECT_EQ(row->status, body["status"]);
    EXPECT_EQ(row->data, body["data"]);
    EXPECT_EQ(row->pipeline_id, id);
    EXPECT_TRUE(row->finished);
    EXPECT_FALSE(row->error);
  }
  return body;
}

class local_detectors : public ::testing::Test {
protected:
  void SetUp() override {
    if (read_file_or_empty(sample_photo_dir() + "messi5.jpg").empty())
      GTEST_SKIP() << "opencv-doc is not installed (scripts/setup installs it)";
  }

  static std::string read_file_or_empty(const std::string& path) {
    try {
      return read_file(path);
    } catch (const std::exception&) {
      return {};
    }
  }
};

TEST_F(local_detectors, shipped_pipelines_find_people_and_faces_and_store_every_box) {
  service_stack stack;

  // The man on the left of basketball1.png (640x480: fit_within 640 keeps it as it is).
  auto people = run_pipeline(stack, "people-detection", sample_photo_jpeg("basketball1.png"),
                             "basketball1.jpg");
  ASSERT_EQ(people["status"], "detected") << people;
  EXPECT_GT(overlap(box_at(people["data"], 0), {0, 65, 187, 415}), 0.8) << people;
  EXPECT_EQ(people["data"][0]["class_id"], 0);

  // Messi's face, alone at min_neighbors 5.
  auto faces = run_pipeline(stack, "face-detection", read_file(sample_photo_dir() + "messi5.jpg"),
                            "messi5.jpg");
  ASSERT_EQ(faces["status"], "detected") << faces;
  ASSERT_EQ(faces["data"].size(), 1u) << faces;
  EXPECT_GT(overlap(box_at(faces["data"], 0), {227, 94, 37, 37}), 0.7) << faces;

  // The player's face in basketball1.
  auto more_faces = run_pipeline(stack, "face-detection", sample_photo_jpeg("basketball1.png"),
                                 "basketball1.jpg");
  ASSERT_EQ(more_faces["status"], "detected") << more_faces;
  bool found_player = false;
  for (std::size_t i = 0; i < more_faces["data"].size(); ++i)
    found_player = found_player || overlap(box_at(more_faces["data"], i), {72, 91, 39, 39}) > 0.7;
  EXPECT_TRUE(found_player) << more_faces;
}

TEST_F(local_detectors, boxes_are_mapped_back_to_a_large_upload) {
  service_stack stack;
  // messi5.jpg at 2x (1096x684): face-detection's fit_within 800 scales it to 800x499, and
  // scale_to_input maps the face back to the 2x upload, near twice the 1x box.
  cv::Mat photo = cv::imread(sample_photo_dir() + "messi5.jpg");
  cv::Mat large;
  cv::resize(photo, large, {}, 2, 2, cv::INTER_CUBIC);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", large, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  auto faces =
      run_pipeline(stack, "face-detection", std::string(jpeg.begin(), jpeg.end()), "messi-2x.jpg");
  ASSERT_EQ(faces["status"], "detected") << faces;
  bool near_twice = false;
  for (std::size_t i = 0; i < faces["data"].size(); ++i)
    near_twice = near_twice || overlap(box_at(faces["data"], i), {454, 188, 74, 74}) > 0.6;
  EXPECT_TRUE(near_twice) << faces;
}

TEST_F(local_detectors, images_with_nothing_to_find_are_undetected_not_errors) {
  service_stack stack;
  cv::Mat grey(480, 640, CV_8UC3, cv::Scalar::all(128));
  std::vector<uchar> grey_jpeg;
  cv::imencode(".jpg", grey, grey_jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  std::string flat(grey_jpeg.begin(), grey_jpeg.end());
  std::string tiny = make_jpeg(8, 8, 3);
  for (const char* title : {"people-detection", "face-detection", "plate-detection"}) {
    SCOPED_TRACE(title);
    for (const auto& [name, jpeg] : std::vector<std::pair<std::string, std::string>>{
             {"grey.jpg", flat},
             {"tiny.jpg", tiny},
             {"fruits.jpg", read_file(sample_photo_dir() + "fruits.jpg")}}) {
      SCOPED_TRACE(name);
      auto answer = run_pipeline(stack, title, jpeg, name);
      EXPECT_EQ(answer["status"], "undetected") << answer;
      EXPECT_EQ(answer["data"], json::array()) << answer;
    }
  }
  // The motion-blurred number plate of licenseplate_motion.jpg is not found either.
  auto plate = run_pipeline(stack, "plate-detection", read_file(sample_photo_path()), "car.jpg");
  EXPECT_EQ(plate["status"], "undetected") << plate;
}

TEST_F(local_detectors, each_detector_is_timed_in_metrics) {
  service_stack stack;
  run_pipeline(stack, "people-detection", sample_photo_jpeg("basketball1.png"), "b.jpg");
  run_pipeline(stack, "face-detection", read_file(sample_photo_dir() + "messi5.jpg"), "m.jpg");
  auto text = get(stack.url("/metrics")).body;
  auto value = [&](const std::string& family, const std::string& detector) {
    std::regex series{family + "\\{[^}]*detector=\"" + detector + "\"[^}]*\\} ([0-9.e+]+)"};
    std::smatch match;
    return std::regex_search(text, match, series) ? std::stod(match[1]) : -1.0;
  };
  EXPECT_EQ(value("imgproc_local_detector_duration_seconds_count", "hog_people"), 1) << text;
  EXPECT_GE(value("imgproc_local_detector_boxes_total", "hog_people"), 1) << text;
  EXPECT_EQ(
      value("imgproc_local_detector_duration_seconds_count", "haarcascade_frontalface_default"), 1)
      << text;
  EXPECT_EQ(value("imgproc_local_detector_boxes_total", "haarcascade_frontalface_default"), 1)
      << text;
  // The actor that ran them, and the step's own timing.
  EXPECT_TRUE(std::regex_search(
      text, std::regex{"caf_actor_processed_messages_total\\{[^}]*name=\"local_detector\"[^}]*\\} "
                       "2"}))
      << text;
  EXPECT_TRUE(std::regex_search(
      text, std::regex{"imgproc_step_duration_seconds_count\\{[^}]*handler=\"detect_cascade\""}))
      << text;
}

TEST_F(local_detectors, local_detectors_option_sets_how_many_detector_actors_run) {
  service_stack stack{with_args({"--local-detectors=3"})};
  std::regex running{
      "caf_system_running_actors\\{[^}]*name=\"local_detector\"[^}]*\\} ([0-9.e+]+)"};
  // Detached actors count themselves once their own thread has started them: poll (bounded).
  double count = -1;
  std::string text;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (count != 3 && std::chrono::steady_clock::now() < give_up) {
    text = get(stack.url("/metrics")).body;
    std::smatch match;
    count = std::regex_search(text, match, running) ? std::stod(match[1]) : -1;
    if (count != 3)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(count, 3) << text;
}

/// The choices GET /steps offers for detect_cascade's `cascade`; nullopt when the step is not
/// offered at all.
std::optional<std::vector<std::string>> offered_cascades(const service_stack& stack) {
  auto steps = parse_body(get(stack.url("/steps")));
  for (const auto& item : steps["items"]) {
    if (item["handler"] != "detect_cascade")
      continue;
    for (const auto& param : item["params"])
      if (param["name"] == "cascade")
        return param.value("choices", std::vector<std::string>{});
    return std::vector<std::string>{};
  }
  return std::nullopt;
}

/// A scratch folder, removed with everything in it when the test ends.
struct scratch_folder {
  scratch_folder() {
    char pattern[] = "/tmp/imgproc-cascades-XXXXXX";
    if (!::mkdtemp(pattern))
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~scratch_folder() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST_F(local_detectors, the_cascade_folder_is_an_option_and_an_environment_variable) {
  namespace fs = std::filesystem;
  const fs::path installed = default_cascade_root;
  const std::string face = "haarcascade_frontalface_default";
  scratch_folder one_cascade;
  fs::create_directories(fs::path{one_cascade.path} / "haarcascades");
  fs::copy_file(installed / "haarcascades" / (face + ".xml"),
                fs::path{one_cascade.path} / "haarcascades" / (face + ".xml"));
  {
    // --cascade-dir: the step offers exactly the folder's cascades, and the detectors read them
    // from there (the shipped face pipeline still finds Messi's face).
    service_stack stack{with_args({"--cascade-dir=" + one_cascade.path})};
    EXPECT_EQ(offered_cascades(stack), std::vector<std::string>{face});
    auto body = run_pipeline(stack, "face-detection", read_file(sample_photo_dir() + "messi5.jpg"),
                             "messi5.jpg");
    EXPECT_EQ(body["status"], "detected") << body;
  }
  {
    // IMGPROC_CASCADE_DIR (inherited by the imgproc the stack starts): a folder with none, so
    // the step is not offered.
    scratch_folder empty;
    ::setenv("IMGPROC_CASCADE_DIR", empty.path.c_str(), 1);
    std::optional<std::vector<std::string>> offered;
    try {
      service_stack stack;
      offered = offered_cascades(stack);
    } catch (...) {
      ::unsetenv("IMGPROC_CASCADE_DIR");
      throw;
    }
    ::unsetenv("IMGPROC_CASCADE_DIR");
    EXPECT_FALSE(offered) << "detect_cascade offered with no cascade installed";
  }
}

TEST_F(local_detectors, bad_detector_parameters_are_refused_when_saved_naming_step_and_parameter) {
  service_stack stack;
  auto refused = [&](json steps, const std::string& needle) {
    json body{{"title", "bad-detector"}, {"steps", std::move(steps)}};
    auto response = send_request("POST", stack.url("/pipelines"), body.dump());
    auto detail = expect_error(response, 422);
    EXPECT_NE(detail.find(needle), std::string::npos) << detail;
  };
  json decode{{"handler", "decode_jpeg"}};
  refused({decode, {{"handler", "detect_cascade"}, {"params", {{"cascade", "unicorns"}}}}},
          "step 2 (detect_cascade): parameter 'cascade' must be one of");
  refused({decode, {{"handler", "detect_people"}, {"params", {{"scale_factor", 5}}}}},
          "step 2 (detect_people): parameter 'scale_factor' must be in [1.01, 2]");
  refused({decode, {{"handler", "detect_people"}, {"params", {{"max_boxes", 0}}}}},
          "parameter 'max_boxes' must be in [1, 1000]");
  refused({decode, {{"handler", "detect_people"}, {"params", {{"scale_to_input", "yes"}}}}},
          "parameter 'scale_to_input' must be true or false");
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM pipelines WHERE title = "
                                      "'bad-detector'"),
            0);
}

} // namespace
} // namespace imgproc::testing::e2e
