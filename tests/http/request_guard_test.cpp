// request_guard (http/request_guard.hpp): refuses what RESTinio would abort, no later than
// RESTinio sees it, and nothing else. Checked by hand on each cap and framing rule, and against
// RESTinio's own cap checks run on the real http_parser (the oracle below), over generated
// requests cut into chunks of every size.

#include "http/request_guard.hpp"

#include <climits>
#include <gtest/gtest.h>
#include <http_parser.h>
#include <random>
#include <string>
#include <vector>

namespace imgproc {
namespace {

// --- the oracle: what RESTinio 0.6.16 does with the same bytes ---------------------------------

/// RESTinio's cap checks (restinio/impl/parser_callbacks.ipp: url, header field, header value,
/// headers complete, body) on http_parser 2.9.4, fed as RESTinio's connection feeds it: chunk by
/// chunk, and after a complete message the parser is reset and given the rest of the chunk.
class restinio_oracle {
public:
  enum class outcome { reading, cap_abort, parse_error };

  explicit restinio_oracle(const request_guard_limits& limits) : limits_(limits) {
    settings_.on_url = [](http_parser* p, const char*, size_t n) {
      auto& o = self(p);
      o.url_ += n;
      return o.url_ > o.limits_.max_url_bytes ? -1 : 0;
    };
    settings_.on_header_field = [](http_parser* p, const char*, size_t n) {
      auto& o = self(p);
      if (o.last_was_value_) {
        if (o.fields_ == o.limits_.max_field_count)
          return -1;
        o.name_ = n;
        o.last_was_value_ = false;
      } else {
        o.name_ += n;
      }
      return o.name_ > o.limits_.max_field_name_bytes ? -1 : 0;
    };
    settings_.on_header_value = [](http_parser* p, const char*, size_t n) {
      auto& o = self(p);
      if (!o.last_was_value_) {
        o.value_ = n;
        o.last_was_value_ = true;
        ++o.fields_;
      } else {
        o.value_ += n;
      }
      return o.value_ >= o.limits_.max_field_value_bytes ? -1 : 0;
    };
    settings_.on_headers_complete = [](http_parser* p) {
      auto& o = self(p);
      if (p->content_length != ULLONG_MAX && p->content_length > 0 &&
          p->content_length > o.limits_.max_body_bytes)
        return -1;
      return 0;
    };
    settings_.on_body = [](http_parser* p, const char*, size_t n) {
      auto& o = self(p);
      o.body_ += n;
      return o.body_ > o.limits_.max_body_bytes ? -1 : 0;
    };
    settings_.on_message_complete = [](http_parser* p) {
      http_parser_pause(p, 1);
      self(p).complete_ = true;
      return 0;
    };
    reset();
  }

  outcome feed(std::string_view chunk) {
    while (state_ == outcome::reading && !chunk.empty()) {
      auto parsed = http_parser_execute(&parser_, &settings_, chunk.data(), chunk.size());
      auto error = HTTP_PARSER_ERRNO(&parser_);
      if (error != HPE_OK && error != HPE_PAUSED) {
        // Only the cap checks above make a callback fail.
        state_ = error >= HPE_CB_message_begin && error <= HPE_CB_chunk_complete
                     ? outcome::cap_abort
                     : outcome::parse_error;
        break;
      }
      chunk.remove_prefix(parsed);
      if (complete_) {
        ++messages_;
        reset();
      }
    }
    return state_;
  }

  outcome state() const { return state_; }
  int messages() const { return messages_; }

private:
  static restinio_oracle& self(http_parser* p) { return *static_cast<restinio_oracle*>(p->data); }

  void reset() {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    url_ = name_ = value_ = fields_ = 0;
    body_ = 0;
    last_was_value_ = true;
    complete_ = false;
  }

