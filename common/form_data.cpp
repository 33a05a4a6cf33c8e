#include "common/form_data.hpp"

#include <restinio/helpers/http_field_parsers/content-disposition.hpp>
#include <restinio/helpers/http_field_parsers/content-type.hpp>
#include <restinio/helpers/multipart_body.hpp>

namespace imgproc {
namespace {

namespace hfp = restinio::http_field_parsers;
namespace mp = restinio::multipart_body;

std::string_view to_std(restinio::string_view_t v) {
  return {v.data(), v.size()};
}

form_data failed(std::string error) {
  form_data out;
  out.is_multipart = true;
  out.error = std::move(error);
  return out;
}

/// The filename parameter as the client wrote it, backslashes kept: browsers send a path's
/// backslashes as they are (HTML escapes only '"', CR and LF), while a quoted-string parser
/// takes each as an escape and turns `C:\x\y.jpg` into `C:xy.jpg`. Only `\"` is an escape.
std::optional<std::string> raw_quoted_filename(std::string_view disposition) {
  for (std::size_t at = 0; (at = disposition.find("filename=\"", at)) != std::string_view::npos;
       ++at) {
    if (at > 0 && disposition[at - 1] != ' ' && disposition[at - 1] != ';' &&
        disposition[at - 1] != '\t')
      continue; // part of another parameter's name
    std::string out;
    for (std::size_t i = at + 10; i < disposition.size(); ++i) {
      char c = disposition[i];
      if (c == '"')
        return out;
      if (c == '\\' && i + 1 < disposition.size() && disposition[i + 1] == '"')
        c = disposition[++i];
      out += c;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

form_data parse_form_data(std::string_view content_type, std::string_view body) {
  auto type = hfp::content_type_value_t::try_parse({content_type.data(), content_type.size()});
  if (!type || !restinio::impl::is_equal_caseless(type->media_type.type, "multipart"))
    return {};
  if (!restinio::impl::is_equal_caseless(type->media_type.subtype, "form-data"))
    return failed("multipart body that is not multipart/form-data");
  auto boundary = hfp::find_first(type->media_type.parameters, "boundary");
  if (!boundary || mp::check_boundary_value(*boundary))
    return failed("multipart/form-data without a valid boundary parameter");
  std::string mark = "--";
  mark.append(boundary->data(), boundary->size());
  auto raw_parts = mp::split_multipart_body({body.data(), body.size()}, mark);
  if (raw_parts.empty())
    return failed("malformed multipart body: no parts found");

  form_data out;
  out.is_multipart = true;
  for (auto raw : raw_parts) {
    auto part = mp::try_parse_part(raw);
    if (!part)
      return failed("malformed multipart part");
    auto disposition = part->fields.opt_value_of(restinio::http_field::content_disposition);
    if (!disposition)
      return failed("multipart part without Content-Disposition");
    auto value = hfp::content_disposition_value_t::try_parse(*disposition);
    if (!value || value->value != "form-data")
      return failed("multipart part with a malformed Content-Disposition");
    auto name = hfp::find_first(value->parameters, "name");
    if (!name)
      return failed("multipart part without a name");
    form_part info;
    info.name = std::string{to_std(*name)};
    if (auto filename = hfp::find_first(value->parameters, "filename")) {
      info.filename = std::string{to_std(*filename)};
      auto raw = to_std(*disposition);
      if (raw.find('\\') != std::string_view::npos)
        if (auto as_written = raw_quoted_filename(raw))
          info.filename = std::move(*as_written);
    } else if (auto star = hfp::find_first(value->parameters, "filename*")) {
      // RFC 5987: charset'language'percent-encoded; keep the text after the last quote.
      auto text = to_std(*star);
      auto quote = text.rfind('\'');
      info.filename = std::string{quote == std::string_view::npos ? text : text.substr(quote + 1)};
    }
    info.body = to_std(part->body);
    out.parts.push_back(std::move(info));
  }
  return out;
}

} // namespace imgproc
