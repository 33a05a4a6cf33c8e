// load_client: an HTTP load generator for the load harness (scripts/bench). It uploads JPEGs to
// one URL as multipart/form-data POSTs (the body built once per image, before the clock starts)
// over kept-alive HTTP/1.1 connections, from one thread with epoll, and prints one line:
//
//   LOAD mode=closed connections=8 ... rps=412.3 p50_ms=18.2 p90_ms=25.0 p99_ms=31.7 ...
//
// Two modes:
// - closed loop (no --rate): --connections connections, each sends its next request as soon as
//   the previous one is answered. Latency runs from the moment the request is sent.
// - open loop (--rate=R): a request is due every 1/R s on a fixed schedule, whether or not the
//   earlier ones were answered. A due request goes out on an idle connection, or on a new one
//   (up to --max-connections), or waits in the client until a connection is free. Latency runs
//   from the request's scheduled time, not from when it could be sent, so a server that falls
//   behind shows its queueing in the percentiles (no coordinated omission, as in wrk2).
//
// rps is in_window (responses of any status that arrived within the --duration window) over the
// window; answered counts every response, also those of the drain after the window;
// the percentiles cover every request sent (closed) or scheduled (open) in the window, including
// those answered in the drain after it. Requests still unanswered --timeout after their start
// count as timeouts. cpu_s is this process's user+system CPU time over its whole run.
//
// Exit status: 0 when the run completed (errors are reported, not fatal), 1 when it could not
// start (no images, bad URL), 2 for bad arguments.

#include "bench/load_http.hpp"
#include "bench/load_options.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace {

using load::options;
using load::parse_response;
using load::response;
using load::target;

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct connection {
  int fd = -1;
  bool connected = false;
  bool busy = false; ///< a request is being sent or awaits its answer
  const std::string* request = nullptr;
  std::size_t written = 0;
  double start = 0; ///< send time (closed) or scheduled time (open)
  std::string input;
  bool want_write = false; ///< EPOLLOUT is in the interest set
};

class load_client {
public:
  load_client(options opt, target t, std::vector<std::string> requests)
      : opt_(std::move(opt)), target_(std::move(t)), requests_(std::move(requests)) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(target_.host.c_str(), target_.port.c_str(), &hints, &res); rc != 0)
      throw std::runtime_error("cannot resolve " + target_.host + ": " + gai_strerror(rc));
    std::memcpy(&address_, res->ai_addr, res->ai_addrlen);
    address_len_ = res->ai_addrlen;
    family_ = res->ai_family;
    freeaddrinfo(res);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_ < 0 || timer_ < 0)
      throw std::runtime_error(std::string("epoll/timerfd: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr; // the timer
    epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
  }

  ~load_client() {
    for (auto& c : connections_)
      if (c->fd >= 0)
        close(c->fd);
    close(timer_);
    close(epoll_);
  }

  void run() {
    open_loop_ = opt_.rate > 0;
    double cpu_start = cpu_s();
    for (int i = 0; i < opt_.connections; ++i)
      open_connection();
    wait_connected();
    t0_ = now_s();
    t_end_ = t0_ + opt_.duration;
    if (open_loop_) {
      for (auto& c : connections_)
        idle_.push_back(c.get());
      arm_timer(t0_);
    } else {
      // By index: a connection that fails at once is replaced, which appends to connections_.
      for (std::size_t i = 0, n = connections_.size(); i < n; ++i)
        if (connections_[i]->fd >= 0)
          send_request(*connections_[i], t0_);
    }
    while (!finished()) {
      double now = now_s();
      if (open_loop_)
        send_due(now);
      check_timeouts(now);
      epoll_event events[64];
      int n = epoll_wait(epoll_, events, 64, 10);
      if (n < 0 && errno != EINTR)
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          std::uint64_t expirations = 0;
          [[maybe_unused]] auto r = read(timer_, &expirations, sizeof expirations);
          continue;
        }
        handle(*static_cast<connection*>(events[i].data.ptr), events[i].events);
      }
    }
    wall_ = now_s() - t0_;
    cpu_ = cpu_s() - cpu_start;
  }

  void report(std::ostream& out) {
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double p) {
      if (latencies_.empty())
        return 0.0;
      auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * latencies_.size()));
      return latencies_[std::min(latencies_.size(), std::max<std::size_t>(rank, 1)) - 1] * 1000;
    };
    std::uint64_t non2xx = 0;
    for (auto& [status, count] : statuses_)
      if (status / 100 != 2)
        non2xx += count;
    std::uint64_t errors = non2xx + socket_errors_ + timeouts_ + bad_responses_;
    char buf[1024];
    std::snprintf(
        buf, sizeof buf,
        "LOAD%s%s mode=%s connections=%d rate=%.1f duration_s=%.2f sent=%llu "
        "answered=%llu in_window=%llu rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
        "errors=%llu non2xx=%llu socket_errors=%llu timeouts=%llu bad_responses=%llu "
        "connections_opened=%d waited_for_connection=%llu cpu_s=%.3f wall_s=%.3f",
        opt_.label.empty() ? "" : " ", opt_.label.c_str(), open_loop_ ? "open" : "closed",
        opt_.connections, opt_.rate, opt_.duration, static_cast<unsigned long long>(sent_),
        static_cast<unsigned long long>(answered_), static_cast<unsigned long long>(in_window_),
        in_window_ / opt_.duration, pct(50), pct(90), pct(99), pct(100),
        static_cast<unsigned long long>(errors), static_cast<unsigned long long>(non2xx),
        static_cast<unsigned long long>(socket_errors_), static_cast<unsigned long long>(timeouts_),
        static_cast<unsigned long long>(bad_responses_), opened_,
        static_cast<unsigned long long>(waited_), cpu_, wall_);
    out << buf;
    for (auto& [status, count] : statuses_)
      out << " status_" << status << "=" << count;
    out << "\n";
  }

