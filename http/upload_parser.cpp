#include "http/upload_parser.hpp"

#include "common/form_data.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/upload.hpp"

namespace imgproc {
namespace {

failure bad_request(std::string detail) {
  return make_failure(error_code::bad_request, std::move(detail));
}

/// The body as a multipart form, or why it is not one.
result<form_data> multipart_form(std::string_view content_type, std::string_view body) {
  auto form = parse_form_data(content_type, body);
  if (!form.is_multipart)
    return bad_request("the body must be multipart/form-data with an image_file part");
  if (!form.error.empty())
    return bad_request(form.error);
  return form;
}

/// The image_file part: present, not empty and a JPEG.
status check_image_part(const form_part* image) {
  if (!image)
    return bad_request("image_file is required (a multipart file part)");
  if (image->body.empty())
    return bad_request("image_file is empty");
  if (!looks_like_jpeg(image->body))
    return make_failure(error_code::unsupported_media_type,
                        "image_file is not a JPEG image (only JPEG is accepted)");
  return std::nullopt;
}

} // namespace

result<dry_run_upload> parse_dry_run_upload(std::string_view content_type, std::string_view body,
                                            bool needs_definition) {
  auto parsed = multipart_form(content_type, body);
  if (!parsed)
    return parsed.error();
  const auto& form = parsed.value();
  const form_part* image = nullptr;
  const form_part* definition = nullptr;
  for (const auto& part : form.parts) {
    if (part.name == "image_file") {
      if (image)
        return bad_request("image_file was sent more than once");
      image = &part;
    } else if (part.name == "pipeline") {
      if (definition)
        return bad_request("pipeline was sent more than once");
      definition = &part;
    }
  }
  if (needs_definition && (!definition || definition->body.empty()))
    return bad_request("pipeline is required: the definition to run, as POST /pipelines takes it");
  if (!needs_definition && definition)
    return bad_request("pipeline is only for POST /pipelines/dry-run: this runs the stored one");
  if (auto err = check_image_part(image))
    return *err;
  dry_run_upload out;
  out.filename = sanitize_filename(image->filename.value_or(""));
  out.image = image->body;
  if (definition)
    out.definition = definition->body;
  return out;
}

result<process_upload> parse_process_upload(std::string_view content_type, std::string_view body,
                                            std::optional<std::string_view> query_pipeline_id) {
  auto parsed = multipart_form(content_type, body);
  if (!parsed)
    return parsed.error();
  const auto& form = parsed.value();

  const form_part* image = nullptr;
  std::optional<std::string_view> form_pipeline_id;
  for (const auto& part : form.parts) {
    if (part.name == "image_file") {
      if (image)
        return bad_request("image_file was sent more than once");
      image = &part;
    } else if (part.name == "pipeline_id") {
      if (form_pipeline_id)
        return bad_request("pipeline_id was sent more than once");
      form_pipeline_id = part.body;
    }
    // Other fields are ignored, as the original service did.
  }

  std::string_view id_text;
  if (query_pipeline_id && form_pipeline_id && *query_pipeline_id != *form_pipeline_id)
    return bad_request("pipeline_id differs between the query and the form");
  if (query_pipeline_id)
    id_text = *query_pipeline_id;
  else if (form_pipeline_id)
    id_text = *form_pipeline_id;
  else
    return bad_request("pipeline_id is required (query parameter or form field)");
  auto pipeline_id = parse_pipeline_id(id_text);
  if (!pipeline_id)
    return pipeline_id.error();

  if (auto err = check_image_part(image))
    return *err;

  process_upload out;
  out.pipeline_id = *pipeline_id;
  out.filename = sanitize_filename(image->filename.value_or(""));
  out.image = image->body;
  return out;
}

} // namespace imgproc