  request_guard_limits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  std::size_t url_ = 0, name_ = 0, value_ = 0, fields_ = 0;
  std::uint64_t body_ = 0;
  bool last_was_value_ = true;
  bool complete_ = false;
  int messages_ = 0;
  outcome state_ = outcome::reading;
};

// --- helpers
// --------------------------------------------------------------------------------------

request_guard_limits small_limits() {
  request_guard_limits l;
  l.max_url_bytes = 40;
  l.max_field_name_bytes = 20;
  l.max_field_value_bytes = 30;
  l.max_field_count = 6;
  l.max_body_bytes = 50;
  return l;
}

/// The first refusal when `input` is fed in chunks of `step` bytes (0: all at once), with the
/// index of the chunk and the verdict; `chunk` is -1 if everything passed.
struct fed {
  int chunk = -1;
  guard_verdict verdict;
  bool following = true;
};

fed feed_in_steps(const std::string& input, std::size_t step,
                  const request_guard_limits& limits = small_limits()) {
  request_guard guard{limits};
  fed out;
  if (step == 0)
    step = input.size() ? input.size() : 1;
  int index = 0;
  for (std::size_t at = 0; at < input.size(); at += step, ++index) {
    auto chunk = std::string_view{input}.substr(at, step);
    auto v = guard.feed(chunk);
    if (v.refused()) {
      out.chunk = index;
      out.verdict = v;
      break;
    }
    EXPECT_EQ(v.passed, chunk.size());
  }
  out.following = guard.following();
  return out;
}

/// The status the guard gives `input` (0: passes), the same whether it comes at once, byte by
/// byte or in 7-byte chunks.
int status_of(const std::string& input, const request_guard_limits& limits = small_limits()) {
  auto whole = feed_in_steps(input, 0, limits);
  auto bytes = feed_in_steps(input, 1, limits);
  auto sevens = feed_in_steps(input, 7, limits);
  EXPECT_EQ(whole.verdict.status, bytes.verdict.status) << input;
  EXPECT_EQ(whole.verdict.status, sevens.verdict.status) << input;
  EXPECT_EQ(whole.verdict.detail, bytes.verdict.detail);
  return whole.verdict.status;
}

std::string get(std::size_t target_bytes, const std::string& headers = "") {
  std::string target = "/" + std::string(target_bytes - 1, 'a');
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
}

std::string post(const std::string& body, const std::string& extra_headers = "") {
  return "POST /p HTTP/1.1\r\nHost: x\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// --- the caps, one by one ------------------------------------------------------------------------

TEST(request_guard, passes_ordinary_requests) {
  EXPECT_EQ(status_of(get(10)), 0);
  EXPECT_EQ(status_of(post("hello")), 0);
  EXPECT_EQ(status_of(post("hello") + get(5) + post(std::string(50, 'b'))), 0);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 0);
}

TEST(request_guard, request_target_over_the_cap_is_414) {
  EXPECT_EQ(status_of(get(40)), 0);
  EXPECT_EQ(status_of(get(41)), 414);
  auto f = feed_in_steps(get(5000), 0);
  EXPECT_EQ(f.verdict.status, 414);
  EXPECT_EQ(f.verdict.detail, "the request target is longer than 40 bytes");
  // Refused at the 41st byte of the target, without waiting for the line to end.
  auto bytes = feed_in_steps(get(5000), 1);
  EXPECT_EQ(bytes.chunk, 4 + 41 - 1);
  // Extra spaces before the target are not part of it (http_parser skips them).
  EXPECT_EQ(status_of("GET    /" + std::string(39, 'a') + " HTTP/1.1\r\n\r\n"), 0);
}

TEST(request_guard, answers_name_the_service_limits) {
  auto limits = small_limits();
  limits.service_url_bytes = 20;
  limits.service_header_bytes = 15;
  limits.service_body_bytes = 25;
  EXPECT_EQ(feed_in_steps(get(41), 0, limits).verdict.detail,
            "the request target is longer than 40 bytes, over the limit of 20");
  EXPECT_EQ(feed_in_steps(get(2, "X: " + std::string(30, 'v') + "\r\n"), 0, limits).verdict.detail,
            "a request header value is 30 bytes or longer, over the limit of 15 header bytes");
  EXPECT_EQ(feed_in_steps(post(std::string(51, 'b')), 0, limits).verdict.detail,
            "the body of 51 bytes (Content-Length) is over the limit of 25 bytes");
}

TEST(request_guard, header_name_over_the_cap_is_431) {
  EXPECT_EQ(status_of(get(2, std::string(20, 'N') + ": v\r\n")), 0);
  EXPECT_EQ(status_of(get(2, std::string(21, 'N') + ": v\r\n")), 431);
  EXPECT_EQ(feed_in_steps(get(2, std::string(21, 'N') + ": v\r\n"), 0).verdict.detail,
            "a request header name is longer than 20 bytes");
}

TEST(request_guard, header_value_at_the_cap_is_431) {
  // RESTinio refuses a value of exactly the cap (>=); trailing blanks count, leading ones not.
  EXPECT_EQ(status_of(get(2, "X: " + std::string(29, 'v') + "\r\n")), 0);
  EXPECT_EQ(status_of(get(2, "X: " + std::string(30, 'v') + "\r\n")), 431);
  EXPECT_EQ(status_of(get(2, "X:\t   " + std::string(29, 'v') + "\r\n")), 0);
  EXPECT_EQ(status_of(get(2, "X: " + std::string(28, 'v') + "  \r\n")), 431);
  // A folded line adds to the value it continues, its leading blanks included.
  EXPECT_EQ(
      status_of(get(2, "X: " + std::string(20, 'v') + "\r\n " + std::string(8, 'w') + "\r\n")), 0);
  EXPECT_EQ(
      status_of(get(2, "X: " + std::string(20, 'v') + "\r\n " + std::string(9, 'w') + "\r\n")),
      431);
}

TEST(request_guard, folded_lines_as_http_parser_reads_them) {
  // While a value is empty, a folded line's blanks are leading blanks: not counted.
  EXPECT_EQ(status_of(get(2, "X:\r\n \t " + std::string(29, 'v') + "\r\n")), 0);
  EXPECT_EQ(status_of(get(2, "X: \r\n  \r\n  " + std::string(29, 'v') + "\r\n")), 0);
  EXPECT_EQ(status_of(get(2, "X: \r\n " + std::string(30, 'v') + "\r\n")), 431);
  // Even for a Content-Length.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length:\r\n 51\r\n\r\n"), 413);
  auto ok = feed_in_steps("POST /p HTTP/1.1\r\nContent-Length:\r\n 5\r\n\r\nhello" + get(10), 1);
  EXPECT_EQ(ok.verdict.status, 0);
  EXPECT_TRUE(ok.following);
  // A folded line before any header, or more digits folded into a Content-Length: errors to
  // http_parser; the guard passes.
  EXPECT_FALSE(feed_in_steps("POST /p HTTP/1.1\r\nContent-Length: 5\r\n 5\r\n\r\n", 0).following);
  // Blanks folded after a Content-Length are fine.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 51\r\n\t \r\n\r\n"), 413);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\t \r\n\r\nhello" + get(41)), 414);
}

TEST(request_guard, lenient_http_parser_quirks) {
  // Debian's http_parser is built lenient (HTTP_PARSER_STRICT 0), and RESTinio frames requests
  // as it does:
  // - a space is a token byte: a line starting with one right after the request line is a
  //   header name (after a header, it is a folded line);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n " + std::string(20, 'N') + ": v\r\n\r\n"), 431);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n " + std::string(19, 'N') + ": v\r\n\r\n" + get(41)), 414);
  // - after the CR ending the head, or an empty value, any byte is taken for the LF;
  EXPECT_EQ(
      status_of("GET / HTTP/1.1\r\nX: v\r\n\r\rGET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n"),
      414);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX:\rZ" + std::string(21, 'N') + ": v\r\n\r\n"), 431);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX:\rZ" + std::string(20, 'N') + ": v\r\n\r\n"), 0);
  // - "HTTP/" is read as 'H' and any four bytes;
  EXPECT_EQ(status_of("GET / H\nT\r/1.1\r\n\r\n" + get(41)), 414);
  EXPECT_FALSE(feed_in_steps("GET / XTTP/1.1\r\n\r\n" + get(41), 0).following);
  EXPECT_FALSE(feed_in_steps("GET / HTTP/11\r\n\r\n" + get(41), 0).following);
  // - a header name followed by spaces is still known ("Content-Length  :").
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length   : 51\r\n\r\n"), 413);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length" + std::string(4, ' ') +
                      ": 5\r\n\r\nhello" + get(41)),
            414);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length  x: 51\r\n\r\n"), 0);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\n Content-Length: 51\r\n\r\n"), 0);
}

