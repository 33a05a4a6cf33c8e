#pragma once

// What the fault suite's scenarios (tests/e2e/faults/, docs/faults.md) share: an HTTP exchange as
// the client saw it, uploads written byte for byte, reads of the tasks table by scenario, raw
// sockets for slow clients, closed-loop load from several threads, and small figures for the
// reports. The counting itself is in fault_report.hpp.

#include "tests/support/fault_report.hpp"
#include "tests/support/http_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace imgproc::testing {

/// The bound on imgproc's resident memory growth over a scenario (docs/faults.md): after the
/// hostile inputs, and at any time during overload, VmRSS stays within this of its value after
/// the warm-up. Generous against allocator caching of a few large bodies (the upload limit is
/// 1 MiB in the hostile scenario), tight against a decompression bomb (a 60000x60000 image is
/// 10 GB) or a per-request leak.
constexpr long memory_bound_kib = 64 * 1024;

/// A transport error without the (possibly very long) URL libcurl quotes.
std::string shorten(const std::string& transport_error);

double seconds_since(std::chrono::steady_clock::time_point start);

/// An HTTP exchange as the client saw it: the response, or status 0 and the transport error.
struct exchange {
  long status = 0;
  std::string body;
  std::string retry_after;
  double seconds = 0;
  std::string transport_error;
  std::chrono::steady_clock::time_point started;
  http_response response; ///< as received (empty without an HTTP answer)
};

exchange attempt(const std::function<http_response()>& send);

/// POSTs `image` as image_file named `filename` to `base_url` + path.
exchange upload_as(const std::string& base_url, const std::string& path, const std::string& image,
                   const std::string& filename,
                   std::chrono::milliseconds timeout = default_http_timeout);

sent_request logged(const std::string& filename, const exchange& e);

/// A multipart body written byte for byte (libcurl would escape some filename characters): each
/// part is its header lines and its content.
std::string multipart_body(const std::string& boundary,
                           const std::vector<std::pair<std::string, std::string>>& parts);

std::pair<std::string, std::string> raw_image_part(const std::string& raw_filename,
                                                   const std::string& content);

inline const std::string boundary = "faultsuiteBoundary7MA4YWxk";
inline const std::string multipart_type = "multipart/form-data; boundary=" + boundary;

/// Status and error of every row stored under `filename`.
std::vector<std::pair<std::string, std::string>> rows_named(const std::string& dsn,
                                                            const std::string& filename);

/// Rows of the scenario whose final write is incomplete: closed without finished_at, a result
/// without data, a failure without its reason.
long half_written_rows(const std::string& dsn, const std::string& scenario);

// --- raw sockets: slow clients and the connection cap -------------------------------------------

/// A TCP connection to 127.0.0.1:`port`; throws when it cannot connect.
int connect_to(std::uint16_t port);

/// Whether the server closed `fd` (end of stream or reset) within `timeout`; whatever it sent
/// before closing is appended to `received`.
bool closed_by_server(int fd, std::chrono::milliseconds timeout, std::string* received = nullptr);

/// The status of a raw HTTP answer ("HTTP/1.1 400 ..."), 0 if there is none.
long raw_status(const std::string& answer);

// --- load from several threads -------------------------------------------------------------------

/// Closed-loop clients: `threads` threads each send, one at a time, until `stop` is set or
/// `send(n)` returns false (request numbers n are handed out once each). Joins on destruction.
class client_threads {
public:
  client_threads(int threads, std::function<bool(int)> send) : send_(std::move(send)) {
    for (int t = 0; t < threads; ++t)
      threads_.emplace_back([this] {
        while (!stop_) {
          if (!send_(next_++))
            break;
        }
      });
  }
  ~client_threads() {
    stop();
    join();
  }
  /// Each thread stops after its current request.
  void stop() { stop_ = true; }
  /// Waits for every thread to end (after stop(), or once `send` returned false in each).
  void join() {
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }
  int started() const { return next_; }

private:
  std::function<bool(int)> send_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0};
  std::vector<std::thread> threads_;
};

/// Polls `done` every `period` until it holds or `timeout` passes; returns whether it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period = std::chrono::milliseconds(10));

std::string format_ms(double seconds);

double percentile(std::vector<double> values, double p);

/// Nothing lost, nothing duplicated (as gtest expectations, naming the problems).
void expect_accounted(const fault_tally& tally);

} // namespace imgproc::testing
