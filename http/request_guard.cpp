#include "http/request_guard.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace imgproc {
namespace {

/// The longest method kept (http_parser knows none longer than 11 bytes: MKCALENDAR, PROPPATCH,
/// UNSUBSCRIBE); a longer token is not HTTP, and the guard stops following.
constexpr std::size_t max_method_bytes = 24;
/// Enough of a header name to tell the three the guard cares about from any other.
constexpr std::size_t kept_name_bytes = 17; // "transfer-encoding"

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string limit_text(std::uint64_t service, const char* unit) {
  if (service == 0)
    return "";
  return ", over the limit of " + std::to_string(service) + unit;
}

} // namespace

std::string guard_verdict::json_body() const {
  std::string out = "{\"detail\":\"";
  for (char c : detail) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"}";
}

request_guard::request_guard(request_guard_limits limits) : limits_(limits) {}

void request_guard::start_request() {
  method_.clear();
  count_ = 0;
  value_bytes_ = 0;
  fields_ = 0;
  name_.clear();
  field_ = field::other;
  has_length_ = false;
  length_digits_ = false;
  length_spaces_ = false;
  length_ = 0;
  other_framing_ = false;
  value_pending_ = false;
  body_left_ = 0;
  expect_.clear();
  expects_continue_ = false;
  continue_due_ = false;
  state_ = state::method;
}

void request_guard::refuse(int status, std::string detail) {
  refusal_.status = status;
  refusal_.detail = std::move(detail);
  state_ = state::refused;
}

void request_guard::end_of_name() {
  if (count_ == 0) // ":value": http_parser refuses it
    return give_up();
  // http_parser still knows a name followed by spaces ("Content-Length  :").
  std::string_view name{name_};
  while (!name.empty() && name.back() == ' ')
    name.remove_suffix(1);
  if (!name_rest_blank_)
    name = {};
  if (name == "content-length") {
    // A second Content-Length (even an equal one) is an error to http_parser: RESTinio closes
    // the connection itself, as before.
    if (has_length_)
      return give_up();
    has_length_ = true;
    field_ = field::content_length;
  } else if (name == "transfer-encoding" || name == "upgrade") {
    other_framing_ = true;
    field_ = name == "upgrade" ? field::upgrade : field::transfer_encoding;
  } else if (name == "expect") {
    field_ = field::expect;
    expect_.clear();
  } else {
    field_ = field::other;
  }
  value_bytes_ = 0;
  state_ = state::before_value;
}

bool request_guard::count_value_byte() {
  // RESTinio refuses a value once the bytes http_parser hands it reach the cap: everything from
  // the first non-blank byte to the line end, trailing blanks and folded lines included.
  if (++value_bytes_ >= limits_.max_field_value_bytes) {
    refuse(431, "a request header value is " + std::to_string(limits_.max_field_value_bytes) +
                    " bytes or longer" + limit_text(limits_.service_header_bytes, " header bytes"));
    return false;
  }
  return true;
}

bool request_guard::value_byte(char c) {
  if (!count_value_byte())
    return false;
  if (field_ == field::expect && expect_.size() < 16)
    expect_ += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  if (field_ != field::content_length)
    return true;
  // http_parser's rules: digits, then only spaces; no sign, no tab, nothing else.
  if (is_digit(c)) {
    if (length_spaces_) {
      give_up();
      return false;
    }
    // http_parser's own overflow test: it fails the request at this digit.
    if (length_ > (std::numeric_limits<std::uint64_t>::max() - 10) / 10) {
      refuse(413, "the body's Content-Length is too large" +
                      limit_text(limits_.service_body_bytes ? limits_.service_body_bytes
                                                            : limits_.max_body_bytes,
                                 " bytes"));
      return false;
    }
    length_ = length_ * 10 + static_cast<std::uint64_t>(c - '0');
    length_digits_ = true;
    return true;
  }
  if (c == ' ' && length_digits_) {
    length_spaces_ = true;
    return true;
  }
  give_up();
  return false;
}

