#pragma once

// Follows the HTTP/1.1 request framing of one connection's incoming bytes, ahead of RESTinio, and
// spots a request over RESTinio's own transport caps (restinio::incoming_http_msg_limits_t).
// RESTinio aborts such a request by closing the connection without a word (its http_parser
// callback returns -1); the guard lets http/guarded_socket.hpp answer it first with a JSON 413,
// 414 or 431. The caps are the ones RESTinio is configured with, checked the way RESTinio checks
// them (impl/parser_callbacks.ipp over http_parser 2.9.4), so the guard refuses only requests
// RESTinio would abort, and always no later than RESTinio would see the offending byte. Requests
// merely over the service's own limits pass: their handlers answer them.
//
// Plain C++: no RESTinio or asio here. Memory is bounded whatever the input: the guard counts
// bytes and keeps only a few short tokens (the method, a header name up to 17 bytes).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace imgproc {

struct request_guard_limits {
  // RESTinio's caps (what triggers a refusal), as in restinio::incoming_http_msg_limits_t.
  std::size_t max_url_bytes = std::numeric_limits<std::size_t>::max(); ///< longer target: 414
  std::size_t max_field_name_bytes = std::numeric_limits<std::size_t>::max(); ///< longer: 431
  /// A header value of this many bytes or more: 431 (RESTinio refuses a value of exactly the cap).
  std::size_t max_field_value_bytes = std::numeric_limits<std::size_t>::max();
  std::size_t max_field_count = std::numeric_limits<std::size_t>::max();    ///< more fields: 431
  std::uint64_t max_body_bytes = std::numeric_limits<std::uint64_t>::max(); ///< larger: 413

  // The service's own limits, named in the answers (0: the answer names the cap only).
  std::size_t service_url_bytes = 0;
  std::size_t service_header_bytes = 0;
  std::uint64_t service_body_bytes = 0;
};

struct guard_verdict {
  /// Bytes of the chunk that belong to requests the guard lets through: all of them on a pass;
  /// on a refusal, where the refused request begins in the chunk (0 when it began earlier).
  std::size_t passed = 0;
  int status = 0;     ///< 0: pass; else 413, 414 or 431
  std::string detail; ///< on a refusal, what is wrong, for the client

  bool refused() const { return status != 0; }
  /// {"detail":"..."}, the service's error shape.
  std::string json_body() const;
};

class request_guard {
public:
  explicit request_guard(request_guard_limits limits = {});

  /// The next bytes of the connection, in order, in chunks of any size. After a refusal every
  /// later call repeats it (with passed = 0): the connection is done.
  guard_verdict feed(std::string_view chunk);

  /// False once the guard stopped following the framing (see give_up()): everything passes.
  bool following() const { return state_ != state::passthrough; }
  /// The method of the request being read (or refused), if short; for the log.
  const std::string& method() const { return method_; }
  /// The Content-Length of the request being read (or refused) so far; 0 if none is known.
  std::uint64_t content_length() const { return has_length_ ? length_ : 0; }
  /// True between requests: every request so far was read whole (its body included), and nothing
  /// of another one has come yet.
  bool between_requests() const { return state_ == state::between; }
  /// True once after a head that asked `Expect: 100-continue` and was accepted, while none of
  /// its body has arrived: the socket answers `100 Continue` then (RESTinio does not), so that a
  /// client waiting for it (curl and libcurl do, for a second) sends the body at once.
  bool take_continue() {
    bool due = continue_due_;
    continue_due_ = false;
    return due;
  }

private:
  enum class state : unsigned char {
    between,          ///< before a request line (http_parser skips empty lines there)
    method,           ///< the method token
    before_target,    ///< spaces after the method
    target,           ///< the request target
    version,          ///< the HTTP version and the request line's end
    request_line_end, ///< CR ending the request line seen, LF expected
    line_start,       ///< the start of a header line, or of the empty line ending the head
    head_end,         ///< CR of the empty line seen: the next byte ends the head
    field_name,       ///< a header name, up to ':'
    before_value,     ///< optional whitespace after ':'
    value,            ///< a header value, up to CR or LF
    value_end,        ///< CR after a value seen, LF expected (the value is pending: see line_start)
    empty_value_end,  ///< CR after an empty value seen: the next byte is taken for the LF
    body,             ///< skipping Content-Length bytes of body
    passthrough,      ///< no longer following: everything passes
    refused,          ///< a request was refused: the connection is done
  };
  enum class field : unsigned char { other, content_length, transfer_encoding, upgrade, expect };
  /// What reading one byte of a head did: `next` used it; `again` changed state, and the same
  /// byte is read again in the new one; `head_done` used it and it ended a head.
  enum class byte_outcome : unsigned char { next, again, head_done };

  /// Reads one byte of a head in the current state (not body, passthrough or refused).
  byte_outcome head_byte(char c);
  byte_outcome request_line_byte(char c);
  byte_outcome line_start_byte(char c);
  byte_outcome field_byte(char c);

  void start_request();
  void end_of_name();
  /// Counts a value byte: false if that makes the request refused.
  bool count_value_byte();
  /// Whether the value byte `c` keeps the request acceptable so far and followed; false if the
  /// request is refused or the guard gave up.
  bool value_byte(char c);
  /// The header's value has ended (the line after it is not a folded one): false if the request
  /// is refused or the guard gave up.
  bool end_of_value();
  /// False if the head makes the request refused; else moves to body or between.
  bool end_of_head();
  void give_up() { state_ = state::passthrough; }
  void refuse(int status, std::string detail);

  request_guard_limits limits_;
  state state_ = state::between;
  guard_verdict refusal_;

  // The request being read.
  std::string method_;
  std::size_t count_ = 0;       ///< bytes of the current token (target, version, name)
  std::size_t value_bytes_ = 0; ///< bytes of the current header value, folded lines included
  std::size_t fields_ = 0;      ///< header fields so far
  std::string name_;            ///< the current header name, lowercased, at most 17 bytes
  bool name_rest_blank_ = true; ///< the name's bytes after those 17 are all spaces
  field field_ = field::other;
  bool has_length_ = false;
  bool length_digits_ = false; ///< a Content-Length digit seen in the current value
  bool length_spaces_ = false; ///< spaces after the Content-Length digits
  std::uint64_t length_ = 0;
  /// Transfer-Encoding, Upgrade or CONNECT: not followed past the head.
  bool other_framing_ = false;
  /// A value's line ended; the next line may still continue it (a folded line).
  bool value_pending_ = false;
  std::uint64_t body_left_ = 0;
  std::string expect_; ///< the Expect value, lowercased, its first 16 bytes
  bool expects_continue_ = false;
  bool continue_due_ = false;
};

} // namespace imgproc
