#pragma once

// The socket RESTinio reads requests from (server traits' stream_socket_t): a TCP socket whose
// incoming bytes pass through a request_guard (http/request_guard.hpp) before RESTinio parses
// them. RESTinio closes the connection without any answer when a request is over its transport
// caps (incoming_http_msg_limits_t); the guard sees such a request first and the socket answers
// it: a JSON 413, 414 or 431 with `Connection: close`. Then it shuts down its sending side, reads
// and discards what the client still sends (into a 16 KiB buffer; a bounded amount, see
// guard_settings::max_drained_bytes, and within RESTinio's read timeout) so that closing does not
// reset the connection and destroy the answer before the client reads it, and only then reports
// the end of the stream to RESTinio, which closes the connection as it would have.
//
// Built like restinio::impl::tls_socket_t (the member functions RESTinio's connection and
// acceptor use), with the same two customisations RESTinio's TLS support makes below:
// socket_supplier_t, so that every accepted connection gets a fresh socket sharing the server's
// guard settings, and socket_type_dependent_settings_t, which adds request_guard() to the server
// settings. The guard's caps are the server's incoming_http_msg_limits(): the same numbers.
//
// Needs max_pipelined_requests(1) (checked when the server starts): RESTinio then reads again
// only once its previous response is written, so the refusal is written on an idle socket and
// after every earlier answer.

#include "common/http_status.hpp"
#include "http/client_watch.hpp"
#include "http/request_guard.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <restinio/asio_include.hpp>
#include <restinio/http_server.hpp>
#include <restinio/settings.hpp>
#include <restinio/tls_fwd.hpp>
#include <string>
#include <sys/socket.h>
#include <type_traits>
#include <utility>
#include <vector>

namespace imgproc {

/// A request the guard refused and the socket answered: for the log and the metrics.
struct guard_refusal {
  int status = 0;
  std::string detail;
  std::string method; ///< as sent, if short (not checked: may be anything but blanks)
  std::string peer;   ///< address:port of the client, if still known
};

struct guard_settings {
  /// The caps are filled in from the server's incoming_http_msg_limits() when it starts; the
  /// service_* limits, named in the answers, are the caller's.
  request_guard_limits limits;
  /// Called on the connection's strand when a refusal is about to be written. Exceptions are
  /// swallowed.
  std::function<void(const guard_refusal&)> on_refusal;
  /// After a refusal the socket reads and discards what the client still sends, waiting for it
  /// to close: up to the body it declared, at least the body cap, plus 64 KiB (clients that send
  /// their whole body before reading get their answer too), but never more than this (0: 16 times
  /// the body cap). RESTinio's read timeout (read_next_http_message_timelimit) bounds the time.
  std::uint64_t max_drained_bytes = 0;
};

class guarded_socket {
public:
  using socket_t = restinio::asio_ns::ip::tcp::socket;
  using executor_type = socket_t::executor_type;
  using error_code = restinio::asio_ns::error_code;

  /// Without settings the socket is a plain TCP socket: no guard.
  explicit guarded_socket(restinio::asio_ns::io_context& io_context,
                          std::shared_ptr<const guard_settings> settings = {})
      : state_{std::make_shared<state>(io_context, std::move(settings))} {}