bool request_guard::end_of_value() {
  if (value_bytes_ >= limits_.max_field_value_bytes) { // only for a cap of 0: an empty value
    refuse(431, "a request header value is " + std::to_string(limits_.max_field_value_bytes) +
                    " bytes or longer" + limit_text(limits_.service_header_bytes, " header bytes"));
    return false;
  }
  if (field_ == field::expect) {
    std::string_view value{expect_};
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.remove_suffix(1);
    expects_continue_ = value == "100-continue";
  }
  if (field_ != field::content_length)
    return true;
  if (!length_digits_) { // an empty Content-Length: http_parser refuses it
    give_up();
    return false;
  }
  // RESTinio checks the length once the head is complete, at the LF of the empty line; this is
  // the first byte of a line after the value, never later.
  if (length_ > limits_.max_body_bytes) {
    auto limit = limits_.service_body_bytes ? limits_.service_body_bytes : limits_.max_body_bytes;
    refuse(413, "the body of " + std::to_string(length_) +
                    " bytes (Content-Length) is over the limit of " + std::to_string(limit) +
                    " bytes");
    return false;
  }
  return true;
}

bool request_guard::end_of_head() {
  // Transfer-Encoding (chunked bodies), Upgrade and CONNECT: the guard does not follow what comes
  // after such a head. RESTinio's own caps still apply to it (a chunked body over the body cap is
  // aborted by RESTinio, without an answer, as before): bodies of unknown length are not this
  // guard's business, and the service's clients send Content-Length.
  if (other_framing_ || method_ == "CONNECT") {
    give_up();
    return false;
  }
  body_left_ = has_length_ ? length_ : 0; // a request without Content-Length has no body
  state_ = body_left_ > 0 ? state::body : state::between;
  continue_due_ = expects_continue_ && body_left_ > 0;
  return true;
}

guard_verdict request_guard::feed(std::string_view chunk) {
  const std::size_t n = chunk.size();
  if (state_ == state::refused) {
    auto again = refusal_;
    again.passed = 0;
    return again;
  }
  std::size_t request_start = 0; // where the request being read began in this chunk
  std::size_t i = 0;
  while (i < n) {
    if (state_ == state::passthrough)
      return {n, 0, {}};
    if (state_ == state::refused) {
      auto verdict = refusal_;
      verdict.passed = request_start;
      return verdict;
    }
    if (state_ == state::body) {
      auto take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, n - i));
      if (take > 0)
        continue_due_ = false; // the client did not wait for it
      body_left_ -= take;
      i += take;
      if (body_left_ == 0) {
        state_ = state::between;
        request_start = i;
      }
      continue;
    }
    auto outcome = head_byte(chunk[i]);
    if (outcome == byte_outcome::again)
      continue;
    if (outcome == byte_outcome::head_done && state_ == state::between)
      request_start = i + 1;
    ++i;
  }
  if (state_ == state::refused) {
    auto verdict = refusal_;
    verdict.passed = request_start;
    return verdict;
  }
  return {n, 0, {}};
}

request_guard::byte_outcome request_guard::head_byte(char c) {
  switch (state_) {
    case state::between:
    case state::method:
    case state::before_target:
    case state::target:
    case state::version:
    case state::request_line_end:
      return request_line_byte(c);
    case state::line_start:
      return line_start_byte(c);
    case state::head_end:
      // Whatever follows the CR ends the head: a lenient http_parser takes any byte for the LF.
      return end_of_head() ? byte_outcome::head_done : byte_outcome::next;
    case state::field_name:
    case state::before_value:
    case state::value:
    case state::value_end:
    case state::empty_value_end:
      return field_byte(c);
    case state::body:
    case state::passthrough:
    case state::refused:
      break; // feed() handles these before reading a head byte
  }
  return byte_outcome::next;
}

request_guard::byte_outcome request_guard::request_line_byte(char c) {
  const bool line_end = c == '\r' || c == '\n';
  switch (state_) {
    case state::between:
      if (line_end) // empty lines before a request line are skipped, as http_parser does
        break;
      start_request();
      return byte_outcome::again; // c is the method's first byte
    case state::method:
      if (c == ' ') {
        state_ = state::before_target;
      } else if (line_end || method_.size() >= max_method_bytes) {
        give_up();
        return byte_outcome::again;
      } else {
        method_ += c;
      }
      break;
    case state::before_target:
      if (c == ' ')
        break;
      if (line_end) {
        give_up();
        return byte_outcome::again;
      }
      count_ = 0;
      state_ = state::target;
      return byte_outcome::again;
    case state::target:
      if (c == ' ') {
        count_ = 0;
        state_ = state::version;
      } else if (line_end) { // an HTTP/0.9 request line: no version
        state_ = c == '\r' ? state::request_line_end : state::line_start;
      } else if (++count_ > limits_.max_url_bytes) {
        refuse(414, "the request target is longer than " + std::to_string(limits_.max_url_bytes) +
                        " bytes" + limit_text(limits_.service_url_bytes, ""));
        return byte_outcome::again;
      }
      break;
    case state::version:
      // As a lenient http_parser reads it: blanks, 'H', four bytes it does not check ("TTP/"),
      // a digit, '.', a digit, then the line end.
      if (count_ == 0 && c == ' ')
        break;
      if ((count_ == 0 && c != 'H') || ((count_ == 5 || count_ == 7) && !is_digit(c)) ||
          (count_ == 6 && c != '.') || (count_ == 8 && !line_end)) {
        give_up();
        return byte_outcome::again;
      }
      if (count_ == 8)
        state_ = c == '\r' ? state::request_line_end : state::line_start;
      ++count_;
      break;
    case state::request_line_end:
      if (c != '\n') {
        give_up();
        return byte_outcome::again;
      }
      state_ = state::line_start;
      break;
    default:
      break; // head_byte() sends only the request line's states here
  }
  return byte_outcome::next;
}

