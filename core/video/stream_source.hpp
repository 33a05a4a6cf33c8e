#pragma once

// Where a stream may read from, checked before anything runs. A source is a video file under the
// operator's --video-dir (`file:` URLs, and the uploads the service spools there itself), or a
// live source: `http://` or `https://` (MJPEG, or a video file over HTTP) and `rtsp://`.
//
// The service must not become a way into the network it runs in: a live source's host must be
// listed in --stream-hosts, or else resolve only to public addresses (no loopback, private,
// link-local, carrier-grade NAT, multicast or unspecified address, in IPv4 or IPv6). The URL is
// parsed by libcurl's parser and compared by parts (core/outbound_url.hpp); a camera's user name
// and password are allowed in it and hidden wherever it is shown. A file's path is made
// canonical (symbolic links and `..` resolved) before it is compared with --video-dir by whole
// components.
//
// A name is resolved when the stream is created; FFmpeg resolves it again when it connects, so
// a name whose answers change in between (DNS rebinding) is not stopped here: list the hosts
// you trust in --stream-hosts where that matters.

#include "core/errors.hpp"
#include "core/video/frame_gate.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

struct stream_source_policy {
  /// --video-dir: file sources only under it; empty: none allowed.
  std::string video_dir;
  /// --stream-hosts: host names or addresses (lower case) allowed whatever they resolve to.
  std::vector<std::string> allowed_hosts;
};

struct stream_source {
  stream_source_kind kind = stream_source_kind::live;
  std::string location; ///< what the reader opens: the canonical path, or the URL as parsed
  std::string shown;    ///< for answers and logs: the URL without its password
};

/// The addresses a host name resolves to, as text ("203.0.113.7", "2001:db8::1"); empty when it
/// does not resolve. Blocking.
using host_resolver = std::function<std::vector<std::string>(const std::string& host)>;

/// getaddrinfo(): the system's resolver.
std::vector<std::string> resolve_host(const std::string& host);

/// Whether `address` (an IPv4 or IPv6 literal) is one a stream may not reach unless its host is
/// allowed: loopback, private, link-local, shared (100.64/10), multicast, reserved or
/// unspecified; an IPv4-mapped IPv6 address counts as its IPv4 address. Text that is not an
/// address counts as internal.
bool is_internal_address(const std::string& address);

/// Checks `source` against `policy`. bad_request naming the rule it breaks: an unknown scheme, a
/// malformed URL, a host that is not allowed or does not resolve, a file outside --video-dir, or
/// one that does not exist.
result<stream_source> check_stream_source(std::string_view source,
                                          const stream_source_policy& policy,
                                          const host_resolver& resolve = resolve_host);

} // namespace imgproc
