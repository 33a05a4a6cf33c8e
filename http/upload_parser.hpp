#pragma once

// Parses the body of POST /process-image: a multipart/form-data body with one `image_file` file
// part and a `pipeline_id` (a form field, or the query parameter). Works on plain strings so it
// is tested without a server. The image is a view into `body`: nothing is copied.

#include "core/errors.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace imgproc {

struct process_upload {
  int pipeline_id = 0;
  std::string filename;   ///< sanitized
  std::string_view image; ///< view into the request body
};

struct dry_run_upload {
  std::string filename;        ///< sanitized
  std::string_view image;      ///< view into the request body
  std::string_view definition; ///< the `pipeline` field (JSON text), empty if not sent
};

/// The body of a dry run: multipart/form-data with one `image_file` JPEG part and, for an
/// unsaved pipeline (`needs_definition`), one `pipeline` field holding what POST /pipelines
/// takes. bad_request or unsupported_media_type as parse_process_upload().
result<dry_run_upload> parse_dry_run_upload(std::string_view content_type, std::string_view body,
                                            bool needs_definition);

/// `query_pipeline_id` is the query parameter if present. Fails with bad_request (missing or
/// duplicated parts, malformed multipart, bad id) or unsupported_media_type (not a JPEG).
result<process_upload> parse_process_upload(std::string_view content_type, std::string_view body,
                                            std::optional<std::string_view> query_pipeline_id);

} // namespace imgproc