TEST(request_guard, too_many_fields_is_431) {
  std::string six, seven;
  for (int i = 0; i < 5; ++i) // plus Host
    six += "F" + std::to_string(i) + ": v\r\n";
  seven = six + "F9: v\r\n";
  EXPECT_EQ(status_of(get(2, six)), 0);
  EXPECT_EQ(status_of(get(2, seven)), 431);
}

TEST(request_guard, content_length_over_the_cap_is_413) {
  EXPECT_EQ(status_of(post(std::string(50, 'b'))), 0);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 51\r\n\r\n"), 413);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 3145728\r\n\r\n"), 413);
  // Refused as soon as the Content-Length line is known to be over (the next line is not a
  // folded continuation): before the head is complete, and the body need not come at all.
  const std::string head = "POST /p HTTP/1.1\r\nContent-Length: 51\r\n";
  auto bytes = feed_in_steps(head + "X: y\r\n\r\n", 1);
  EXPECT_EQ(bytes.verdict.status, 413);
  EXPECT_EQ(static_cast<std::size_t>(bytes.chunk), head.size()); // the next line's first byte
  EXPECT_EQ(feed_in_steps(head + "\r\n", 1).chunk, static_cast<int>(head.size()));
}

TEST(request_guard, content_length_with_blanks_as_http_parser_reads_it) {
  // Blanks before the digits (spaces, tabs) and spaces after them are fine.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length:  \t 51  \r\n\r\n"), 413);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 0051\r\n\r\n"), 413);
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\ncontent-LENGTH: 51\r\n\r\n"), 413);
  // The body after an accepted length with blanks is skipped: what follows is the next request.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 5  \r\n\r\nhello" + get(41)), 414);
}

