#include "tests/support/mjpeg_server.hpp"

#include "tests/support/images.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace imgproc::testing {
namespace {

/// A listening socket on 127.0.0.1:`port` (0: any free port), its port written back.
int listen_on(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("mjpeg_server: socket failed");
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("mjpeg_server: cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  port = ntohs(address.sin_port);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

} // namespace

mjpeg_server::mjpeg_server(int width, int height, double fps) : fps_(fps) {
  for (int seed = 0; seed < 8; ++seed)
    frames_.push_back(make_jpeg(width, height, seed));
  start();
}

mjpeg_server::~mjpeg_server() {
  stop();
}

void mjpeg_server::start() {
  if (running_)
    return;
  listener_ = listen_on(port_);
  running_ = true;
  acceptor_ = std::thread([this, fd = listener_] { accept_loop(fd); });
}

void mjpeg_server::stop() {
  if (!running_.exchange(false))
    return;
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  ::close(listener_);
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    for (int fd : clients_)
      ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& sender : senders_)
    sender.join();
  senders_.clear();
  for (int fd : clients_)
    ::close(fd);
  clients_.clear();
}

void mjpeg_server::accept_loop(int listener) {
  while (running_) {
    pollfd watch{listener, POLLIN, 0};
    if (::poll(&watch, 1, 50) <= 0)
      continue;
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0)
      continue;
    std::lock_guard<std::mutex> lock(clients_mutex_);
    clients_.push_back(client);
    senders_.emplace_back([this, client] { serve(client); });
  }
}

void mjpeg_server::serve(int client) {
  // The request head: read until its blank line (a GET has no body); what it asks is ignored.
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    auto n = ::recv(client, buffer, sizeof buffer, 0);
    if (n <= 0)
      return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  if (!send_all(client, "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                        "Content-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"))
    return;
  const auto period = std::chrono::duration<double>(1.0 / fps_);
  auto due = std::chrono::steady_clock::now();
  for (std::size_t i = 0; running_; ++i) {
    const auto& jpeg = frames_[i % frames_.size()];
    std::string part =
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + std::to_string(jpeg.size()) +
        "\r\n\r\n" + jpeg + "\r\n";
    if (!send_all(client, part))
      return;
    ++frames_sent_;
    due += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    std::this_thread::sleep_until(due); // the source's frame rate
  }
}

} // namespace imgproc::testing