request_guard::byte_outcome request_guard::line_start_byte(char c) {
  if (value_pending_ && (c == ' ' || c == '\t')) {
    // A folded line (obs-fold) continues the previous value. While that value is still
    // empty, http_parser takes its blanks for leading blanks (so "Content-Length:" then
    // " 5" is 5); after it, it hands the line, this blank included, to the value; on a
    // Content-Length with digits, only spaces may follow.
    value_pending_ = false;
    if (value_bytes_ == 0) {
      state_ = state::before_value;
      return byte_outcome::again;
    }
    state_ = state::value;
    if (field_ != field::content_length)
      return byte_outcome::again; // c is a value byte
    length_spaces_ = true;
    if (!count_value_byte())
      return byte_outcome::again;
    return byte_outcome::next;
  }
  if (value_pending_) {
    value_pending_ = false;
    if (!end_of_value())
      return byte_outcome::again;
  }
  if (c == '\r') {
    state_ = state::head_end;
  } else if (c == '\n') {
    return end_of_head() ? byte_outcome::head_done : byte_outcome::next;
  } else if (c == '\t') { // not a token byte, even to a lenient http_parser
    give_up();
    return byte_outcome::again;
  } else {
    // A new header. (Even one starting with a space: http_parser, built lenient, takes a
    // space for a token byte.)
    if (fields_ == limits_.max_field_count) {
      refuse(431, "the request has more than " + std::to_string(limits_.max_field_count) +
                      " header fields");
      return byte_outcome::again;
    }
    ++fields_;
    count_ = 0;
    name_.clear();
    name_rest_blank_ = true;
    field_ = field::other;
    state_ = state::field_name;
    return byte_outcome::again;
  }
  return byte_outcome::next;
}

request_guard::byte_outcome request_guard::field_byte(char c) {
  const bool line_end = c == '\r' || c == '\n';
  switch (state_) {
    case state::field_name:
      if (c == ':') {
        end_of_name();
      } else if (line_end) {
        give_up();
        return byte_outcome::again;
      } else if (++count_ > limits_.max_field_name_bytes) {
        refuse(431, "a request header name is longer than " +
                        std::to_string(limits_.max_field_name_bytes) + " bytes" +
                        limit_text(limits_.service_header_bytes, " header bytes"));
        return byte_outcome::again;
      } else if (name_.size() < kept_name_bytes) {
        name_ += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
      } else if (c != ' ') {
        name_rest_blank_ = false;
      }
      break;
    case state::before_value:
      if (c == ' ' || c == '\t')
        break;
      if (line_end) { // an empty value (so far: a folded line may follow)
        value_pending_ = true;
        state_ = c == '\r' ? state::empty_value_end : state::line_start;
        break;
      }
      state_ = state::value;
      return byte_outcome::again;
    case state::value:
      if (line_end) {
        // Final only once the next line is not a folded continuation of it.
        value_pending_ = true;
        state_ = c == '\r' ? state::value_end : state::line_start;
      } else if (!value_byte(c)) {
        return byte_outcome::again;
      }
      break;
    case state::value_end:
      if (c != '\n') { // an error to http_parser after a value
        give_up();
        return byte_outcome::again;
      }
      state_ = state::line_start;
      break;
    case state::empty_value_end:
      // After an empty value's CR, a lenient http_parser takes any byte for the LF.
      state_ = state::line_start;
      break;
    default:
      break; // head_byte() sends only a header field's states here
  }
  return byte_outcome::next;
}

} // namespace imgproc