TEST(request_guard, malformed_content_length_passes) {
  // http_parser refuses these itself and RESTinio closes the connection, as before: the guard
  // stops following and lets everything through.
  for (const std::string& value :
       std::vector<std::string>{"5\t", "5 5", "+51", "-5", "x", "", "51x", "0x40"}) {
    auto f =
        feed_in_steps("POST /p HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\n" + get(100), 1);
    EXPECT_EQ(f.verdict.status, 0) << value;
    EXPECT_FALSE(f.following) << value;
  }
}

TEST(request_guard, huge_content_lengths_are_413) {
  // As large as http_parser reads: refused at the end of the line.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 18446744073709551609\r\n\r\n"), 413);
  // Larger: http_parser fails the request at the 20th digit; the guard refuses there too.
  const std::string head = "POST /p HTTP/1.1\r\nContent-Length: 18446744073709551615";
  auto bytes = feed_in_steps(head, 1);
  EXPECT_EQ(bytes.verdict.status, 413);
  EXPECT_EQ(static_cast<std::size_t>(bytes.chunk), head.size() - 1);
  EXPECT_EQ(bytes.verdict.detail, "the body's Content-Length is too large, over the limit of 50 "
                                  "bytes");
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: " + std::string(400, '9') + "\r\n\r\n"),
            413);
  // Even with no body cap at all.
  request_guard_limits unlimited;
  EXPECT_EQ(
      status_of("POST /p HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", unlimited),
      413);
  EXPECT_EQ(
      status_of("POST /p HTTP/1.1\r\nContent-Length: 18446744073709551609\r\n\r\n", unlimited), 0);
}

TEST(request_guard, tells_the_declared_length) {
  // What the socket drains after a refusal depends on it.
  request_guard guard{small_limits()};
  EXPECT_EQ(guard.content_length(), 0u);
  guard.feed("POST /p HTTP/1.1\r\nContent-Length: 12\r\n\r\nhello");
  EXPECT_EQ(guard.content_length(), 12u);
  EXPECT_EQ(guard.feed("-world!" + get(2)).status, 0);
  EXPECT_EQ(guard.content_length(), 0u);
  EXPECT_EQ(guard.feed("POST /p HTTP/1.1\r\nContent-Length: 7000\r\n\r\n").status, 413);
  EXPECT_EQ(guard.content_length(), 7000u);
}

