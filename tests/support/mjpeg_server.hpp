#pragma once

// A live MJPEG-over-HTTP source on 127.0.0.1, as IP cameras serve one: every GET is answered with
// `multipart/x-mixed-replace` and one JPEG part per frame, `fps` times a second, until the client
// leaves or the server stops. It can be stopped and started again on the same port, to test
// what a stream does when its camera goes away and comes back.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace imgproc::testing {

class mjpeg_server {
public:
  /// Frames are `width` x `height` JPEGs that change every frame. Starts serving at once.
  mjpeg_server(int width, int height, double fps);
  ~mjpeg_server();
  mjpeg_server(const mjpeg_server&) = delete;
  mjpeg_server& operator=(const mjpeg_server&) = delete;

  /// Closes the listening socket and every connection: clients see their stream end.
  void stop();
  /// Listens again on the same port.
  void start();

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/stream"; }
  /// Frames written to clients so far, over all connections.
  std::int64_t frames_sent() const { return frames_sent_; }

private:
  void accept_loop(int listener);
  void serve(int client);

  std::vector<std::string> frames_; ///< a few JPEGs, sent in turn
  double fps_;
  std::uint16_t port_ = 0;
  std::atomic<bool> running_{false};
  std::atomic<std::int64_t> frames_sent_{0};
  int listener_ = -1;
  std::thread acceptor_;
  std::mutex clients_mutex_;
  std::vector<int> clients_;
  std::vector<std::thread> senders_;
};

} // namespace imgproc::testing
