#pragma once

// Outbound URLs (the ML service a detect step calls) parsed into parts and compared part by part.
//
// A string prefix is not an allow-list: with the prefix `http://10.0.0.5:5000`, the URL
// `http://10.0.0.5:5000@evil:80/` starts with it, yet its host is `evil` (what precedes `@` is a
// user name and password). So URLs are parsed by libcurl's own parser, the one that later makes
// the connection, and the scheme, host, port and path are compared as parts. A URL that names a
// user is refused outright, and credentials an operator put in `--ml-url` are hidden wherever a
// URL is shown (answers, stored task errors, logs).

#include "core/errors.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

struct outbound_url {
  std::string scheme; ///< "http" or "https", lower case
  std::string host;   ///< lower case; an IPv6 address in brackets
  int port = 0;       ///< explicit, or the scheme's default
  std::string path;   ///< "/" at least, dot segments resolved
  std::string query;  ///< without the '?'; empty when there is none
  bool has_userinfo = false;
  std::string text; ///< the whole URL as libcurl rebuilt it: what is actually called
};

/// Parses an absolute http(s) URL. bad_request naming the problem otherwise (another scheme, no
/// host, a malformed port, a NUL or space in it).
result<outbound_url> parse_outbound_url(std::string_view text);

/// The same for a URL of one of `schemes` (lower case, e.g. {"http", "https", "rtsp"}).
result<outbound_url> parse_url_of(std::string_view text, const std::vector<std::string>& schemes);

/// Whether `candidate` is `allowed` or lies under it: same scheme, host and port, and a path equal
/// to the allowed one or below it by whole segments (`/ml` allows `/ml` and `/ml/v2`, not `/mlx`).
/// A candidate path with an encoded dot, slash or backslash (`%2e`, `%2f`, `%5c`) or a backslash
/// is never under anything: a server may decode it into a different path.
bool url_within(const outbound_url& allowed, const outbound_url& candidate);

/// The URL with any user name and password replaced by `***`, for messages and logs; text that
/// does not parse is shown up to its first '@' (or whole when it has none).
std::string redact_url(std::string_view text);

/// Which URLs a detect step may name: the configured ML URL itself, or a URL within one of the
/// allowed ones. Returns why `url` is refused, or nullopt when it is allowed.
std::optional<std::string> refuse_ml_url(const std::string& configured,
                                         const std::vector<std::string>& allowed,
                                         const std::string& url);

} // namespace imgproc
