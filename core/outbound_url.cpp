#include "core/outbound_url.hpp"

#include <algorithm>
#include <cctype>
#include <curl/curl.h>
#include <memory>

namespace imgproc {
namespace {

struct curlu_deleter {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};

/// One part of a parsed URL; empty when the URL has none.
std::string part(CURLU* handle, CURLUPart which, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(handle, which, &value, flags) != CURLUE_OK || !value)
    return {};
  std::string out{value};
  curl_free(value);
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// An encoded '.', '/' or '\', or a raw '\': a server may turn them into another path than the one
/// compared here.
bool has_ambiguous_path(const std::string& path) {
  auto folded = lower(path);
  return folded.find('\\') != std::string::npos || folded.find("%2e") != std::string::npos ||
         folded.find("%2f") != std::string::npos || folded.find("%5c") != std::string::npos;
}

} // namespace

result<outbound_url> parse_outbound_url(std::string_view text) {
  static const std::vector<std::string> web{"http", "https"};
  return parse_url_of(text, web);
}

result<outbound_url> parse_url_of(std::string_view text, const std::vector<std::string>& schemes) {
  auto bad = [&](const std::string& why) {
    return make_failure(error_code::bad_request, "the URL " + redact_url(text) + " " + why);
  };
  if (text.find('\0') != std::string_view::npos)
    return bad("contains a NUL character");
  std::unique_ptr<CURLU, curlu_deleter> handle{curl_url()};
  if (!handle)
    return make_failure(error_code::internal, "libcurl could not allocate a URL");
  std::string owned{text};
  auto rc = curl_url_set(handle.get(), CURLUPART_URL, owned.c_str(), 0);
  if (rc != CURLUE_OK)
    return bad(std::string{"is not a valid URL ("} + curl_url_strerror(rc) + ")");
  outbound_url url;
  url.scheme = lower(part(handle.get(), CURLUPART_SCHEME));
  if (std::find(schemes.begin(), schemes.end(), url.scheme) == schemes.end()) {
    std::string names;
    for (std::size_t i = 0; i < schemes.size(); ++i)
      names += (i == 0 ? "" : i + 1 == schemes.size() ? " or " : ", ") + schemes[i];
    return bad("must use " + names);
  }
  url.host = lower(part(handle.get(), CURLUPART_HOST));
  if (url.host.empty())
    return bad("has no host");
  auto port = part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
    return bad("has no valid port");
  url.port = std::stoi(port);
  url.path = part(handle.get(), CURLUPART_PATH);
  if (url.path.empty())
    url.path = "/";
  url.query = part(handle.get(), CURLUPART_QUERY);
  url.has_userinfo = !part(handle.get(), CURLUPART_USER).empty() ||
                     !part(handle.get(), CURLUPART_PASSWORD).empty() ||
                     !part(handle.get(), CURLUPART_OPTIONS).empty();
  url.text = part(handle.get(), CURLUPART_URL);
  return url;
}

bool url_within(const outbound_url& allowed, const outbound_url& candidate) {
  if (allowed.scheme != candidate.scheme || allowed.host != candidate.host ||
      allowed.port != candidate.port)
    return false;
  if (has_ambiguous_path(candidate.path))
    return false;
  const auto& base = allowed.path;
  if (candidate.path == base)
    return true;
  if (candidate.path.compare(0, base.size(), base) != 0)
    return false;
  // Below it by whole segments: "/ml" + "/v2", or "/ml/" + "v2".
  return base.back() == '/' || candidate.path[base.size()] == '/';
}

std::string redact_url(std::string_view text) {
  std::unique_ptr<CURLU, curlu_deleter> handle{curl_url()};
  std::string owned{text.substr(0, text.find('\0'))};
  if (handle && curl_url_set(handle.get(), CURLUPART_URL, owned.c_str(), 0) == CURLUE_OK) {
    bool has_userinfo = !part(handle.get(), CURLUPART_USER).empty() ||
                        !part(handle.get(), CURLUPART_PASSWORD).empty();
    if (!has_userinfo)
      return owned;
    curl_url_set(handle.get(), CURLUPART_USER, "***", 0);
    curl_url_set(handle.get(), CURLUPART_PASSWORD, nullptr, 0);
    curl_url_set(handle.get(), CURLUPART_OPTIONS, nullptr, 0);
    auto shown = part(handle.get(), CURLUPART_URL);
    if (!shown.empty())
      return shown;
  }
  auto at = owned.find('@');
  if (at == std::string::npos)
    return owned;
  auto scheme_end = owned.find("://");
  std::string scheme = scheme_end != std::string::npos && scheme_end < at
                           ? owned.substr(0, scheme_end + 3)
                           : std::string{};
  return scheme + "***@" + owned.substr(at + 1);
}

std::optional<std::string> refuse_ml_url(const std::string& configured,
                                         const std::vector<std::string>& allowed,
                                         const std::string& url) {
  if (url.empty())
    return std::nullopt; // the configured one
  auto candidate = parse_outbound_url(url);
  if (!candidate)
    return candidate.error().detail;
  if (candidate->has_userinfo)
    return "the ML url " + redact_url(url) +
           " names a user or password; credentials belong in --ml-url, not in a pipeline";
  if (auto own = parse_outbound_url(configured);
      own && own->scheme == candidate->scheme && own->host == candidate->host &&
      own->port == candidate->port && own->path == candidate->path &&
      own->query == candidate->query)
    return std::nullopt;
  for (const auto& entry : allowed) {
    auto base = parse_outbound_url(entry);
    if (base && !base->has_userinfo && url_within(*base, *candidate))
      return std::nullopt;
  }
  return "the ML url " + redact_url(url) +
         " is not allowed: it must be --ml-url or within one of --ml-allowed-urls";
}

} // namespace imgproc
