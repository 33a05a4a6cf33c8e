#include "actors/messages.hpp"

#include "db/outage_log.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace imgproc {

caf::error to_caf_error(const failure& f) {
  return caf::error{static_cast<std::uint8_t>(f.code), error_category, caf::make_message(f.detail)};
}

caf::error database_away(const char* what, const std::exception& e) {
  db::outage_log::process().failed(what, e.what());
  return to_caf_error(make_failure(error_code::database_unavailable,
                                   std::string{"database unavailable: "} + what + " failed"));
}

failure from_caf_error(const caf::error& err) {
  if (err.category() == error_category) {
    std::string detail;
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      detail = ctx.get_as<std::string>(0);
    return make_failure(static_cast<error_code>(err.code()), detail);
  }
  if (err == caf::sec::request_timeout)
    return make_failure(error_code::deadline_exceeded, "the request ran out of time");
  return make_failure(error_code::internal, "actor system error: " + caf::to_string(err));
}

std::string render_error(std::uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = to_string(static_cast<error_code>(code));
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    out += ": " + ctx.get_as<std::string>(0);
  return out;
}

} // namespace imgproc
