#pragma once

// multipart/form-data parsing on plain strings, shared by imgproc and ml_mock.
//
// This is the only translation unit of the project that includes RESTinio's multipart helpers:
// RESTinio 0.6.16's multipart_body.hpp defines non-inline functions, so two files including it
// cannot be linked into one program (the unit tests link both services' libraries).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

struct form_part {
  std::string name;
  std::optional<std::string> filename; ///< from `filename`, else the value part of `filename*`
  std::string_view body;               ///< a view into the parsed body: nothing is copied
};

struct form_data {
  bool is_multipart = false; ///< false: the content type is not multipart at all
  std::vector<form_part> parts;
  std::string error; ///< not empty: a multipart body that does not parse
};

form_data parse_form_data(std::string_view content_type, std::string_view body);

} // namespace imgproc