private:
  bool finished() const {
    if (now_s() < t_end_)
      return false;
    if (open_loop_ && next_due_ < t_end_)
      return false; // requests still due in the window
    return in_flight_ == 0 && backlog_.empty();
  }

  void arm_timer(double when) {
    itimerspec spec{};
    auto whole = std::floor(when);
    spec.it_value.tv_sec = static_cast<time_t>(whole);
    spec.it_value.tv_nsec = static_cast<long>((when - whole) * 1e9);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0)
      spec.it_value.tv_nsec = 1;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  connection& open_connection() {
    auto c = std::make_unique<connection>();
    c->fd = socket(family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++opened_;
    int rc = connect(c->fd, reinterpret_cast<const sockaddr*>(&address_), address_len_);
    if (rc == 0)
      c->connected = true;
    else if (errno != EINPROGRESS)
      throw std::runtime_error("connect to " + target_.host + ":" + target_.port + ": " +
                               std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c.get();
    c->want_write = true;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
    connections_.push_back(std::move(c));
    return *connections_.back();
  }

  /// Waits until the first connections are established (before the clock starts).
  void wait_connected() {
    double deadline = now_s() + 10;
    while (now_s() < deadline) {
      bool all = true;
      for (auto& c : connections_)
        all = all && c->connected;
      if (all)
        break;
      epoll_event events[64];
      int n = epoll_wait(epoll_, events, 64, 100);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr)
          continue;
        auto& c = *static_cast<connection*>(events[i].data.ptr);
        if (!c.connected && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) &&
            !finish_connect(c))
          throw std::runtime_error("cannot connect to " + target_.host + ":" + target_.port);
      }
    }
    for (auto& c : connections_) {
      if (!c->connected)
        throw std::runtime_error("cannot connect to " + target_.host + ":" + target_.port);
      set_interest(*c, false);
    }
  }

  bool finish_connect(connection& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return false;
    c.connected = true;
    return true;
  }

  void set_interest(connection& c, bool write) {
    if (c.want_write == write)
      return;
    epoll_event ev{};
    ev.events = EPOLLIN | (write ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = write;
  }

  const std::string& next_request() {
    const auto& r = requests_[next_image_];
    next_image_ = (next_image_ + 1) % requests_.size();
    return r;
  }

  void send_request(connection& c, double start) {
    c.busy = true;
    c.request = &next_request();
    c.written = 0;
    c.start = start;
    c.input.clear();
    ++in_flight_;
    ++sent_;
    if (c.connected)
      write_some(c);
    else
      set_interest(c, true);
  }

  void write_some(connection& c) {
    while (c.written < c.request->size()) {
      auto n =
          ::send(c.fd, c.request->data() + c.written, c.request->size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(c, true);
        return;
      }
      fail(c, true);
      return;
    }
    set_interest(c, false);
  }

  void handle(connection& c, std::uint32_t events) {
    if (c.fd < 0)
      return;
    if (!c.connected) {
      if (!finish_connect(c)) {
        fail(c, true);
        return;
      }
      if (!c.busy) {
        set_interest(c, false);
        became_idle(c);
        return;
      }
    }
    if ((events & EPOLLOUT) && c.busy && c.written < c.request->size())
      write_some(c);
    if (c.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
      read_some(c);
  }

  void read_some(connection& c) {
    char buf[16384];
    bool eof = false;
    for (;;) {
      auto n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.input.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      fail(c, c.busy);
      return;
    }
    if (!c.busy) { // an idle connection the server closed (or sent something unasked)
      if (eof || !c.input.empty())
        fail(c, false);
      return;
    }
    auto r = parse_response(c.input, eof);
    if (r.result == response::state::bad) {
      ++bad_responses_;
      fail(c, false);
      return;
    }
    if (r.result == response::state::incomplete) {
      if (eof)
        fail(c, true);
      return;
    }
    complete(c, r.status);
    if (r.close || eof || r.length != c.input.size()) {
      close_connection(c); // a new one is opened when needed
      return;
    }
    c.input.clear();
    became_idle(c);
  }

  void record(double start, double end) {
    if (start >= t0_ && start < t_end_)
      latencies_.push_back(end - start);
    if (end <= t_end_)
      ++in_window_;
  }

  void complete(connection& c, int status) {
    double end = now_s();
    c.busy = false;
    --in_flight_;
    ++statuses_[status];
    ++answered_;
    record(c.start, end);
  }

  /// A socket error: the request in flight (if any) is lost; the connection is replaced.
  void fail(connection& c, bool count) {
    if (c.busy) {
      c.busy = false;
      --in_flight_;
      if (count)
        ++socket_errors_;
    }
    close_connection(c);
  }

  void close_connection(connection& c) {
    if (c.fd >= 0) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
    if (!open_loop_ && now_s() < t_end_) {
      // Closed loop: keep the connection count.
      auto& fresh = open_connection();
      send_request(fresh, now_s());
    } else if (open_loop_ && !backlog_.empty() && live_connections() < opt_.max_connections) {
      became_idle(open_connection()); // takes the oldest waiting request
    }
  }

  void became_idle(connection& c) {
    double now = now_s();
    if (open_loop_) {
      if (!backlog_.empty()) {
        double start = backlog_.front();
        backlog_.pop_front();
        --in_flight_; // counted when it was queued
        --sent_;
        send_request(c, start);
      } else {
        idle_.push_back(&c);
      }
      return;
    }
    if (now < t_end_)
      send_request(c, now);
  }

  /// Open loop: sends every request whose time has come, on an idle connection, a new one, or
  /// (all busy and at --max-connections) queues it with its scheduled time.
  void send_due(double now) {
    double interval = 1.0 / opt_.rate;
    while (next_due_ < t_end_ && t0_ + sent_schedule_ * interval <= now) {
      double start = t0_ + static_cast<double>(sent_schedule_) * interval;
      ++sent_schedule_;
      connection* c = nullptr;
      while (!idle_.empty() && !c) {
        c = idle_.back();
        idle_.pop_back();
        if (c->fd < 0 || c->busy)
          c = nullptr;
      }
      if (!c && live_connections() < opt_.max_connections)
        c = &open_connection();
      if (c) {
        send_request(*c, start);
      } else {
        backlog_.push_back(start);
        ++in_flight_;
        ++sent_;
        ++waited_;
      }
      next_due_ = t0_ + static_cast<double>(sent_schedule_) * interval;
    }
    if (next_due_ < t_end_)
      arm_timer(next_due_);
  }

  int live_connections() const {
    int n = 0;
    for (auto& c : connections_)
      n += c->fd >= 0;
    return n;
  }

  void check_timeouts(double now) {
    // By index: close_connection may append a replacement.
    for (std::size_t i = 0, n = connections_.size(); i < n; ++i) {
      auto& c = *connections_[i];
      if (c.fd >= 0 && c.busy && now - c.start > opt_.timeout) {
        c.busy = false;
        --in_flight_;
        ++timeouts_;
        close_connection(c);
      }
    }
    while (!backlog_.empty() && now - backlog_.front() > opt_.timeout) {
      backlog_.pop_front();
      --in_flight_;
      ++timeouts_;
    }
  }

  options opt_;
  target target_;
  std::vector<std::string> requests_;
  sockaddr_storage address_{};
  socklen_t address_len_ = 0;
  int family_ = AF_INET;
  int epoll_ = -1;
  int timer_ = -1;
  bool open_loop_ = false;
  std::vector<std::unique_ptr<connection>> connections_;
  std::vector<connection*> idle_;
  std::deque<double> backlog_; ///< open loop: scheduled times waiting for a connection
  std::size_t next_image_ = 0;
  double t0_ = 0;
  double t_end_ = 0;
  double next_due_ = 0;
  std::uint64_t sent_schedule_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t in_flight_ = 0;
  std::uint64_t answered_ = 0;  ///< responses, any status
  std::uint64_t in_window_ = 0; ///< responses that arrived within --duration
  std::uint64_t socket_errors_ = 0;
  std::uint64_t timeouts_ = 0;
  std::uint64_t bad_responses_ = 0;
  std::uint64_t waited_ = 0;
  int opened_ = 0;
  std::map<int, std::uint64_t> statuses_;
  std::vector<double> latencies_;
  double wall_ = 0;
  double cpu_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  options opt;
  if (!load::parse_args(argc, argv, opt)) {
    std::cerr << load::usage_text;
    return 2;
  }
  try {
    if (opt.images.empty())
      throw std::runtime_error("no images (--images=DIR with *.jpg files, or FILE.jpg ...)");
    auto t = load::parse_url(opt.url);
    auto requests = load::build_requests(opt.images, t);
    load_client client(opt, t, std::move(requests));
    client.run();
    client.report(std::cout);
  } catch (const std::exception& e) {
    std::cerr << "load_client: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
