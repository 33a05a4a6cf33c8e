#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace imgproc {

/// Standard base64 (RFC 4648, with padding). Appends to `out` so callers can reuse a buffer.
void base64_encode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

/// Strict decoding: only the standard alphabet, correct padding, length a multiple of 4.
/// ASCII whitespace (line breaks from some encoders) is skipped. nullopt if not base64.
std::optional<std::string> base64_decode(std::string_view in);

/// What base64_decode would return, checked without decoding: the decoded size, or nullopt if
/// the text is not valid base64. `head` receives up to its size() first decoded bytes (the rest
/// is not decoded at all), so that a caller can check a file signature cheaply.
std::optional<std::size_t> base64_check(std::string_view in, std::string& head);

} // namespace imgproc