  guarded_socket(const guarded_socket&) = delete;
  guarded_socket& operator=(const guarded_socket&) = delete;
  /// A moved-from socket may only be destroyed or assigned to.
  guarded_socket(guarded_socket&&) noexcept = default;
  guarded_socket& operator=(guarded_socket&& other) noexcept {
    if (this != &other) {
      close_if_shared();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~guarded_socket() { close_if_shared(); }

  socket_t& lowest_layer() { return state_->socket; }
  const socket_t& lowest_layer() const { return state_->socket; }
  executor_type get_executor() { return state_->socket.get_executor(); }
  auto remote_endpoint() const { return state_->socket.remote_endpoint(); }
  bool is_open() const { return state_->socket.is_open(); }

  template <typename... Args> void cancel(Args&&... args) {
    state_->socket.cancel(std::forward<Args>(args)...);
  }
  template <typename... Args> void shutdown(Args&&... args) {
    state_->socket.shutdown(std::forward<Args>(args)...);
  }
  template <typename... Args> void close(Args&&... args) {
    state_->socket.close(std::forward<Args>(args)...);
  }

  template <typename ConstBuffers, typename WriteHandler>
  void async_write_some(const ConstBuffers& buffers, WriteHandler&& handler) {
    state_->socket.async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

  /// Reads like the TCP socket, the bytes passing through the guard. On a refusal the handler
  /// gets the bytes of the chunk before the refused request, if any (the refusal is answered at
  /// the next read), else, once the answer is written and the client is done, end-of-stream or
  /// the error that ended the wait. A handler, not any completion token.
  template <typename MutableBuffers, typename ReadHandler>
  void async_read_some(const MutableBuffers& buffers, ReadHandler&& handler) {
    auto st = state_;
    if (!st->settings) {
      st->socket.async_read_some(buffers, std::forward<ReadHandler>(handler));
      return;
    }
    std::decay_t<ReadHandler> done{std::forward<ReadHandler>(handler)};
    // Every step runs where the handler runs (RESTinio: the connection's strand).
    auto executor = restinio::asio_ns::get_associated_executor(done, st->socket.get_executor());
    if (st->pending) {
      guard_verdict refusal = std::move(*st->pending);
      st->pending.reset();
      answer(std::move(st), executor, std::move(refusal), std::move(done));
      return;
    }
    if (!st->guard.following()) { // it gave up on this connection: a plain read
      st->socket.async_read_some(buffers, std::move(done));
      return;
    }
    auto* s = st.get();
    s->socket.async_read_some(
        buffers, restinio::asio_ns::bind_executor(
                     executor, [st = std::move(st), buffers, executor, done = std::move(done)](
                                   const error_code& ec, std::size_t length) mutable {
                       if (ec)
                         return done(ec, length);
                       guard_verdict verdict;
                       try {
                         verdict = feed(st->guard, buffers, length);
                       } catch (...) { // out of memory: RESTinio's caps still hold
                         return done(ec, length);
                       }
                       if (!verdict.refused()) {
                         if (st->guard.take_continue())
                           send_continue(*st);
                         if (st->guard.between_requests())
                           watch_client(st, executor);
                         return done(ec, length);
                       }
                       if (verdict.passed > 0) {
                         // Earlier requests end in this chunk: RESTinio gets them, answers them,
                         // and reads again; the refusal is written then, after their answers.
                         auto passed = verdict.passed;
                         st->pending = std::move(verdict);
                         return done(ec, passed);
                       }
                       answer(std::move(st), executor, std::move(verdict), std::move(done));
                     }));
  }

private:
  struct state {
    state(restinio::asio_ns::io_context& io_context, std::shared_ptr<const guard_settings> s)
        : socket{io_context}, settings{std::move(s)}, guard{settings ? settings->limits
                                                                     : request_guard_limits{}} {}

    socket_t socket;
    std::shared_ptr<const guard_settings> settings;
    request_guard guard;
    std::optional<guard_verdict> pending; ///< a refusal to answer at the next read
    std::string reply;                    ///< the refusal being written
    std::unique_ptr<char[]> drain_buffer; ///< allocated on a refusal only
    std::uint64_t drained = 0;
    std::uint64_t drain_limit = 0;
    // The client's connection, watched while a request of it is handled (http/client_watch.hpp).
    client_flag gone;
    restinio::asio_ns::ip::tcp::endpoint peer;
    bool watching = false;

    ~state() {
      if (gone)
        client_watch::process().forget(peer, gone);
    }
  };
  static constexpr std::size_t drain_buffer_bytes = 16384;

  /// Shared with pending operations (they hold the state, so moving the adapter is safe): if the
  /// adapter goes first, closing the socket ends them.
  void close_if_shared() noexcept {
    if (state_ && state_.use_count() > 1) {
      error_code ignored;
      state_->socket.close(ignored);
    }
  }

  template <typename MutableBuffers>
  static guard_verdict feed(request_guard& guard, const MutableBuffers& buffers,
                            std::size_t length) {
    std::size_t offset = 0;
    for (auto it = restinio::asio_ns::buffer_sequence_begin(buffers);
         it != restinio::asio_ns::buffer_sequence_end(buffers) && offset < length; ++it) {
      restinio::asio_ns::mutable_buffer piece = *it;
      auto size = std::min(piece.size(), length - offset);
      auto verdict = guard.feed({static_cast<const char*>(piece.data()), size});
      if (verdict.refused()) {
        verdict.passed += offset;
        return verdict;
      }
      offset += size;
    }
    return {length, 0, {}};
  }

  static constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();

  /// Once a whole request is in, RESTinio reads no more until it has answered: waits for the
  /// socket to become readable meanwhile, and if what is there is the end of the stream (or a
  /// reset), the client has gone and its connection's flag is set. Data instead (a pipelined
  /// request) ends the watch: RESTinio reads it in turn. Runs on the connection's strand.
  template <typename Executor>
  static void watch_client(const std::shared_ptr<state>& st, const Executor& executor) {
    if (st->watching)
      return;
    try {
      if (!st->gone) {
        error_code ec;
        st->peer = st->socket.remote_endpoint(ec);
        if (ec)
          return;
        st->gone = client_watch::process().track(st->peer);
      }
      st->watching = true;
      st->socket.async_wait(
          socket_t::wait_read,
          restinio::asio_ns::bind_executor(executor, [st](const error_code& ec) {
            st->watching = false;
            if (ec) // the socket was closed or cancelled: nothing to tell
              return;
            char byte;
            auto n = ::recv(st->socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
              st->gone->store(true);
          }));
    } catch (...) {
      st->watching = false; // no memory for the wait: the work then runs to its deadline
    }
  }

  /// The interim answer to `Expect: 100-continue`, written at once and in full: 25 bytes on a
  /// connection with nothing else in flight (RESTinio writes only after the whole request is
  /// read), so the socket's send buffer takes them without waiting. A failure is the client's
  /// trouble: it sends its body after its own wait, as without this answer.
  static void send_continue(state& st) noexcept {
    static constexpr char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code ignored;
    restinio::asio_ns::write(st.socket, restinio::asio_ns::buffer(interim, sizeof interim - 1),
                             ignored);
  }

  static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > no_limit - b ? no_limit : a + b;
  }

  /// See guard_settings::max_drained_bytes.
  static std::uint64_t drain_limit(const state& st) {
    const auto cap = st.settings->limits.max_body_bytes;
    auto ceiling = st.settings->max_drained_bytes;
    if (ceiling == 0)
      ceiling = cap > no_limit / 16 ? no_limit : cap * 16;
    auto expected = saturating_add(std::max(cap, st.guard.content_length()), 64 * 1024);
    return std::min(expected, ceiling);
  }

  static std::string answer_text(const guard_verdict& verdict) {
    auto body = verdict.json_body();
    return "HTTP/1.1 " + std::to_string(verdict.status) + " " + reason_phrase(verdict.status) +
           "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  /// Writes the refusal, shuts down the sending side, then drains until the client is done.
  template <typename Executor, typename Handler>
  static void answer(std::shared_ptr<state> st, const Executor& executor, guard_verdict verdict,
                     Handler done) {
    st->drain_limit = drain_limit(*st);
    try {
      st->reply = answer_text(verdict);
      if (st->settings->on_refusal) {
        guard_refusal refusal{verdict.status, verdict.detail, st->guard.method(), {}};
        error_code ec;
        auto peer = st->socket.remote_endpoint(ec);
        if (!ec)
          refusal.peer = peer.address().to_string() + ":" + std::to_string(peer.port());
        st->settings->on_refusal(refusal);
      }
    } catch (...) {
      // The answer is written if it could be made; the listener's trouble is not the client's.
    }
    auto s = st; // alive in the catch below, whatever unwinding destroys
    try {
      restinio::asio_ns::async_write(
          s->socket, restinio::asio_ns::buffer(s->reply),
          restinio::asio_ns::bind_executor(
              executor, [st = std::move(st), executor,
                         done = std::move(done)](const error_code& ec, std::size_t) mutable {
                if (ec) // RESTinio closed the socket (its read timeout), or the client is gone
                  return done(ec, 0);
                error_code ignored;
                st->socket.shutdown(socket_t::shutdown_send, ignored);
                drain(std::move(st), executor, std::move(done));
              }));
    } catch (...) {
      out_of_memory(*s);
    }
  }

  /// An operation could not even start (no memory): its handler is gone with RESTinio's hold on
  /// the connection, which closes as it is destroyed. Nothing may escape into the I/O threads.
  static void out_of_memory(state& st) noexcept {
    error_code ignored;
    st.socket.close(ignored);
  }

  template <typename Executor, typename Handler>
  static void drain(std::shared_ptr<state> st, const Executor& executor, Handler done) {
    if (st->drained >= st->drain_limit) // the client keeps sending: close anyway
      return done(restinio::asio_ns::error::message_size, 0);
    if (!st->drain_buffer)
      st->drain_buffer.reset(new (std::nothrow) char[drain_buffer_bytes]);
    if (!st->drain_buffer)
      return done(restinio::asio_ns::error::no_memory, 0);
    auto s = st; // alive in the catch below, whatever unwinding destroys
    try {
      s->socket.async_read_some(
          restinio::asio_ns::buffer(s->drain_buffer.get(), drain_buffer_bytes),
          restinio::asio_ns::bind_executor(
              executor, [st = std::move(st), executor,
                         done = std::move(done)](const error_code& ec, std::size_t length) mutable {
                st->drained += length;
                if (ec) // end of stream: the client has read the answer and closed
                  return done(ec, 0);
                drain(std::move(st), executor, std::move(done));
              }));
    } catch (...) {
      out_of_memory(*s);
    }
  }

  std::shared_ptr<state> state_;
};

// RESTinio's connection calls these unqualified (found here by argument-dependent lookup): no
// handshake before reading, and not a TLS socket for connection-state listeners.
template <typename Connection, typename StartRead, typename Failed>
void prepare_connection_and_start_read(guarded_socket&, Connection&, StartRead start_read, Failed) {
  start_read();
}

inline restinio::impl::tls_socket_t*
make_tls_socket_pointer_for_state_listener(guarded_socket&) noexcept {
  return nullptr;
}

} // namespace imgproc

namespace restinio {

/// Server settings with a guarded socket get request_guard(): how refusals are reported and
/// what the answers name.
template <typename Settings>
class socket_type_dependent_settings_t<Settings, imgproc::guarded_socket> {
protected:
  ~socket_type_dependent_settings_t() noexcept = default;

public:
  socket_type_dependent_settings_t() noexcept = default;
  socket_type_dependent_settings_t(const socket_type_dependent_settings_t&) = default;
  socket_type_dependent_settings_t(socket_type_dependent_settings_t&&) noexcept = default;
  socket_type_dependent_settings_t& operator=(const socket_type_dependent_settings_t&) = default;
  socket_type_dependent_settings_t& operator=(socket_type_dependent_settings_t&&) = delete;

  Settings& request_guard(imgproc::guard_settings settings) & {
    m_guard = std::move(settings);
    return static_cast<Settings&>(*this);
  }
  Settings&& request_guard(imgproc::guard_settings settings) && {
    return std::move(this->request_guard(std::move(settings)));
  }
  const imgproc::guard_settings& request_guard() const noexcept { return m_guard; }

private:
  imgproc::guard_settings m_guard;
};

namespace impl {

/// The sockets waiting for connections, as for TLS: a fresh one replaces each accepted one, all
/// sharing the server's guard settings, with the caps of its incoming_http_msg_limits().
template <> class socket_supplier_t<imgproc::guarded_socket> {
protected:
  template <typename Settings>
  socket_supplier_t(Settings& settings, asio_ns::io_context& io_context)
      : m_io_context{io_context} {
    if (settings.max_pipelined_requests() != 1)
      throw exception_t{"imgproc::guarded_socket needs max_pipelined_requests(1)"};
    auto guard = std::make_shared<imgproc::guard_settings>(settings.request_guard());
    const auto& caps = settings.incoming_http_msg_limits();
    guard->limits.max_url_bytes = caps.max_url_size();
    guard->limits.max_field_name_bytes = caps.max_field_name_size();
    guard->limits.max_field_value_bytes = caps.max_field_value_size();
    guard->limits.max_field_count = caps.max_field_count();
    guard->limits.max_body_bytes = caps.max_body_size();
    m_guard = std::move(guard);
    m_sockets.reserve(settings.concurrent_accepts_count());
    while (m_sockets.size() < settings.concurrent_accepts_count())
      m_sockets.emplace_back(m_io_context, m_guard);
  }
  virtual ~socket_supplier_t() = default;

  imgproc::guarded_socket& socket(std::size_t index) { return m_sockets.at(index); }

  imgproc::guarded_socket move_socket(std::size_t index) {
    imgproc::guarded_socket fresh{m_io_context, m_guard};
    std::swap(fresh, m_sockets.at(index));
    return fresh;
  }

  auto concurrent_accept_sockets_count() const { return m_sockets.size(); }

private:
  asio_ns::io_context& m_io_context;
  std::shared_ptr<const imgproc::guard_settings> m_guard;
  std::vector<imgproc::guarded_socket> m_sockets;
};

} // namespace impl
} // namespace restinio
