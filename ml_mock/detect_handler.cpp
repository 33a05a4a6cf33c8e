#include "ml_mock/detect_handler.hpp"

#include "common/base64.hpp"
#include "common/form_data.hpp"
#include "ml_mock/box_generator.hpp"

#include <nlohmann/json.hpp>

namespace imgproc::ml_mock {
namespace {

// Where the base64 text is, or why the request is bad (`error` not empty).
struct image_text {
  std::string_view text;
  std::string error;
};

image_text bad(std::string error) {
  return {{}, std::move(error)};
}

image_text find_image_text(std::string_view content_type, std::string_view body) {
  auto form = parse_form_data(content_type, body);
  // Anything that is not multipart (text/plain, curl's default form type, none) is raw base64.
  if (!form.is_multipart)
    return {body, {}};
  if (!form.error.empty())
    return bad(body.empty() ? "empty request body" : form.error);
  // The Python client sent the text as a file part; a plain field does as well: only the name
  // matters.
  for (const auto& part : form.parts)
    if (part.name == "image")
      return {part.body, {}};
  return bad("multipart body has no 'image' part");
}

// `[]` for nothing, else the one box itself as a flat array (the original mock's format).
std::string answer_json(const std::optional<box>& found) {
  if (!found)
    return "[]";
  return nlohmann::json::array({found->x, found->y, found->w, found->h, found->conf, found->label})
      .dump();
}

} // namespace

http_reply error_reply(int status, std::string_view detail) {
  return {status, nlohmann::json{{"detail", detail}}.dump()};
}

http_reply handle_detect(box_generator& boxes, std::string_view content_type, std::string_view body,
                         std::size_t max_body_bytes) {
  if (body.size() > max_body_bytes)
    return error_reply(413,
                       "request body is larger than " + std::to_string(max_body_bytes) + " bytes");
  if (body.empty())
    return error_reply(400, "empty request body: expected the image as base64 text");
  auto found = find_image_text(content_type, body);
  if (!found.error.empty())
    return error_reply(400, found.error);
  // The mock is the test rig, and its answer is random anyway: it checks the text is base64 and
  // the image starts like a JPEG or PNG, without decoding either.
  std::string head(8, '\0');
  auto size = base64_check(found.text, head);
  if (!size)
    return error_reply(400, "image is not valid base64");
  // Covers an empty part and a body of only whitespace.
  if (*size == 0)
    return error_reply(400, "image is empty");
  bool jpeg = head.size() >= 3 && head.compare(0, 3, "\xFF\xD8\xFF") == 0;
  bool png = head.size() >= 8 && head.compare(0, 8, "\x89PNG\r\n\x1A\n") == 0;
  if (!jpeg && !png)
    return error_reply(400, "image is neither a JPEG nor a PNG (no JPEG or PNG signature)");
  return {200, answer_json(boxes.next())};
}

} // namespace imgproc::ml_mock
