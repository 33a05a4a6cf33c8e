#pragma once

// Faulty ML services for end-to-end tests, listening on 127.0.0.1 ports chosen by the kernel.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace imgproc::testing {

/// A port on 127.0.0.1 that nothing listens on (bound, read, then released): connecting to it
/// is refused.
std::uint16_t closed_port();

/// A port on 127.0.0.1 that refuses connections for as long as this object lives: bound without
/// listening, so no other process can take it meanwhile (closed_port() leaves that window open).
class refusing_port {
public:
  refusing_port();
  ~refusing_port();
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;
  std::string url() const; ///< http://127.0.0.1:<port>/ml-process-img

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// Fault injection for "the ML service hangs": a socket that listens but is never accepted from
/// or read. The kernel completes the TCP handshake and buffers the request, so the client sees
/// a connected peer that never answers, exactly like a stuck server.
class silent_server {
public:
  silent_server();
  ~silent_server();
  silent_server(const silent_server&) = delete;
  silent_server& operator=(const silent_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// Answers every request with the same raw HTTP response after reading the whole request
/// (headers and Content-Length body), then closes the connection. One connection at a time.
/// Without a response it reads each request and then holds the connection open, never
/// answering: a stuck server whose arrival of requests the test can wait for.
class canned_server {
public:
  explicit canned_server(std::optional<std::string> raw_response);
  /// A 200 text/plain answer with `body`.
  static std::string ok_response(const std::string& body);
  ~canned_server();
  canned_server(const canned_server&) = delete;
  canned_server& operator=(const canned_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;
  int requests() const;
  /// Waits until `count` whole requests have arrived; false on timeout.
  bool wait_for_requests(int count, std::chrono::milliseconds timeout);

private:
  void serve();

  std::optional<std::string> response_;
  int fd_ = -1;
  int wake_[2] = {-1, -1}; ///< a pipe whose write end wakes the thread to stop
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  int requests_ = 0;
  std::vector<int> held_; ///< connections kept open without an answer
  std::thread thread_;
};

/// Answers requests from a script: the Nth request gets the Nth raw HTTP response (each then
/// closes its connection), and every request after the script's end gets its last entry. For
/// "fails twice, then works" and similar sequences. One connection at a time.
class sequence_server {
public:
  explicit sequence_server(std::vector<std::string> raw_responses);
  /// A raw response with this status line ("500 Internal Server Error") and body.
  static std::string response(const std::string& status_line, const std::string& body);
  ~sequence_server();
  sequence_server(const sequence_server&) = delete;
  sequence_server& operator=(const sequence_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;
  int requests() const;

private:
  void serve();

  std::vector<std::string> responses_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  int requests_ = 0;
  std::thread thread_;
};

} // namespace imgproc::testing