// curl and libcurl send `Expect: 100-continue` with large uploads and wait a second for it before
// sending the body; RESTinio never answers it, so each such upload took a second longer.
TEST(request_guard, asks_for_100_continue_once_the_head_is_accepted) {
  const std::string head = "POST /p HTTP/1.1\r\nHost: x\r\nExpect:  100-Continue \r\n"
                           "Content-Length: 5\r\n\r\n";
  request_guard guard{small_limits()};
  EXPECT_EQ(guard.feed(head.substr(0, 20)).status, 0);
  EXPECT_FALSE(guard.take_continue()); // not before the head is complete
  EXPECT_EQ(guard.feed(head.substr(20)).status, 0);
  EXPECT_TRUE(guard.take_continue());
  EXPECT_FALSE(guard.take_continue()); // once
  EXPECT_EQ(guard.feed("hello").status, 0);
  EXPECT_FALSE(guard.take_continue());

  // Not when the body came with the head: the client did not wait.
  request_guard eager{small_limits()};
  eager.feed(head + "he");
  EXPECT_FALSE(eager.take_continue());
  // Not without a body, not for another expectation, not for a refused head.
  for (const std::string& request :
       {std::string{"POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"},
        std::string{"POST /p HTTP/1.1\r\nExpect: 100-continuex\r\nContent-Length: 5\r\n\r\n"},
        std::string{"POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 7000\r\n\r\n"}}) {
    SCOPED_TRACE(request);
    request_guard other{small_limits()};
    other.feed(request);
    EXPECT_FALSE(other.take_continue());
  }
  // A second request on the connection asks anew.
  request_guard kept{small_limits()};
  kept.feed(head + "hello" + head);
  EXPECT_TRUE(kept.take_continue());
}

