#pragma once

// The dashboard's files (dashboard/*.html, *.js, *.css, *.svg), compiled into the binary so a
// deployed imgproc serves them with nothing beside it. The source file is generated at build time
// by cmake/embed_assets.cmake (see http/CMakeLists.txt); editing a file under dashboard/ and
// rebuilding updates it.

#include "common/static_asset.hpp"

#include <string_view>
#include <vector>

namespace imgproc {

/// The asset named `path`, a bare file name such as "index.html" or "app.js" (no directories:
/// anything with a '/' or "..", or an unknown name, is nullptr).
const static_asset* find_static_asset(std::string_view path);

/// The names of every embedded asset, sorted.
std::vector<std::string_view> static_asset_names();

} // namespace imgproc
