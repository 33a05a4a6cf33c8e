#pragma once

// Checks on what a client sends, before any work is queued. Input from the network is never
// trusted: ids are parsed strictly and file names are made safe to store and to echo back.

#include "core/errors.hpp"

#include <string>
#include <string_view>

namespace imgproc {

/// A positive 32-bit integer, digits only ("1", not "+1", " 1", "1.0" or "01x").
result<int> parse_pipeline_id(std::string_view text);

/// The base name (no directories), control characters removed, invalid UTF-8 replaced,
/// at most 255 bytes; "upload.jpg" if nothing is left.
std::string sanitize_filename(std::string_view name);

} // namespace imgproc
