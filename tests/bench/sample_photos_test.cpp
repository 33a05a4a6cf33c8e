// Where the tests and the benchmarks find opencv-doc's sample photos: IMGPROC_SAMPLE_PHOTOS when
// set, else where Debian installs them.

#include "bench/bench_images.hpp"
#include "tests/support/images.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <optional>
#include <string>

namespace imgproc {
namespace {

/// Sets (or, with nullopt, unsets) IMGPROC_SAMPLE_PHOTOS for one scope, restoring it after.
class photos_variable {
public:
  explicit photos_variable(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("IMGPROC_SAMPLE_PHOTOS"))
      old_ = old;
    if (value)
      ::setenv("IMGPROC_SAMPLE_PHOTOS", value->c_str(), 1);
    else
      ::unsetenv("IMGPROC_SAMPLE_PHOTOS");
  }
  ~photos_variable() {
    if (old_)
      ::setenv("IMGPROC_SAMPLE_PHOTOS", old_->c_str(), 1);
    else
      ::unsetenv("IMGPROC_SAMPLE_PHOTOS");
  }

private:
  std::optional<std::string> old_;
};

TEST(sample_photos, the_folder_is_debians_unless_the_variable_names_another) {
  {
    photos_variable unset{std::nullopt};
    EXPECT_EQ(testing::sample_photo_dir(), "/usr/share/doc/opencv-doc/examples/data/");
    EXPECT_EQ(bench::photo_dir(), bench::default_photo_dir);
  }
  {
    photos_variable set{std::string{"/srv/photos"}};
    EXPECT_EQ(testing::sample_photo_dir(), "/srv/photos/");
    EXPECT_EQ(testing::sample_photo_path(), "/srv/photos/licenseplate_motion.jpg");
    EXPECT_EQ(bench::photo_dir(), "/srv/photos");
  }
  {
    photos_variable empty{std::string{}};
    EXPECT_EQ(bench::photo_dir(), bench::default_photo_dir) << "an empty value is no value";
  }
}

} // namespace
} // namespace imgproc
