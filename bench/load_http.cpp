#include "bench/load_http.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace load {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size())
    return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

} // namespace

target parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw std::invalid_argument("only http:// URLs are supported: " + url);
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  target t;
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    t.host = authority;
    t.port = "80";
  } else {
    t.host = authority.substr(0, colon);
    t.port = authority.substr(colon + 1);
  }
  if (t.host.empty() || t.port.empty())
    throw std::invalid_argument("no host or port in " + url);
  return t;
}

std::vector<std::string> build_requests(const std::vector<std::string>& images, const target& t) {
  std::vector<std::string> requests;
  for (const auto& path : images) {
    auto image = read_file(path);
    std::string boundary = "imgproc-load-client-boundary";
    while (image.find(boundary) != std::string::npos)
      boundary += "-x";
    auto filename = std::filesystem::path(path).filename().string();
    std::string body = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"" +
                       filename + "\"\r\nContent-Type: image/jpeg\r\n\r\n" + image + "\r\n--" +
                       boundary + "--\r\n";
    std::string head = "POST " + t.path + " HTTP/1.1\r\nHost: " + t.host + ":" + t.port +
                       "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    requests.push_back(head + body);
  }
  return requests;
}

response parse_response(const std::string& in, bool eof) {
  response r;
  auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos)
    return r;
  std::string_view head(in.data(), head_end);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    r.result = response::state::bad;
    return r;
  }
  auto space = status_line.find(' ');
  r.status = std::atoi(std::string(status_line.substr(space + 1, 3)).c_str());
  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string_view::npos)
      end = head.size();
    auto line = head.substr(pos, end - pos);
    pos = end + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (name.size() == 14 && iequals_prefix(name, "content-length"))
      content_length =
          static_cast<std::size_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    else if (name.size() == 17 && iequals_prefix(name, "transfer-encoding"))
      chunked = value.find("chunked") != std::string_view::npos;
    else if (name.size() == 10 && iequals_prefix(name, "connection"))
      r.close = iequals_prefix(value, "close");
  }
  std::size_t body_start = head_end + 4;
  if (chunked) {
    std::size_t p = body_start;
    for (;;) {
      auto size_end = in.find("\r\n", p);
      if (size_end == std::string::npos)
        return r;
      auto size = std::strtoull(in.substr(p, size_end - p).c_str(), nullptr, 16);
      p = size_end + 2;
      if (size == 0) {
        // Trailers, then an empty line.
        for (;;) {
          auto trailer_end = in.find("\r\n", p);
          if (trailer_end == std::string::npos)
            return r;
          bool empty = trailer_end == p;
          p = trailer_end + 2;
          if (empty) {
            r.result = response::state::complete;
            r.length = p;
            return r;
          }
        }
      }
      if (in.size() < p + size + 2)
        return r;
      p += size + 2;
    }
  }
  if (content_length) {
    if (in.size() < body_start + *content_length)
      return r;
    r.result = response::state::complete;
    r.length = body_start + *content_length;
    return r;
  }
  if (r.status == 204 || r.status == 304 || r.status / 100 == 1) {
    r.result = response::state::complete;
    r.length = body_start;
    return r;
  }
  if (eof) { // the body runs to the end of the stream
    r.result = response::state::complete;
    r.close = true;
    r.length = in.size();
  }
  return r;
}

} // namespace load
