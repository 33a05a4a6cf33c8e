#include "tests/support/fake_ml.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace imgproc::testing {
namespace {

std::runtime_error socket_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

/// A TCP socket bound to 127.0.0.1 on a free port, listening when `backlog` > 0.
int bound_socket(int backlog, std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw socket_error("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (backlog > 0 && ::listen(fd, backlog) != 0) ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    auto error = socket_error("bind/listen on 127.0.0.1");
    ::close(fd);
    throw error;
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::string url_for(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port) + "/ml-process-img";
}

/// Whether `data` holds a whole request: headers plus Content-Length bytes of body.
bool complete_request(const std::string& data) {
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  std::string head = data.substr(0, end);
  for (auto& c : head)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto field = head.find("\r\ncontent-length:");
  std::size_t length = field == std::string::npos ? 0 : std::stoul(head.substr(field + 17));
  return data.size() >= end + 4 + length;
}

/// What accept_client found: a client, nothing (try again), or the server is stopping.
enum class accept_result { client, retry, stop };

/// Waits for a connection on `listen_fd`, or for the wake pipe: the server is stopping.
accept_result accept_client(int listen_fd, int wake_fd, int& client) {
  pollfd waits[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  if (::poll(waits, 2, -1) < 0)
    return errno == EINTR ? accept_result::retry : accept_result::stop;
  if (waits[1].revents)
    return accept_result::stop;
  client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  return client < 0 ? accept_result::retry : accept_result::client;
}

/// Reads one whole request from `client` (closing a socket with unread data would send a reset,
/// and the client would report a broken connection instead of the answer). Sets `stopping` if
/// the wake pipe fired meanwhile. Returns whether a complete request arrived.
bool read_request(int client, int wake_fd, std::string& request, bool& stopping) {
  stopping = false;
  while (!complete_request(request)) {
    pollfd reads[2] = {{client, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (::poll(reads, 2, -1) < 0 && errno != EINTR)
      break;
    if (reads[1].revents) {
      stopping = true;
      break;
    }
    char buffer[16384];
    auto n = ::recv(client, buffer, sizeof buffer, 0);
    if (n <= 0)
      break;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  return !stopping && complete_request(request);
}

/// Sends all of `answer` (as far as the client takes it), then ends the write side.
void send_answer(int client, const std::string& answer) {
  std::size_t sent = 0;
  while (sent < answer.size()) {
    auto n = ::send(client, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(client, SHUT_WR);
}

} // namespace

std::uint16_t closed_port() {
  std::uint16_t port = 0;
  ::close(bound_socket(0, port));
  return port;
}

refusing_port::refusing_port() {
  fd_ = bound_socket(0, port_); // no listen(): connecting is refused
}

refusing_port::~refusing_port() {
  ::close(fd_);
}

std::string refusing_port::url() const {
  return url_for(port_);
}

silent_server::silent_server() {
  fd_ = bound_socket(16, port_);
}

silent_server::~silent_server() {
  ::close(fd_);
}

std::string silent_server::url() const {
  return url_for(port_);
}

canned_server::canned_server(std::optional<std::string> raw_response)
    : response_(std::move(raw_response)) {
  fd_ = bound_socket(16, port_);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(fd_);
    throw socket_error("pipe2");
  }
  thread_ = std::thread([this] { serve(); });
}

std::string canned_server::ok_response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

canned_server::~canned_server() {
  char stop = 1;
  (void)!::write(wake_[1], &stop, 1);
  thread_.join();
  for (int held : held_)
    ::close(held);
  ::close(fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string canned_server::url() const {
  return url_for(port_);
}

int canned_server::requests() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return requests_;
}

bool canned_server::wait_for_requests(int count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mutex_};
  return arrived_.wait_for(lock, timeout, [&] { return requests_ >= count; });
}

void canned_server::serve() {
  for (;;) {
    int client = -1;
    auto accepted = accept_client(fd_, wake_[0], client);
    if (accepted == accept_result::stop)
      return;
    if (accepted == accept_result::retry)
      continue;
    std::string request;
    bool stopping = false;
    if (read_request(client, wake_[0], request, stopping)) {
      {
        std::lock_guard<std::mutex> lock{mutex_};
        ++requests_;
      }
      arrived_.notify_all();
      if (!response_) {
        held_.push_back(client);
        continue;
      }
      send_answer(client, *response_);
    }
    ::close(client);
    if (stopping)
      return;
  }
}

sequence_server::sequence_server(std::vector<std::string> raw_responses)
    : responses_(std::move(raw_responses)) {
  if (responses_.empty())
    throw std::invalid_argument("sequence_server needs at least one response");
  fd_ = bound_socket(16, port_);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(fd_);
    throw socket_error("pipe2");
  }
  thread_ = std::thread([this] { serve(); });
}

std::string sequence_server::response(const std::string& status_line, const std::string& body) {
  return "HTTP/1.1 " + status_line +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

sequence_server::~sequence_server() {
  char stop = 1;
  (void)!::write(wake_[1], &stop, 1);
  thread_.join();
  ::close(fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string sequence_server::url() const {
  return url_for(port_);
}

int sequence_server::requests() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return requests_;
}

void sequence_server::serve() {
  for (;;) {
    int client = -1;
    auto accepted = accept_client(fd_, wake_[0], client);
    if (accepted == accept_result::stop)
      return;
    if (accepted == accept_result::retry)
      continue;
    std::string request;
    bool stopping = false;
    if (read_request(client, wake_[0], request, stopping)) {
      std::string answer;
      {
        std::lock_guard<std::mutex> lock{mutex_};
        auto index = std::min(static_cast<std::size_t>(requests_), responses_.size() - 1);
        answer = responses_[index];
        ++requests_;
      }
      send_answer(client, answer);
    }
    ::close(client);
    if (stopping)
      return;
  }
}

} // namespace imgproc::testing
