#pragma once

// The dashboard's files (dashboard/*.html, *.js, *.css, *.svg), compiled into the binary so a
// deployed imgproc serves them with nothing beside it. The source file is generated at build time
// by cmake/embed_assets.cmake (see http/CMakeLists.txt); editing a file under dashboard/ and
// rebuilding updates it.

#include <string_view>
#include <vector>

namespace imgproc {

struct static_asset {
  std::string_view content_type; ///< e.g. "text/html; charset=utf-8", "text/javascript"
  std::string_view body;         ///< the file's bytes, valid for the life of the program
};

/// The asset named `path`, a bare file name such as "index.html" or "app.js" (no directories:
/// anything with a '/' or "..", or an unknown name, is nullptr).
const static_asset* find_static_asset(std::string_view path);

/// The names of every embedded asset, sorted.
std::vector<std::string_view> static_asset_names();

} // namespace imgproc
