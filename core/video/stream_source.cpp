#include "core/video/stream_source.hpp"

#include "core/outbound_url.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <netdb.h>
#include <sys/socket.h>

namespace imgproc {
namespace {

namespace fs = std::filesystem;

failure refused(const std::string& why) {
  return make_failure(error_code::bad_request, "the stream source " + why);
}

bool internal_v4(std::uint32_t a) { // host byte order
  auto in = [a](std::uint32_t net, int bits) {
    std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  return in(0x00000000, 8) ||  // 0/8: "this network", unspecified
         in(0x0A000000, 8) ||  // 10/8 private
         in(0x64400000, 10) || // 100.64/10 shared (carrier-grade NAT)
         in(0x7F000000, 8) ||  // 127/8 loopback
         in(0xA9FE0000, 16) || // 169.254/16 link-local
         in(0xAC100000, 12) || // 172.16/12 private
         in(0xC0000000, 24) || // 192.0.0/24 protocol assignments
         in(0xC0A80000, 16) || // 192.168/16 private
         in(0xC6120000, 15) || // 198.18/15 benchmarking
         in(0xE0000000, 4) ||  // 224/4 multicast
         in(0xF0000000, 4);    // 240/4 reserved, and the broadcast address
}

/// Whether `text` is an IPv4 or IPv6 literal (then it is not resolved).
bool is_address(const std::string& text) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

/// The path as a canonical one, symbolic links and dot segments resolved; empty on failure.
fs::path canonical_or_empty(const fs::path& path) {
  std::error_code ec;
  auto out = fs::weakly_canonical(path, ec);
  return ec ? fs::path{} : out;
}

/// Whether `path` is `dir` or below it, by whole components.
bool under(const fs::path& dir, const fs::path& path) {
  auto d = dir.begin();
  auto p = path.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (d->empty() && std::next(d) == dir.end())
      break; // a trailing separator
    if (p == path.end() || *p != *d)
      return false;
  }
  return true;
}

result<stream_source> check_file(std::string_view source, const stream_source_policy& policy) {
  std::string path{source.substr(5)}; // after "file:"
  if (path.rfind("//", 0) == 0) {     // file://HOST/path: only an empty host (or localhost)
    auto slash = path.find('/', 2);
    auto host = path.substr(2, slash == std::string::npos ? std::string::npos : slash - 2);
    if (!host.empty() && host != "localhost")
      return refused("names a host in a file: URL (" + host + ")");
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  if (path.empty() || path[0] != '/')
    return refused("file: URL needs an absolute path");
  if (path.find('%') != std::string::npos)
    return refused("file: URL may not contain percent-encoding");
  if (policy.video_dir.empty())
    return refused("is a file, and this service has no --video-dir");
  auto dir = canonical_or_empty(policy.video_dir);
  auto file = canonical_or_empty(path);
  if (dir.empty() || file.empty() || !under(dir, file))
    return refused("is not under --video-dir");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return refused("is not a file under --video-dir");
  return stream_source{stream_source_kind::file, file.string(), "file:" + file.string()};
}

} // namespace

std::vector<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::vector<std::string> out;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0)
    return out;
  for (auto* a = found; a; a = a->ai_next) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* where = nullptr;
    if (a->ai_family == AF_INET)
      where = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
    else if (a->ai_family == AF_INET6)
      where = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
    if (where && inet_ntop(a->ai_family, where, text.data(), text.size()))
      out.emplace_back(text.data());
  }
  freeaddrinfo(found);
  return out;
}

bool is_internal_address(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1)
    return internal_v4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1)
    return true;
  const auto* b = v6.s6_addr;
  static const std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, mapped_prefix, 12) == 0)
    return internal_v4(static_cast<std::uint32_t>(b[12]) << 24 | b[13] << 16 | b[14] << 8 | b[15]);
  bool zero_to_14 = std::all_of(b, b + 15, [](std::uint8_t x) { return x == 0; });
  if (zero_to_14 && (b[15] == 0 || b[15] == 1))
    return true;                                    // :: unspecified, ::1 loopback
  return (b[0] & 0xfe) == 0xfc ||                   // fc00::/7 unique local
         (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || // fe80::/10 link-local
         b[0] == 0xff;                              // ff00::/8 multicast
}

result<stream_source> check_stream_source(std::string_view source,
                                          const stream_source_policy& policy,
                                          const host_resolver& resolve) {
  if (source.find('\0') != std::string_view::npos)
    return refused("contains a NUL character");
  std::string lowered{source.substr(0, 5)};
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lowered == "file:")
    return check_file(source, policy);
  static const std::vector<std::string> live{"http", "https", "rtsp"};
  auto url = parse_url_of(source, live);
  if (!url)
    return make_failure(error_code::bad_request,
                        "the stream source must be a file: URL or use http, https or rtsp: " +
                            url.error().detail);
  auto host = url.value().host;
  auto bare = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  const auto& allowed = policy.allowed_hosts;
  bool listed = std::find(allowed.begin(), allowed.end(), host) != allowed.end() ||
                std::find(allowed.begin(), allowed.end(), bare) != allowed.end();
  if (!listed) {
    auto addresses = is_address(bare) ? std::vector<std::string>{bare} : resolve(bare);
    if (addresses.empty())
      return refused("host " + host + " does not resolve");
    for (const auto& address : addresses)
      if (is_internal_address(address))
        return refused("host " + host + " is an internal address (" + address +
                       "); list it in --stream-hosts to allow it");
  }
  return stream_source{stream_source_kind::live, url.value().text, redact_url(url.value().text)};
}

} // namespace imgproc