TEST(request_guard, duplicate_content_length) {
  // An error to http_parser, even with equal values: RESTinio closes; the guard passes.
  auto f = feed_in_steps(
      "POST /p HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + get(100), 1);
  EXPECT_EQ(f.verdict.status, 0);
  EXPECT_FALSE(f.following);
  // A first one over the cap is refused before the second is seen.
  EXPECT_EQ(status_of("POST /p HTTP/1.1\r\nContent-Length: 99\r\nContent-Length: 5\r\n\r\n"), 413);
}

TEST(request_guard, chunked_and_upgrade_pass_and_are_not_followed) {
  // RESTinio's own body cap applies to chunked bodies (it aborts them as before).
  auto chunked = feed_in_steps("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                   std::string(100, 'z') + get(100),
                               1);
  EXPECT_EQ(chunked.verdict.status, 0);
  EXPECT_FALSE(chunked.following);
  auto upgrade = feed_in_steps(
      "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n" + get(100), 1);
  EXPECT_EQ(upgrade.verdict.status, 0);
  EXPECT_FALSE(upgrade.following);
  EXPECT_FALSE(feed_in_steps("CONNECT h:443 HTTP/1.1\r\n\r\n" + get(100), 0).following);
  // The head itself is still checked.
  EXPECT_EQ(status_of("POST /" + std::string(50, 'a') +
                      " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            414);
}

TEST(request_guard, malformed_framing_passes) {
  for (const std::string& raw :
       {"GARBAGE\r\n\r\n" + get(100), "GET\r\n" + get(100),
        "GET / HTTP/1.1\r\nNoColon\r\n" + get(100), "GET / HTTP/1.1\r\n: v\r\n" + get(100),
        "GET / HTTP/1.1\r\nX: v\rY\n" + get(100),
        std::string(100, 'M') + " / HTTP/1.1\r\n\r\n" + get(100)}) {
    auto f = feed_in_steps(raw, 1);
    EXPECT_EQ(f.verdict.status, 0) << raw.substr(0, 40);
    EXPECT_FALSE(f.following) << raw.substr(0, 40);
  }
}

TEST(request_guard, lenient_framing_http_parser_accepts) {
  // Empty lines before a request, bare LF line ends, an HTTP/0.9 request line.
  EXPECT_EQ(status_of("\r\n\r\n" + get(41)), 414);
  EXPECT_EQ(status_of("GET / HTTP/1.1\nX: v\n\n" + get(41)), 414);
  EXPECT_EQ(status_of("GET /x\r\n\r\n" + get(41)), 414);
  auto ok = feed_in_steps("GET / HTTP/1.1\nContent-Length: 3\n\nabc" + get(10), 1);
  EXPECT_EQ(ok.verdict.status, 0);
  EXPECT_TRUE(ok.following);
}

// --- pipelined requests and where the refused one begins ------------------------------------

TEST(request_guard, body_bytes_are_not_parsed) {
  // A body that looks like an oversized request is just body.
  auto body = get(45);
  EXPECT_EQ(status_of(post(body.substr(0, 50))), 0);
  EXPECT_EQ(status_of(post(body.substr(0, 50)) + get(41)), 414);
}

TEST(request_guard, refusal_says_where_the_refused_request_begins) {
  const std::string first = post("hello") + get(10);
  request_guard guard{small_limits()};
  auto v = guard.feed(first + get(41));
  EXPECT_EQ(v.status, 414);
  EXPECT_EQ(v.passed, first.size()); // the two good requests go through
  // Begun in an earlier chunk: nothing of this chunk passes.
  request_guard split{small_limits()};
  auto bad = get(41);
  EXPECT_EQ(split.feed(first + bad.substr(0, 10)).passed, first.size() + 10);
  auto rest = split.feed(bad.substr(10));
  EXPECT_EQ(rest.status, 414);
  EXPECT_EQ(rest.passed, 0u);
  // The connection is done: later bytes repeat the refusal.
  auto again = split.feed(get(2));
  EXPECT_EQ(again.status, 414);
  EXPECT_EQ(again.passed, 0u);
  // Empty lines between requests belong to neither; they may go either way.
  request_guard blank{small_limits()};
  auto b = blank.feed(get(2) + "\r\n" + get(41));
  EXPECT_EQ(b.status, 414);
  EXPECT_GE(b.passed, get(2).size());
  EXPECT_LE(b.passed, get(2).size() + 2);
}

TEST(request_guard, large_bodies_are_skipped_in_any_chunks) {
  auto limits = small_limits();
  limits.max_body_bytes = 50'000'000;
  request_guard guard{limits};
  EXPECT_EQ(guard.feed("POST /p HTTP/1.1\r\nContent-Length: 40000000\r\n\r\n").status, 0);
  std::string block(65536, 'x');
  for (int i = 0; i < 610; ++i) // 39,976,960 bytes
    ASSERT_EQ(guard.feed(block).status, 0);
  EXPECT_EQ(guard.feed(std::string(23040, 'x') + get(41)).status, 414);
}

TEST(request_guard, json_body_escapes) {
  guard_verdict v;
  v.status = 400;
  v.detail = "a \"quoted\" \\ and \x01 byte";
  EXPECT_EQ(v.json_body(), R"({"detail":"a \"quoted\" \\ and \u0001 byte"})");
}

// --- against RESTinio itself ---------------------------------------------------------------------

/// Feeds `input` cut at `cuts` to the guard and to the oracle, and checks the contract:
///  1. RESTinio never aborts on a cap before the guard refused (unless the guard stopped following
///     a body it does not follow: chunked, Upgrade, CONNECT; `other_framing`);
///  2. the bytes the guard passes never make RESTinio abort on a cap, and RESTinio never completes
///     a request the guard refused (it aborts, or the request never ends);
///  3. a guard that passes everything while following means RESTinio aborts on no cap.
void expect_agreement(const std::string& input, const std::vector<std::size_t>& cuts,
                      const request_guard_limits& limits, bool other_framing,
                      const std::string& what) {
  SCOPED_TRACE(what);
  std::vector<std::string_view> chunks;
  std::size_t at = 0;
  for (auto cut : cuts) {
    chunks.push_back(std::string_view{input}.substr(at, cut - at));
    at = cut;
  }
  chunks.push_back(std::string_view{input}.substr(at));

  request_guard guard{limits};
  restinio_oracle all{limits};    // every byte
  restinio_oracle passed{limits}; // the bytes the guard passes
  int refused_at = -1, aborted_at = -1;
  bool following_when_aborted = true;
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    if (refused_at < 0) {
      auto v = guard.feed(chunks[k]);
      ASSERT_LE(v.passed, chunks[k].size());
      passed.feed(chunks[k].substr(0, v.passed));
      if (v.refused()) {
        refused_at = static_cast<int>(k);
        EXPECT_TRUE(v.status == 413 || v.status == 414 || v.status == 431) << v.status;
      } else {
        EXPECT_EQ(v.passed, chunks[k].size());
      }
    }
    if (all.feed(chunks[k]) == restinio_oracle::outcome::cap_abort && aborted_at < 0) {
      aborted_at = static_cast<int>(k);
      following_when_aborted = guard.following();
    }
  }
  const bool not_followed = other_framing && !guard.following(); // by design: see above
  if (!not_followed) {
    EXPECT_NE(passed.state(), restinio_oracle::outcome::cap_abort)
        << "passed bytes RESTinio aborts";
  }
  if (aborted_at >= 0 && !(other_framing && !following_when_aborted)) {
    EXPECT_GE(refused_at, 0) << "RESTinio aborted at chunk " << aborted_at << ", unanswered";
    EXPECT_LE(refused_at, aborted_at) << "refused later than RESTinio aborted";
  }
  if (refused_at >= 0) {
    EXPECT_EQ(all.messages(), passed.messages()) << "RESTinio completes the refused request";
  }
  if (refused_at < 0 && guard.following()) {
    EXPECT_NE(all.state(), restinio_oracle::outcome::cap_abort);
  }
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937& random) {
  std::vector<std::size_t> cuts;
  auto how = random() % 4;
  if (how == 1 && size > 100000) // byte by byte, but not megabytes
    how = 2;
  switch (how) {
    case 0: // all at once
      break;
    case 1: // byte by byte
      for (std::size_t i = 1; i < size; ++i)
        cuts.push_back(i);
      break;
    default:
      for (std::size_t i = 1 + random() % 16; i < size; i += 1 + random() % 16)
        cuts.push_back(i);
  }
  return cuts;
}

/// A request: valid most of the time, sized around the caps, sometimes with a flaw.
std::string random_request(std::mt19937& random, const request_guard_limits& limits,
                           bool& other_framing) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
  auto around = [&](std::size_t cap) { return cap - 3 + pick(6); }; // cap-3 .. cap+2
  static const char* methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "GXT"};
  std::string out = pick(8) == 0 ? "\r\n" : "";
  out += methods[pick(7)];
  out += pick(10) == 0 ? "  " : " ";
  std::size_t target = pick(3) == 0 ? around(limits.max_url_bytes) : 1 + pick(limits.max_url_bytes);
  out += "/" + std::string(target - 1, 'u');
  if (pick(20) == 0)
    out += "\r\n"; // HTTP/0.9
  else
    out += pick(12) == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  const char* eol = pick(10) == 0 ? "\n" : "\r\n";
  std::size_t fields = pick(limits.max_field_count + 2);
  bool length_sent = false;
  std::string body;
  for (std::size_t f = 0; f < fields; ++f) {
    switch (pick(13)) {
      case 0: { // Content-Length, maybe over the cap, maybe odd
        auto length = pick(3) == 0 ? around(static_cast<std::size_t>(limits.max_body_bytes))
                                   : pick(static_cast<std::size_t>(limits.max_body_bytes));
        static const char* shapes[] = {"%", " %", "\t% ", "%  ", "0%", "+%", "% %", "%x", ""};
        std::string shape = shapes[pick(9)];
        std::string value;
        for (char c : shape)
          value += c == '%' ? std::to_string(length) : std::string(1, c);
        out += (pick(2) ? "Content-Length:" : "content-length: ") + value + eol;
        if (!length_sent)
          body = std::string(length, 'b');
        length_sent = true;
        break;
      }
      case 1:
        if (pick(2)) {
          out += std::string("Content-Length: ") + std::string(18 + pick(4), '9') + eol;
        } else { // folded: an empty first line is only blanks to http_parser
          out += std::string("Content-Length:") + eol + " " + (pick(2) ? "" : "5") + eol + " " +
                 std::to_string(pick(static_cast<std::size_t>(limits.max_body_bytes) + 3)) + eol;
        }
        break;
      case 2:
        out += std::string("Transfer-Encoding: chunked") + eol;
        other_framing = true;
        break;
      case 3: // a folded line, maybe after an empty value
        out += "X-Fold:" + std::string(pick(2), ' ') +
               std::string(pick(2) ? pick(limits.max_field_value_bytes) : 0, 'f') + eol +
               std::string(1 + pick(2), pick(2) ? ' ' : '\t') +
               std::string(pick(limits.max_field_value_bytes + 2), 'g') + eol;
        break;
      case 4:
        out += std::string(around(limits.max_field_name_bytes), 'N') + ": v" + eol;
        break;
      case 5:
        out += "X-Value:" + std::string(pick(3), ' ') +
               std::string(around(limits.max_field_value_bytes), 'v') + std::string(pick(3), ' ') +
               eol;
        break;
      case 6:
        out += std::string("Upgrade: x") + eol;
        other_framing = true;
        break;
      case 7:
        out += std::string("NoColon") + eol;
        break;
      default:
        out += "H" + std::to_string(f) + ": " + std::string(pick(10), 'h') + eol;
    }
  }
  out += eol;
  if (pick(10) == 0) // a body shorter or longer than declared
    body.resize(body.size() + pick(5));
  return out + body;
}

