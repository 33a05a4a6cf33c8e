#include "core/upload.hpp"

namespace imgproc {

result<int> parse_pipeline_id(std::string_view text) {
  auto bad = [&] {
    return make_failure(error_code::bad_request, "pipeline_id must be a positive integer, got '" +
                                                     std::string{text.substr(0, 40)} + "'");
  };
  if (text.empty() || text.size() > 10)
    return bad();
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return bad();
    value = value * 10 + (c - '0');
  }
  if (value <= 0 || value > 2147483647LL)
    return bad();
  return static_cast<int>(value);
}

namespace {

/// Length of the valid UTF-8 sequence at `s[i]`, or 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80)
      return 0;
  if (n == 2 && c < 0xC2)
    return 0; // overlong
  if (n == 3) {
    unsigned cp = ((c & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
  }
  if (n == 4) {
    unsigned cp = ((c & 0x07) << 18) | ((byte(i + 1) & 0x3F) << 12) | ((byte(i + 2) & 0x3F) << 6) |
                  (byte(i + 3) & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF)
      return 0;
  }
  return n;
}

} // namespace

std::string sanitize_filename(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos)
    name = name.substr(slash + 1);
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    auto n = utf8_length(name, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool control = n == 1 && (c < 0x20 || c == 0x7F);
    if (!control) {
      if (out.size() + n > 255)
        break;
      out.append(name.substr(i, n));
    }
    i += n;
  }
  if (out.empty() || out == "." || out == "..")
    return "upload.jpg";
  return out;
}

} // namespace imgproc
