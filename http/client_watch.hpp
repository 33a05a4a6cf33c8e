#pragma once

// Which clients have closed their connection while their request runs.
//
// RESTinio reads nothing more from a connection while one of its requests is being handled (the
// service answers one request per connection at a time), so it would learn that the client left
// only when it writes the answer. The guarded socket (http/guarded_socket.hpp) therefore watches
// the socket once a whole request is in: when the client closes it, the connection's flag is
// set. A handler finds its connection's flag here by the client's address and port (what
// RESTinio's request tells) and hands it to the work (core/work_stop.hpp), which stops at its
// next check instead of running on for nobody.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <restinio/asio_include.hpp>

namespace imgproc {

using client_flag = std::shared_ptr<std::atomic<bool>>;

class client_watch {
public:
  using endpoint = restinio::asio_ns::ip::tcp::endpoint;

  /// The one registry of the process: every HTTP server in it shares it.
  static client_watch& process();

  /// The flag of the connection from `peer`, made on first use; kept while the socket holds it.
  client_flag track(const endpoint& peer);
  /// Drops `peer`'s entry if it is still `flag` (a new connection may reuse the port).
  void forget(const endpoint& peer, const client_flag& flag);
  /// The flag of the connection from `peer`; null when none is watched.
  std::shared_ptr<const std::atomic<bool>> find(const endpoint& peer) const;

private:
  mutable std::mutex mutex_;
  std::map<endpoint, std::weak_ptr<std::atomic<bool>>> flags_;
};

} // namespace imgproc
