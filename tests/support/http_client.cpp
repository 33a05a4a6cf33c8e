#include "tests/support/http_client.hpp"

#include "tests/support/fault_report.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <curl/curl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace imgproc::testing {
namespace {

using steady = std::chrono::steady_clock;

std::string lowercase(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos)
    return "";
  auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<http_response*>(user)->body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* response = static_cast<http_response*>(user);
  std::string line{data, size * count};
  if (line.rfind("HTTP/", 0) == 0)
    response->headers.clear(); // a new response (after 100 Continue or a redirect)
  else if (auto colon = line.find(':'); colon != std::string::npos)
    response->headers[lowercase(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  return size * count;
}

struct curl_deleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct mime_deleter {
  void operator()(curl_mime* mime) const { curl_mime_free(mime); }
};

using curl_ptr = std::unique_ptr<CURL, curl_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

curl_ptr make_handle(const std::string& url, std::chrono::milliseconds timeout,
                     http_response& response) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ptr curl{curl_easy_init()};
  if (!curl)
    throw std::runtime_error("curl_easy_init failed");
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response);
  return curl;
}

/// The headers every request sends: no "Expect: 100-continue", whose extra round trip (or
/// one-second wait) only slows large uploads down.
slist_ptr base_headers(const std::string& content_type = "") {
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  if (!content_type.empty())
    list = curl_slist_append(list, ("Content-Type: " + content_type).c_str());
  return slist_ptr{list};
}

/// Appends one answer to build/test-artifacts/contract/responses-<pid>.jsonl, which the ctest
/// test contract_responses checks against the OpenAPI documents once the end-to-end tests are
/// done (tests/browser/contract_check.mjs): every answer any test got is part of the contract.
void record_for_contract(const std::string& method, const std::string& url,
                         const http_response& response) {
  static std::mutex mutex;
  static const std::string file = [] {
    auto dir = test_artifacts_dir() + "/contract";
    std::filesystem::create_directories(dir);
    return dir + "/responses-" + std::to_string(::getpid()) + ".jsonl";
  }();
  auto after_scheme = url.find("://");
  auto path_start = url.find('/', after_scheme == std::string::npos ? 0 : after_scheme + 3);
  auto path = path_start == std::string::npos ? "/" : url.substr(path_start);
  path = path.substr(0, path.find_first_of("?#"));
  auto content_type = response.header("content-type");
  nlohmann::json record{{"method", method},
                        {"path", path},
                        {"status", response.status},
                        {"content_type", content_type}};
  // JSON answers are checked against their schema; big ones (a long task list) only by status.
  if (content_type.rfind("application/json", 0) == 0 && response.body.size() <= (64u << 10)) {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    record["body"] = body.is_discarded() ? nlohmann::json(response.body) : body;
    record["body_is_json"] = !body.is_discarded();
  }
  auto line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex);
  std::ofstream out{file, std::ios::app};
  out << line;
}

http_response perform(CURL* curl, http_response& response, const std::string& method,
                      const std::string& url) {
  auto rc = curl_easy_perform(curl);
  if (rc != CURLE_OK)
    throw std::runtime_error("HTTP request to " + url + " failed: " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &response.seconds);
  record_for_contract(method, url, response);
  return std::move(response);
}

} // namespace

std::string http_response::header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? "" : it->second;
}

http_response get(const std::string& url, std::chrono::milliseconds timeout) {
  http_response response;
  auto curl = make_handle(url, timeout, response);
  return perform(curl.get(), response, "GET", url);
}

http_response post_multipart(const std::string& url, const std::vector<form_part>& parts,
                             std::chrono::milliseconds timeout,
                             const std::vector<std::string>& header_lines) {
  http_response response;
  auto curl = make_handle(url, timeout, response);
  std::unique_ptr<curl_mime, mime_deleter> mime{curl_mime_init(curl.get())};
  for (const auto& part : parts) {
    auto* field = curl_mime_addpart(mime.get());
    curl_mime_name(field, part.name.c_str());
    curl_mime_data(field, part.content.data(), part.content.size()); // binary-safe with a size
    if (part.filename)
      curl_mime_filename(field, part.filename->c_str());
    if (part.content_type)
      curl_mime_type(field, part.content_type->c_str());
  }
  curl_easy_setopt(curl.get(), CURLOPT_MIMEPOST, mime.get());
  auto headers = base_headers();
  for (const auto& line : header_lines)
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  return perform(curl.get(), response, "POST", url);
}

http_response post_raw(const std::string& url, const std::string& body,
                       const std::string& content_type, std::chrono::milliseconds timeout) {
  http_response response;
  auto curl = make_handle(url, timeout, response);
  curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  auto headers = base_headers(content_type);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  return perform(curl.get(), response, "POST", url);
}

http_response send_request(const std::string& method, const std::string& url,
                           const std::string& body, const std::vector<std::string>& header_lines,
                           const std::string& content_type, std::chrono::milliseconds timeout) {
  http_response response;
  auto curl = make_handle(url, timeout, response);
  bool with_body = !body.empty() || method == "POST" || method == "PUT";
  if (with_body) {
    // POSTFIELDS makes it a POST; CUSTOMREQUEST below then only renames the verb.
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method != "GET" && method != "POST")
    curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  auto headers = base_headers(with_body ? content_type : "");
  for (const auto& line : header_lines)
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  return perform(curl.get(), response, method, url);
}

namespace {

/// Whether `data` holds one whole response: headers, then Content-Length bytes of body.
/// Without a Content-Length the response ends when the server closes the connection.
bool complete_response(const std::string& data) {
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  auto head = lowercase(data.substr(0, end));
  auto field = head.find("\r\ncontent-length:");
  if (field == std::string::npos)
    return false;
  auto length = std::stoul(head.substr(field + 17));
  return data.size() >= end + 4 + length;
}

} // namespace

std::string send_raw(const std::string& host, std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{found, ::freeaddrinfo};
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  std::unique_ptr<int, void (*)(int*)> guard{&fd, [](int* f) { ::close(*f); }};
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0)
    throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " +
                             std::strerror(errno));

  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    return static_cast<int>(std::max<std::int64_t>(0, ms.count()));
  };
  std::string received;
  std::size_t sent = 0;
  // Reads while writing too: a server may answer (and close) before the request is complete.
  while (left() > 0) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    int ready = ::poll(&p, 1, left());
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[4096];
      auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; // closed or reset: whatever arrived is the answer
      received.append(buffer, static_cast<std::size_t>(n));
      if (complete_response(received))
        break;
    } else if (p.revents & POLLOUT) {
      auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EINTR && errno != EAGAIN)
        sent = request.size(); // the server stopped reading; go on reading its answer
      else if (n > 0)
        sent += static_cast<std::size_t>(n);
    }
  }
  return received;
}

} // namespace imgproc::testing