TEST(request_guard, agrees_with_restinio_on_generated_requests) {
  std::mt19937 random{20261125};
  for (int round = 0; round < 5000; ++round) {
    auto limits = small_limits();
    if (round % 3 == 1) {
      limits.max_url_bytes = 10;
      limits.max_field_value_bytes = 12;
      limits.max_field_count = 3;
    }
    bool other_framing = false;
    std::string input;
    int requests = 1 + static_cast<int>(random() % 3);
    for (int r = 0; r < requests; ++r)
      input += random_request(random, limits, other_framing);
    if (random() % 4 == 0) { // odd framing: a few bytes changed, added or removed
      static const std::string odd = " \t\r\n:0123456789aZ-HTP/.\x7f";
      for (int m = 1 + static_cast<int>(random() % 3); m > 0 && !input.empty(); --m) {
        auto at = random() % input.size();
        char c = odd[random() % odd.size()];
        switch (random() % 3) {
          case 0:
            input[at] = c;
            break;
          case 1:
            input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          default:
            input.erase(at, 1);
        }
      }
      other_framing = other_framing || input.find("pgrade") != std::string::npos ||
                      input.find("ransfer") != std::string::npos;
    }
    expect_agreement(input, random_cuts(input.size(), random), limits, other_framing,
                     "round " + std::to_string(round) + ": " + input.substr(0, 300));
    if (::testing::Test::HasFailure())
      break; // one case is enough to read
  }
}

TEST(request_guard, agrees_with_restinio_on_the_hostile_cases) {
  // The fault suite's configuration: --max-upload-bytes=1048576, --max-url-bytes=2048,
  // --max-header-bytes=4096, and the transport caps http/server.cpp derives from them.
  request_guard_limits limits;
  limits.max_url_bytes = 4096;
  limits.max_field_name_bytes = 8192;
  limits.max_field_value_bytes = 8192;
  limits.max_body_bytes = (1u << 20) + (1u << 20);
  std::mt19937 random{7};
  const std::vector<std::string> inputs = {
      "POST /process-image HTTP/1.1\r\nContent-Length: 3145900\r\n\r\n" + std::string(9000, 'x'),
      "GET /tasks?status=" + std::string(5000, 'b') + " HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16384, 'v') + "\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8191, 'v') + "\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: x\r\n" + std::string(8193, 'n') + ": v\r\n\r\n",
      "POST /p HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n" + std::string(2097152, 'x') + get(4097),
  };
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (int cuts = 0; cuts < 3; ++cuts)
      expect_agreement(inputs[i], random_cuts(inputs[i].size(), random), limits, false,
                       "input " + std::to_string(i));
}

} // namespace
} // namespace imgproc
