// libFuzzer target: POST /process-image's body parsing (http/upload_parser.cpp, which calls
// common/form_data.cpp and so RESTinio's multipart parser).
// Input: "<content-type>\n<body>". A leading '?' line is taken as the pipeline_id query
// parameter: "?<query>\n<content-type>\n<body>".
#include "http/upload_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::optional<std::string_view> query;
  if (!input.empty() && input.front() == '?') {
    auto nl = input.find('\n');
    if (nl == std::string_view::npos)
      return 0;
    query = input.substr(1, nl - 1);
    input.remove_prefix(nl + 1);
  }
  auto nl = input.find('\n');
  std::string_view content_type = input.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);

  auto r = imgproc::parse_process_upload(content_type, body, query);
  if (r) {
    // The image must be a view into the body, and the file name never empty.
    const auto& u = *r;
    if (u.image.empty() || u.image.data() < body.data() ||
        u.image.data() + u.image.size() > body.data() + body.size() || u.filename.empty() ||
        u.pipeline_id <= 0)
      std::abort();
  }
  return 0;
}
