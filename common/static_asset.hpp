#pragma once

#include <string_view>

namespace imgproc {

/// A file compiled into the binary by cmake/embed_assets.cmake.
struct static_asset {
  std::string_view content_type; ///< e.g. "text/html; charset=utf-8", "application/json"
  std::string_view body;         ///< the file's bytes, valid for the life of the program
};

} // namespace imgproc
