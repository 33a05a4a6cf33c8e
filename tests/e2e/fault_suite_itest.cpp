// The fault suite (docs/faults.md): hostile input, overload and faults against the real processes,
// one test per scenario, each counting what it sent, how the service answered, what the tasks
// table holds afterwards, and what was lost or duplicated (tests/support/fault_report.hpp). Each
// test prints a `fault-report:` line and appends a row to <build>/test-artifacts/fault-report.md.
//
// Every request of a scenario uploads under its own filename ("<scenario>-<n>.jpg"), so the rows
// of a scenario are found by filename afterwards. Waits poll a condition, bounded; the only
// timing assertions are the deadlines the service itself promises (--request-timeout-ms).
// Faults a real part cannot produce on demand (an ML service that hangs, answers 500 or garbage)
// come from tests/support/fake_ml.hpp, marked where used.

#include "tests/e2e/helpers.hpp"
#include "tests/support/cluster.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/fault_report.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#ifndef IMGPROC_SOURCE_DIR
#error "IMGPROC_SOURCE_DIR must name the repository (tests/CMakeLists.txt defines it)"
#endif

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// The bound on imgproc's resident memory growth over a scenario (docs/faults.md): after the
/// hostile inputs, and at any time during overload, VmRSS stays within this of its value after
/// the warm-up. Generous against allocator caching of a few large bodies (the upload limit is
/// 1 MiB in the hostile scenario), tight against a decompression bomb (a 60000x60000 image is
/// 10 GB) or a per-request leak.
constexpr long memory_bound_kib = 64 * 1024;

/// A transport error without the (possibly very long) URL libcurl quotes.
std::string shorten(const std::string& transport_error) {
  if (transport_error.empty())
    return "";
  auto failed = transport_error.rfind(" failed: ");
  return "(no HTTP answer: " +
         (failed == std::string::npos ? transport_error.substr(0, 160)
                                      : transport_error.substr(failed + 9)) +
         ")";
}

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

/// An HTTP exchange as the client saw it: the response, or status 0 and the transport error.
struct exchange {
  long status = 0;
  std::string body;
  std::string retry_after;
  double seconds = 0;
  std::string transport_error;
  steady::time_point started;
  http_response response; ///< as received (empty without an HTTP answer)
};

exchange attempt(const std::function<http_response()>& send) {
  exchange out;
  out.started = steady::now();
  try {
    out.response = send();
    out.status = out.response.status;
    out.body = out.response.body;
    out.retry_after = out.response.header("retry-after");
  } catch (const std::exception& e) {
    out.transport_error = e.what();
  }
  out.seconds = seconds_since(out.started);
  return out;
}

/// POSTs `image` as image_file named `filename` to `base_url` + path.
exchange upload_as(const std::string& base_url, const std::string& path, const std::string& image,
                   const std::string& filename, milliseconds timeout = default_http_timeout) {
  return attempt([&] {
    return post_multipart(base_url + path, {file_field("image_file", image, filename)}, timeout);
  });
}

sent_request logged(const std::string& filename, const exchange& e) {
  return sent_request{filename, e.status, e.body};
}

/// A multipart body written byte for byte (libcurl would escape some filename characters): each
/// part is its header lines and its content.
std::string multipart_body(const std::string& boundary,
                           const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string out;
  for (const auto& [headers, content] : parts)
    out += "--" + boundary + "\r\n" + headers + "\r\n\r\n" + content + "\r\n";
  return out + "--" + boundary + "--\r\n";
}

std::pair<std::string, std::string> raw_image_part(const std::string& raw_filename,
                                                   const std::string& content) {
  return {"Content-Disposition: form-data; name=\"image_file\"; filename=\"" + raw_filename +
              "\"\r\nContent-Type: image/jpeg",
          content};
}

const std::string boundary = "faultsuiteBoundary7MA4YWxk";
const std::string multipart_type = "multipart/form-data; boundary=" + boundary;

/// Status and error of every row stored under `filename`.
std::vector<std::pair<std::string, std::string>> rows_named(const std::string& dsn,
                                                            const std::string& filename) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& row :
       txn.exec_params("SELECT status, coalesce(error, '') FROM tasks WHERE filename = $1 "
                       "ORDER BY id",
                       filename))
    out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  return out;
}

/// Rows of the scenario whose final write is incomplete: closed without finished_at, a result
/// without data, a failure without its reason.
long half_written_rows(const std::string& dsn, const std::string& scenario) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  return txn
      .exec_params1("SELECT count(*) FROM tasks WHERE starts_with(filename, $1) AND ("
                    "(status NOT IN ('processing', 'queued') AND finished_at IS NULL) OR "
                    "(status IN ('detected', 'undetected', 'processed') AND data IS NULL) OR "
                    "(status = 'failed' AND (error IS NULL OR error = '')))",
                    scenario + "-")[0]
      .as<long>();
}

// --- raw sockets: slow clients and the connection cap -------------------------------------------

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

/// Whether the server closed `fd` (end of stream or reset) within `timeout`; whatever it sent
/// before closing is appended to `received`.
bool closed_by_server(int fd, milliseconds timeout, std::string* received = nullptr) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now()).count();
    if (left <= 0)
      return false;
    pollfd watch{fd, POLLIN, 0};
    int ready = ::poll(&watch, 1, static_cast<int>(left));
    if (ready <= 0)
      continue;
    char buffer[1024];
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0)
      return true;
    if (received)
      received->append(buffer, static_cast<std::size_t>(n));
  }
}

/// The status of a raw HTTP answer ("HTTP/1.1 400 ..."), 0 if there is none.
long raw_status(const std::string& answer) {
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12)
    return 0;
  return std::strtol(answer.c_str() + 9, nullptr, 10);
}

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

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
bool wait_until(const std::function<bool()>& done, milliseconds timeout,
                milliseconds period = 10ms) {
  auto deadline = steady::now() + timeout;
  while (!done()) {
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(period); // between polls
  }
  return true;
}

std::string format_ms(double seconds) {
  return std::to_string(static_cast<long>(seconds * 1000 + 0.5)) + " ms";
}

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

void expect_accounted(const fault_tally& tally) {
  EXPECT_EQ(tally.lost, 0) << problems_text(tally);
  EXPECT_EQ(tally.duplicated, 0) << problems_text(tally);
}

// --- hostile input -------------------------------------------------------------------------------

/// What a hostile request may leave in the tasks table.
enum class row_rule {
  none,        ///< refused before a task exists
  failed,      ///< one row, failed, naming decode_jpeg
  as_answered, ///< a 200 stores its result (checked by check_stored); an error, at most a
               ///< failed row
};

struct hostile_case {
  std::string name;
  std::set<long> allowed; ///< statuses the service may answer; 0 = it may close the connection
  std::string filename;   ///< the name the service stores ("" when no row can exist)
  row_rule rows = row_rule::none;
  std::function<exchange()> send;
};

TEST(fault_suite, hostile_inputs) {
  const std::string scenario = "hostile_inputs";
  auto started = steady::now();
  constexpr std::size_t max_upload = 1 << 20;
  service_stack stack{
      with_args({"--max-upload-bytes=" + std::to_string(max_upload), "--min-image-side=16",
                 "--max-url-bytes=2048", "--max-header-bytes=4096", "--read-timeout-ms=1000",
                 "--max-connections=8"})};
  const auto base = stack.base_url();
  const std::string path = "/process-image?pipeline_id=1";
  request_log log;
  int n = 0;
  auto next_name = [&] { return fault_filename(scenario, ++n); };

  // Warm-up: a few normal requests, so the memory baseline includes the working set of serving.
  for (int i = 0; i < 8; ++i) {
    auto name = next_name();
    auto e = upload_as(base, path, make_jpeg(320, 240, i), name);
    ASSERT_EQ(e.status, 200) << e.body << shorten(e.transport_error);
    log.add(logged(name, e));
  }
  const long rss_before = resident_kib(stack.imgproc().pid());

  const auto photo = make_jpeg(320, 240, 11);
  std::vector<hostile_case> cases;
  auto add = [&](std::string what, std::set<long> allowed, row_rule rows, bool with_file,
                 std::function<exchange(const std::string&)> send) {
    auto name = with_file ? next_name() : std::string{};
    cases.push_back({std::move(what), std::move(allowed), name, rows,
                     [send = std::move(send), name] { return send(name); }});
  };
  auto file_upload = [&](std::string image) {
    return [&, image = std::move(image)](const std::string& name) {
      return upload_as(base, path, image, name);
    };
  };
  auto raw_upload = [&](std::vector<std::pair<std::string, std::string>> parts,
                        std::vector<std::string> headers = {}, std::string url_path = "") {
    return [&, parts = std::move(parts), headers = std::move(headers),
            url_path = std::move(url_path)](const std::string&) {
      return attempt([&] {
        return send_request("POST", base + (url_path.empty() ? path : url_path),
                            multipart_body(boundary, parts), headers, multipart_type);
      });
    };
  };

  add("upload over --max-upload-bytes", {413}, row_rule::none, true,
      file_upload(photo + random_bytes(max_upload + 200000, 1)));
  // Far over a limit, past RESTinio's own caps (http/server.cpp: the upload limit + 1 MiB, twice
  // the URL and header limits), RESTinio would close the connection without a word; the guarded
  // socket (http/guarded_socket.hpp) answers instead. Same below for a request target and a header
  // more than twice their limits (414, 431).
  add("upload over the transport cap (limit + 1 MiB)", {413}, row_rule::none, true,
      file_upload(photo + random_bytes(max_upload * 3, 2)));
  for (int i = 0; i < 3; ++i)
    add("tiny JPEG declaring 60000x60000", {413}, row_rule::none, true,
        file_upload(with_declared_size(make_jpeg(64, 64, 3 + i), 60000, 60000)));
  add("JPEG declaring 65535x1000", {413}, row_rule::none, true,
      file_upload(with_declared_size(make_jpeg(64, 64, 5), 65535, 1000)));
  add("8x8 JPEG, under --min-image-side", {422}, row_rule::none, true,
      file_upload(make_jpeg(8, 8, 6)));
  add("PNG named .jpg", {415}, row_rule::none, true, file_upload(make_png(64, 64, 7)));
  add("text named .jpg", {415}, row_rule::none, true, file_upload("GIF89a, or so I claim\n"));
  add("random bytes named .jpg", {415}, row_rule::none, true, file_upload(random_bytes(4096, 8)));
  add("JPEG cut in its headers (first 100 bytes)", {422}, row_rule::as_answered, true,
      file_upload(photo.substr(0, 100)));
  // libjpeg decodes what is there of a JPEG cut inside its scan data and fills the rest, as
  // browsers do: a 200 is a legitimate answer, a 422 too. Either way it is stored as answered.
  add("JPEG cut in its scan data (first 60%)", {200, 422}, row_rule::as_answered, true,
      file_upload(photo.substr(0, photo.size() * 6 / 10)));
  add("JPEG headers, no scan data", {422}, row_rule::failed, true,
      file_upload(make_undecodable_jpeg(320, 240, 9)));
  add("JPEG headers, then random bytes", {422}, row_rule::failed, true,
      file_upload(photo.substr(0, 600) + random_bytes(20000, 10)));
  {
    // The part's declared type is not trusted either way: the bytes decide.
    auto name = next_name();
    cases.push_back(
        {"JPEG declared as text/html", {200, 415}, name, row_rule::as_answered, [&, name] {
           return raw_upload({{"Content-Disposition: form-data; name=\"image_file\"; filename=\"" +
                                   name + "\"\r\nContent-Type: text/html",
                               photo}})(name);
         }});
  }
  add("JSON body", {400}, row_rule::none, false, [&](const std::string&) {
    return attempt(
        [&] { return post_raw(base + path, R"({"image_file":"x"})", "application/json"); });
  });
  add("text/plain body", {400}, row_rule::none, false, [&](const std::string&) {
    return attempt([&] { return post_raw(base + path, photo, "text/plain"); });
  });
  add("multipart without a boundary", {400}, row_rule::none, false, [&](const std::string&) {
    return attempt([&] { return post_raw(base + path, "--x\r\n\r\n", "multipart/form-data"); });
  });
  add("multipart declared, body garbage", {400}, row_rule::none, false, [&](const std::string&) {
    return attempt([&] { return post_raw(base + path, random_bytes(3000, 12), multipart_type); });
  });
  add("no image_file part", {400}, row_rule::none, false,
      raw_upload({{"Content-Disposition: form-data; name=\"pipeline_id\"", "1"}}));
  {
    auto name = next_name();
    cases.push_back(
        {"image_file twice", {400}, name, row_rule::none, [&, name] {
           return raw_upload({raw_image_part(name, photo), raw_image_part(name, photo)})(name);
         }});
  }
  {
    auto name = next_name();
    cases.push_back({"pipeline_id twice, different", {400}, name, row_rule::none, [&, name] {
                       return raw_upload(
                           {raw_image_part(name, photo),
                            {"Content-Disposition: form-data; name=\"pipeline_id\"", "1"},
                            {"Content-Disposition: form-data; name=\"pipeline_id\"", "2"}},
                           {}, "/process-image")(name);
                     }});
  }
  // Filenames: the stored name is the last path component, without control characters. The
  // request's own filename differs from the stored one; `filename` is what must be stored.
  auto named_upload = [&](std::string what, std::set<long> allowed, std::string prefix,
                          std::string suffix) {
    auto name = next_name();
    auto stem = name.substr(0, name.size() - 4); // without ".jpg"
    auto raw = prefix + stem + suffix;
    cases.push_back({std::move(what), std::move(allowed), name, row_rule::as_answered,
                     [&, raw] { return raw_upload({raw_image_part(raw, photo)})(""); }});
  };
  named_upload("filename ../../etc/NAME", {200}, "../../etc/", ".jpg");
  named_upload("filename /abs/path/NAME", {200}, "/var/lib/", ".jpg");
  named_upload(R"(filename C:\\dir\\NAME (backslashes))", {200}, "C:\\\\Windows\\\\", ".jpg");
  named_upload("filename with a tab", {200}, "", "\t.jpg");
  // Control characters are not allowed in a quoted string: refusing the part is as safe as
  // dropping them.
  named_upload("filename with \\x01 and ESC[31m", {200, 400}, "", "\x01\x1b[31m.jpg");
  named_upload("filename with CR LF inside", {200, 400}, "", "\r\nX-Injected: 1\r\n.jpg");
  named_upload("filename with a NUL", {200, 400}, "", std::string{"\0.jpg", 5});
  {
    auto name = next_name();
    cases.push_back({"request target over --max-url-bytes", {414}, name, row_rule::none, [&, name] {
                       return upload_as(base, path + "&pad=" + std::string(3000, 'a'), photo, name);
                     }});
  }
  // Over twice --max-url-bytes: answered by the guarded socket.
  add("GET with a request target over twice --max-url-bytes", {414}, row_rule::none, false,
      [&](const std::string&) {
        return attempt([&] { return get(base + "/tasks?status=" + std::string(5000, 'b')); });
      });
  // Pipelined, in one write: a request, then one with a target over twice --max-url-bytes. The
  // first is answered by its handler, then the second by the guarded socket, after it; then the
  // connection closes. The answer recorded is the second one.
  add("a request, then one with a target over twice --max-url-bytes, in one write", {414},
      row_rule::none, false, [&](const std::string&) {
        exchange e;
        e.started = steady::now();
        const std::string both =
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /tasks?status=" + std::string(5000, 'b') +
            " HTTP/1.1\r\nHost: x\r\n\r\n";
        int fd = connect_to(stack.port());
        EXPECT_EQ(::send(fd, both.data(), both.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(both.size()));
        std::string answer;
        EXPECT_TRUE(closed_by_server(fd, 5s, &answer)) << "the connection stayed open";
        ::close(fd);
        EXPECT_EQ(raw_status(answer), 200) << answer.substr(0, 300);
        auto second = answer.find("HTTP/1.", 1);
        if (second != std::string::npos) {
          auto rest = answer.substr(second);
          e.status = raw_status(rest);
          auto body = rest.find("\r\n\r\n");
          e.body = body == std::string::npos ? rest : rest.substr(body + 4);
        }
        e.seconds = seconds_since(e.started);
        return e;
      });
  {
    std::vector<std::string> headers;
    for (int i = 0; i < 12; ++i)
      headers.push_back("X-Filler-" + std::to_string(i) + ": " + std::string(500, 'h'));
    auto name = next_name();
    cases.push_back(
        {"upload with headers over --max-header-bytes",
         {431},
         name,
         row_rule::none,
         [&, name, headers] { return raw_upload({raw_image_part(name, photo)}, headers)(name); }});
    // Over twice --max-header-bytes: answered by the guarded socket.
    add("one header value of 16 KiB (4x --max-header-bytes)", {431}, row_rule::none, false,
        [&](const std::string&) {
          return attempt([&] {
            return send_request("GET", base + "/health", "", {"X-Big: " + std::string(16384, 'v')});
          });
        });
  }
  for (const std::string& raw :
       {std::string{"GARBAGE\r\n\r\n"}, std::string{"GET / HTTP/9.9\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: -5\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\nTransfer-"
                    "Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n"}}) {
    add("malformed HTTP: " + raw.substr(0, raw.find('\r')), {0, 400, 404, 405, 413, 505},
        row_rule::none, false, [&, raw](const std::string&) {
          exchange e;
          e.started = steady::now();
          auto answer = send_raw("127.0.0.1", stack.port(), raw, milliseconds(3000));
          e.status = raw_status(answer);
          auto body = answer.find("\r\n\r\n");
          e.body = body == std::string::npos ? answer : answer.substr(body + 4);
          e.seconds = seconds_since(e.started);
          return e;
        });
  }

  std::vector<std::string> unexpected;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto e = c.send();
    log.add(logged(c.filename, e));
    auto what = std::to_string(e.status) + " " + e.body.substr(0, 160) + shorten(e.transport_error);
    std::printf("hostile input: %s -> %s\n", c.name.c_str(), what.c_str());
    if (c.allowed.count(e.status) == 0)
      unexpected.push_back(c.name + ": " + what);
    EXPECT_EQ(c.allowed.count(e.status), 1u) << "answered " << what;
    if (e.status >= 400) { // errors are the JSON contract
      EXPECT_EQ(e.body.rfind("{\"detail\":", 0), 0u) << e.body.substr(0, 300);
    }
    expect_healthy(stack);
    if (!c.filename.empty()) {
      auto rows = rows_named(stack.dsn(), c.filename);
      if (c.rows == row_rule::none) {
        EXPECT_TRUE(rows.empty()) << rows.size() << " row(s), first " << rows.front().first;
      } else if (c.rows == row_rule::failed) {
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].first, "failed");
        EXPECT_NE(rows[0].second.find("decode_jpeg"), std::string::npos) << rows[0].second;
      } else if (e.status != 200) {
        EXPECT_LE(rows.size(), 1u);
        for (const auto& [status, error] : rows)
          EXPECT_EQ(status, "failed") << error;
      }
    }
  }
  // No stored filename carries a path separator or a control character.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE filename ~ '[/\\\\]' OR "
                                      "filename ~ '[[:cntrl:]]'"),
            0);

  // A silent client (half a request, then nothing) is disconnected after --read-timeout-ms, and
  // other clients are served meanwhile.
  {
    SCOPED_TRACE("silent client");
    int fd = connect_to(stack.port());
    std::string partial =
        "POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab";
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    expect_healthy(stack);
    std::string answer;
    bool closed = closed_by_server(fd, 15s, &answer);
    EXPECT_TRUE(closed) << "the server kept a silent client's connection";
    ::close(fd);
    log.add({"", raw_status(answer), answer}); // 0: disconnected without an answer
    expect_healthy(stack);
  }
  // A client that trickles a header byte at a time (each within the read timeout). Not silent,
  // so --read-timeout-ms does not promise to cut it; the test records what happens, and that
  // others are served meanwhile.
  std::string trickle_note;
  {
    SCOPED_TRACE("trickling client");
    int fd = connect_to(stack.port());
    std::atomic<bool> cut{false};
    std::thread trickle([&] {
      std::string header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 's');
      for (std::size_t i = 0; i < header.size() && i < 25; ++i) {
        if (::send(fd, &header[i], 1, MSG_NOSIGNAL) != 1) {
          cut = true;
          return;
        }
        if (closed_by_server(fd, 200ms)) { // also the pause between bytes
          cut = true;
          return;
        }
      }
    });
    expect_healthy(stack);
    trickle.join();
    ::close(fd);
    trickle_note = cut ? "a client trickling a byte per 200 ms was cut within 5 s"
                       : "a client trickling a byte per 200 ms was not cut within 5 s";
    log.add({"", 0, ""}); // no HTTP answer: it never completed a request
    expect_healthy(stack);
  }
  // A flood of idle connections, three times --max-connections: connections beyond the cap wait
  // unaccepted, idle ones are dropped at the read timeout, and then a real client is served.
  {
    SCOPED_TRACE("connection flood");
    std::vector<int> idle;
    for (int i = 0; i < 24; ++i)
      idle.push_back(connect_to(stack.port()));
    auto health = attempt([&] { return get(base + "/health", 20s); });
    EXPECT_EQ(health.status, 200) << shorten(health.transport_error);
    int closed = 0;
    for (int fd : idle) {
      std::string answer;
      closed += closed_by_server(fd, 15s, &answer) ? 1 : 0;
      ::close(fd);
      log.add({"", raw_status(answer), answer});
    }
    EXPECT_EQ(closed, 24) << "idle connections the server never closed";
    trickle_note +=
        "; /health behind 24 idle connections (cap 8) answered after " + format_ms(health.seconds);
    expect_healthy(stack);
  }

  const long rss_after = resident_kib(stack.imgproc().pid());
  EXPECT_LE(rss_after, rss_before + memory_bound_kib)
      << "VmRSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
  EXPECT_TRUE(stack.imgproc().running());

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all(), 10s);
  tally.seconds = seconds_since(started);
  tally.note =
      std::to_string(cases.size()) +
      " hostile requests, a silent client, a trickling client, 24 idle connections; VmRSS " +
      std::to_string(rss_before / 1024) + " -> " + std::to_string(rss_after / 1024) +
      " MiB (bound +" + std::to_string(memory_bound_kib / 1024) + " MiB); " + trickle_note;
  for (const auto& u : unexpected)
    tally.problems.push_back("unexpected answer: " + u);
  report(tally);
  expect_accounted(tally);
}

// --- overload ------------------------------------------------------------------------------------

TEST(fault_suite, overload) {
  const std::string scenario = "overload";
  auto started = steady::now();
  constexpr int capacity = 2, queue_limit = 4;
  constexpr auto deadline = 5000ms;
  service_stack stack{with_args(
      {"--capacity=" + std::to_string(capacity), "--queue-limit=" + std::to_string(queue_limit),
       "--request-timeout-ms=" + std::to_string(deadline.count()), "--db-connections=4"})};
  const auto base = stack.base_url();
  const std::string path = "/process-image?pipeline_id=1";
  // Large enough that the service's CPU work, not the test's client, is the bottleneck.
  std::vector<std::string> images;
  for (int i = 0; i < 6; ++i)
    images.push_back(make_jpeg(1024, 768, i));
  request_log log;
  std::atomic<int> number{0};
  auto send_one = [&](std::vector<exchange>* out, std::mutex* mutex) {
    auto name = fault_filename(scenario, ++number);
    auto e = upload_as(base, path, images[static_cast<std::size_t>(number) % images.size()], name);
    log.add(logged(name, e));
    std::lock_guard<std::mutex> lock{*mutex};
    out->push_back(e);
  };

  // 1. The sustainable load: capacity + queue limit clients in a closed loop can never find the
  //    queue full. Their throughput, with no 503, is the rate the service sustains. (Also the
  //    warm-up for the memory baseline.)
  std::vector<exchange> measured;
  std::mutex measured_mutex;
  auto measure_start = steady::now();
  {
    client_threads clients{capacity + queue_limit, [&](int) {
                             if (steady::now() - measure_start > 3s)
                               return false;
                             send_one(&measured, &measured_mutex);
                             return true;
                           }};
    clients.join();
  }
  double measure_seconds = seconds_since(measure_start);
  int measured_ok = 0;
  for (const auto& e : measured) {
    EXPECT_EQ(e.status, 200) << "at the sustainable concurrency: " << e.body
                             << shorten(e.transport_error);
    measured_ok += e.status == 200;
  }
  const double sustainable_rate = measured_ok / measure_seconds;
  ASSERT_GT(sustainable_rate, 1.0);
  const long rss_before = resident_kib(stack.imgproc().pid());

  // 2. Three times that rate, open loop (requests leave on schedule whether or not earlier ones
  //    were answered), for 5 s, while a sampler records the peak VmRSS.
  const double rate = 3 * sustainable_rate;
  const int planned = static_cast<int>(rate * 5); // 5 s of it
  std::vector<exchange> overloaded;
  std::mutex overloaded_mutex;
  std::atomic<long> rss_peak{rss_before};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      try {
        rss_peak = std::max(rss_peak.load(), resident_kib(stack.imgproc().pid()));
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(50ms); // the sampling period
    }
  });
  auto load_start = steady::now();
  {
    std::atomic<int> next{0};
    client_threads senders{32, [&](int) {
                             int i = next++;
                             if (i >= planned)
                               return false;
                             // The schedule of an open-loop load, not a synchronisation.
                             std::this_thread::sleep_until(
                                 load_start + std::chrono::duration_cast<steady::duration>(
                                                  std::chrono::duration<double>(i / rate)));
                             send_one(&overloaded, &overloaded_mutex);
                             return true;
                           }};
    senders.join();
  }
  double load_seconds = seconds_since(load_start);
  sampling = false;
  sampler.join();
  const long rss_after = resident_kib(stack.imgproc().pid());

  std::vector<double> ok_seconds, refused_seconds;
  int ok = 0, refused = 0;
  for (const auto& e : overloaded) {
    if (e.status == 200) {
      ++ok;
      ok_seconds.push_back(e.seconds);
      // The deadline the service promises: an accepted request is answered within it.
      EXPECT_LE(e.seconds, std::chrono::duration<double>(deadline).count()) << e.body;
    } else if (e.status == 503) {
      ++refused;
      refused_seconds.push_back(e.seconds);
      EXPECT_EQ(e.retry_after, "1") << e.body;
      // Refused at once, not after waiting for the deadline.
      EXPECT_LT(e.seconds, std::chrono::duration<double>(deadline).count()) << e.body;
    } else {
      ADD_FAILURE() << "under overload only 200 and 503 are expected, got " << e.status << " "
                    << e.body << shorten(e.transport_error);
    }
  }
  EXPECT_GT(refused, 0) << "3x the sustainable rate never filled the bounded queue";
  EXPECT_GT(ok, 0);
  EXPECT_LE(rss_peak.load(), rss_before + memory_bound_kib)
      << "VmRSS peaked at " << rss_peak << " KiB from " << rss_before << " KiB";
  EXPECT_LE(rss_after, rss_before + memory_bound_kib);
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  char note[512];
  std::snprintf(note, sizeof note,
                "capacity %d, queue %d: sustainable %.0f req/s (%d clients, no 503); offered %.0f "
                "req/s (3x), sent %.0f req/s: %d x 200 (p50 %s, max %s, deadline %ld ms), %d x "
                "503 (p50 %s, max %s); VmRSS %ld -> peak %ld MiB (bound +%ld MiB)",
                capacity, queue_limit, sustainable_rate, capacity + queue_limit, rate,
                static_cast<double>(overloaded.size()) / load_seconds, ok,
                format_ms(percentile(ok_seconds, 0.5)).c_str(),
                format_ms(percentile(ok_seconds, 1)).c_str(), static_cast<long>(deadline.count()),
                refused, format_ms(percentile(refused_seconds, 0.5)).c_str(),
                format_ms(percentile(refused_seconds, 1)).c_str(), rss_before / 1024,
                rss_peak.load() / 1024, memory_bound_kib / 1024);
  tally.note = note;
  report(tally);
  expect_accounted(tally);
  // Every refused request that has a row has a failed one saying why.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE starts_with(filename, "
                                      "'overload-') AND status = 'failed' AND error NOT LIKE "
                                      "'overloaded:%'"),
            0);
}

// --- deadlines -----------------------------------------------------------------------------------

TEST(fault_suite, deadlines) {
  const std::string scenario = "deadlines";
  auto started = steady::now();
  // Fault injection: an ML service that reads each request and never answers (a real ml_mock
  // always answers). Only the pipeline "stuck-detect" uses it; pipeline 1 uses ml_mock.
  canned_server stuck{std::nullopt};
  constexpr auto deadline = 1500ms;
  service_stack stack{with_args({"--request-timeout-ms=" + std::to_string(deadline.count()),
                                 "--ml-timeout-ms=60000", "--ml-retries=0", "--ml-concurrency=2",
                                 "--ml-allowed-urls=" + stuck.url()})};
  const auto base = stack.base_url();

  auto pipeline = parse_body(get(stack.url("/pipelines/1")));
  ASSERT_TRUE(pipeline["steps"].is_array()) << pipeline;
  pipeline["title"] = "stuck-detect";
  auto& detect = pipeline["steps"].back();
  ASSERT_EQ(detect["handler"], "detect") << pipeline;
  detect["params"]["url"] = stuck.url();
  auto created = send_request("POST", stack.url("/pipelines"), pipeline.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const auto stuck_id = std::to_string(parse_body(created)["id"].get<int>());

  request_log log;
  std::atomic<int> number{0};
  auto run_batch = [&](const std::string& pipeline_id, int count) {
    std::vector<exchange> answers(static_cast<std::size_t>(count));
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
      threads.emplace_back([&, i] {
        auto name = fault_filename(scenario, ++number);
        answers[static_cast<std::size_t>(i)] = upload_as(
            base, "/process-image?pipeline_id=" + pipeline_id, make_jpeg(64, 48, i), name);
        log.add(logged(name, answers[static_cast<std::size_t>(i)]));
      });
    for (auto& t : threads)
      t.join();
    return answers;
  };

  // Four requests whose detect step never gets an answer (twice the detector clients): each is
  // answered 504 at its deadline, and its row is stored failed naming the step.
  auto late = run_batch(stuck_id, 4);
  const double promised = std::chrono::duration<double>(deadline).count();
  for (const auto& e : late) {
    auto detail = expect_error(e.response, 504);
    EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
    // The deadline (plus the dispatcher's 250 ms grace and the final row write).
    EXPECT_LT(e.seconds, promised + 1.0) << detail;
  }
  // The detect steps past the deadline were cancelled: with both detector clients otherwise
  // held for the 60 s ML timeout, these would miss their own deadline.
  auto after = run_batch("1", 4);
  for (const auto& e : after) {
    EXPECT_EQ(e.status, 200) << e.body << shorten(e.transport_error);
    EXPECT_LE(e.seconds, promised);
  }
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  std::vector<std::string> errors;
  {
    pqxx::connection conn{stack.dsn()};
    pqxx::read_transaction txn{conn};
    for (const auto& row :
         txn.exec_params("SELECT coalesce(error, '(null)') FROM tasks WHERE pipeline_id = $1",
                         std::stoi(stuck_id)))
      errors.push_back(row[0].as<std::string>());
  }
  EXPECT_EQ(errors.size(), 4u);
  for (const auto& error : errors) {
    EXPECT_EQ(error.rfind("deadline_exceeded:", 0), 0u) << error;
    EXPECT_NE(error.find("detect"), std::string::npos) << "the error names no step: " << error;
  }
  tally.note = "deadline " + std::to_string(deadline.count()) +
               " ms, ML never answers, 2 detector clients: 4 x 504 stored failed (" +
               (errors.empty() ? std::string{"no row"} : errors.front().substr(0, 120)) +
               "), then 4 requests on a working pipeline";
  report(tally);
  expect_accounted(tally);
}

// --- ML faults -----------------------------------------------------------------------------------

TEST(fault_suite, ml_faults) {
  const std::string scenario = "ml_faults";
  auto started = steady::now();
  // Down: a port nothing listens on until the real ml_mock starts there.
  const auto down_port = closed_port();
  const auto down_url = "http://127.0.0.1:" + std::to_string(down_port) + "/ml-process-img";
  // Fault injection for what ml_mock cannot do on demand: hang, fail with 500 for a while, answer
  // garbage.
  silent_server slow;
  std::vector<std::string> script(
      6, sequence_server::response("500 Internal Server Error", "{\"detail\":\"oops\"}"));
  script.push_back(sequence_server::response("200 OK", "[]"));
  sequence_server failing{script};
  canned_server garbage{canned_server::ok_response("<html>not a detection</html>")};

  service_stack stack{
      with_args({"--ml-url=" + down_url, "--ml-timeout-ms=300", "--ml-retries=1",
                 "--ml-breaker-failures=3", "--ml-breaker-open-ms=300", "--request-timeout-ms=5000",
                 "--ml-allowed-urls=" + slow.url() + "," + failing.url() + "," + garbage.url()},
                /*ml_mock=*/false)};
  const auto base = stack.base_url();

  // One pipeline per faulty ML service: pipeline 1's steps with the detect step's url replaced.
  auto template_pipeline = parse_body(get(stack.url("/pipelines/1")));
  auto make_pipeline = [&](const std::string& title, const std::string& url) {
    auto p = template_pipeline;
    p["title"] = title;
    p["steps"].back()["params"]["url"] = url;
    auto created = send_request("POST", stack.url("/pipelines"), p.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return std::to_string(parse_body(created).value("id", 0));
  };
  const std::vector<std::pair<std::string, std::string>> faults{
      {"down", "1"},
      {"slow", make_pipeline("ml-slow", slow.url())},
      {"500", make_pipeline("ml-500", failing.url())},
      {"garbage", make_pipeline("ml-garbage", garbage.url())}};

  request_log log;
  int number = 0;
  std::map<std::string, std::string> sample_error;
  auto send = [&](const std::string& pipeline_id, int seed) {
    auto name = fault_filename(scenario, ++number);
    auto e =
        upload_as(base, "/process-image?pipeline_id=" + pipeline_id, make_jpeg(64, 48, seed), name);
    log.add(logged(name, e));
    return std::make_pair(name, e);
  };

  // Each fault: 502 (or 504 should the deadline cut it short), and the row failed with the
  // reason the client was given.
  for (const auto& [fault, pipeline_id] : faults) {
    SCOPED_TRACE("ML " + fault);
    for (int i = 0; i < 4; ++i) {
      auto [name, e] = send(pipeline_id, i);
      EXPECT_TRUE(e.status == 502 || e.status == 504)
          << e.status << " " << e.body << shorten(e.transport_error);
      auto detail = expect_error(e.response, e.status);
      EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
      auto rows = rows_named(stack.dsn(), name);
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_EQ(rows[0].first, "failed");
      EXPECT_NE(rows[0].second.find(detail), std::string::npos)
          << "stored: " << rows[0].second << "\nanswered: " << detail;
      sample_error.emplace(fault, detail.substr(0, 80));
      expect_healthy(stack);
    }
  }

  // Recovery by itself: ml_mock starts on the port that was down; the 500-answering service
  // turns healthy after its script. No restart, no reset: requests succeed again once the
  // circuit's trial call finds the service answering. Every failure until then is a 502.
  child_process ml_mock{{binary_dir() + "/ml_mock", "--port=" + std::to_string(down_port),
                         "--host=127.0.0.1", "--seed=7", "--log-level=warning"},
                        {},
                        "ml_mock"};
  ml_mock.wait_for_line(std::regex{R"(^ml_mock listening on http://[^:]+:\d+$)"}, 30s);
  std::map<std::string, double> recovered_after;
  for (const auto& [fault, pipeline_id] : {faults[0], faults[2]}) {
    SCOPED_TRACE("recovery from ML " + fault);
    auto since = steady::now();
    bool ok = wait_until(
        [&, pipeline_id = pipeline_id] {
          auto [name, e] = send(pipeline_id, 100 + number);
          if (e.status != 200) {
            EXPECT_EQ(e.status, 502) << e.body << shorten(e.transport_error);
          }
          return e.status == 200;
        },
        20s, 50ms);
    ASSERT_TRUE(ok) << "requests did not succeed again after ML " << fault << " recovered";
    recovered_after[fault] = seconds_since(since);
    for (int i = 0; i < 3; ++i) {
      auto [name, e] = send(pipeline_id, 200 + i);
      EXPECT_EQ(e.status, 200) << e.body;
    }
  }
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  tally.note = "down/slow/500/garbage: 4 requests each, 502 stored failed with the answer's "
               "reason; back to 200 after ML came back: down " +
               format_ms(recovered_after["down"]) + ", 500 " + format_ms(recovered_after["500"]);
  report(tally);
  expect_accounted(tally);
  EXPECT_EQ(ml_mock.stop(SIGTERM), 0);
}

// --- database restart ----------------------------------------------------------------------------

TEST(fault_suite, database_restart) {
  const std::string scenario = "database_restart";
  auto started = steady::now();
  // A server of the test's own: stopping the shared fixture server would break other tests.
  private_postgres postgres{std::string{IMGPROC_SOURCE_DIR} + "/scripts/private-postgres"};
  auto options = with_args({"--request-timeout-ms=5000", "--db-statement-timeout-ms=1000"});
  options.admin_dsn = postgres.admin_dsn();
  service_stack stack{options};
  const auto base = stack.base_url();
  // Large enough that each request spends a while between creating its row and storing its
  // result: some are there when the database goes away, and their final write fails.
  std::vector<std::string> images;
  for (int i = 0; i < 4; ++i)
    images.push_back(make_jpeg(1280, 960, i));

  enum stage { before, outage, after };
  std::atomic<int> current{before};
  struct answer_in_phase {
    int phase;
    exchange e;
  };
  std::vector<answer_in_phase> answers;
  std::mutex mutex;
  std::atomic<int> ok_before{0}, ok_after{0};
  request_log log;
  client_threads clients{4, [&](int n) {
                           int phase = current;
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(base, "/process-image?pipeline_id=1",
                                              images[static_cast<std::size_t>(n) % 4], name);
                           log.add(logged(name, e));
                           if (e.status == 200)
                             ++(phase == after ? ok_after : ok_before);
                           {
                             std::lock_guard<std::mutex> lock{mutex};
                             answers.push_back({phase, e});
                           }
                           // Pacing: a few hundred requests in all, not thousands of 503s.
                           std::this_thread::sleep_for(20ms);
                           return true;
                         }};

  ASSERT_TRUE(wait_until([&] { return ok_before >= 20; }, 15s)) << "no load before the outage";
  current = outage;
  auto outage_start = steady::now();
  postgres.stop(); // fast shutdown: every connection ends
  // Requests keep coming while the database is down.
  std::this_thread::sleep_for(2s);
  postgres.start();
  current = after;
  auto restarted = steady::now();
  const double outage_seconds = std::chrono::duration<double>(restarted - outage_start).count();
  // Rows whose final write failed in the outage: the service must close them by itself.
  const long open_at_restart =
      query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing' AND "
                                "starts_with(filename, '" +
                                    scenario + "-')");
  bool reconnected = wait_until([&] { return ok_after >= 20; }, 30s);
  double recovery_seconds = seconds_since(restarted);
  clients.stop();
  clients.join();
  EXPECT_TRUE(reconnected) << "the service did not serve 200s within 30 s of the database's "
                              "return (it should reconnect by itself)";

  // Afterwards everything works.
  auto ok =
      upload_as(base, "/process-image?pipeline_id=1", images[0], fault_filename(scenario, 100000));
  log.add(logged(fault_filename(scenario, 100000), ok));
  ASSERT_EQ(ok.status, 200) << ok.body << shorten(ok.transport_error);
  auto id = parse_body(ok.response)["id"].get<std::int64_t>();
  EXPECT_EQ(get(stack.url("/tasks/" + std::to_string(id))).status, 200);
  EXPECT_EQ(get(stack.url("/ready")).status, 200);
  EXPECT_EQ(get(stack.url("/tasks?limit=5")).status, 200);
  expect_healthy(stack);

  std::map<int, std::map<long, int>> by_phase;
  double slowest_refusal = 0;
  for (const auto& a : answers) {
    ++by_phase[a.phase][a.e.status];
    if (a.e.status != 200 && a.e.status != 503 && a.e.status != 504)
      ADD_FAILURE() << "during a database restart only 200, 503 and 504 are expected, got "
                    << a.e.status << " " << a.e.body << shorten(a.e.transport_error);
    if (a.e.status == 503)
      slowest_refusal = std::max(slowest_refusal, a.e.seconds);
  }
  EXPECT_GT(by_phase[outage][503], 0) << "no request met the outage";

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all(), 30s);
  tally.seconds = seconds_since(started);
  long half_written = half_written_rows(stack.dsn(), scenario);
  EXPECT_EQ(half_written, 0) << "rows closed without their result, reason or finish time";
  // Not a loss (the client was told the result was not stored), but worth knowing: a request
  // answered with an error whose row nevertheless holds a result.
  int refused_but_stored = 0;
  for (const auto& r : log.all())
    if (r.status != 200 && !r.filename.empty())
      for (const auto& [status, error] : rows_named(stack.dsn(), r.filename))
        refused_but_stored += status != "failed" && status != "processing";
  auto phase_text = [&](int p) {
    std::string out;
    for (const auto& [status, count] : by_phase[p])
      out += (out.empty() ? "" : ",") + std::to_string(status) + ":" + std::to_string(count);
    return out.empty() ? std::string{"-"} : out;
  };
  tally.note = "PostgreSQL down (fast stop to started again) for " + format_ms(outage_seconds) +
               " under 4 clients; before " + phase_text(before) + ", outage " + phase_text(outage) +
               ", after " + phase_text(after) + "; 20 x 200 again " + format_ms(recovery_seconds) +
               " after the restart; slowest 503 " + format_ms(slowest_refusal) +
               "; rows processing at the restart " + std::to_string(open_at_restart) +
               "; half-written rows " + std::to_string(half_written) +
               "; answered 503 but stored a result " + std::to_string(refused_but_stored);
  report(tally);
  expect_accounted(tally);
}

// --- graceful shutdown ---------------------------------------------------------------------------

TEST(fault_suite, graceful_shutdown) {
  const std::string scenario = "graceful_shutdown";
  auto started = steady::now();
  service_stack stack;
  const auto base = stack.base_url();
  // Large images: each request spends a while in the pipeline, so several are in flight.
  std::vector<std::string> images;
  for (int i = 0; i < 4; ++i)
    images.push_back(make_jpeg(1600, 1200, i));

  request_log log;
  std::vector<exchange> answers;
  std::mutex mutex;
  std::atomic<int> ok{0};
  client_threads clients{6, [&](int n) {
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(base, "/process-image?pipeline_id=1",
                                              images[static_cast<std::size_t>(n) % 4], name);
                           log.add(logged(name, e));
                           ok += e.status == 200;
                           {
                             std::lock_guard<std::mutex> lock{mutex};
                             answers.push_back(e);
                           }
                           // A client that is refused (503 or no connection) stops.
                           return e.status == 200;
                         }};
  ASSERT_TRUE(wait_until([&] { return ok >= 20; }, 20s)) << "no load before SIGTERM";
  auto signalled = steady::now();
  int code = -1;
  EXPECT_NO_THROW(code = stack.imgproc().stop(SIGTERM, 30s));
  EXPECT_EQ(code, 0) << "imgproc did not exit 0 on SIGTERM under load";
  clients.join();

  // Once the process is gone, nothing is accepted.
  auto late = upload_as(base, "/process-image?pipeline_id=1", images[0], "late.jpg", 5s);
  EXPECT_EQ(late.status, 0) << late.body;

  int in_flight = 0, in_flight_ok = 0;
  for (const auto& e : answers) {
    bool sent_before = e.started < signalled;
    bool answered_after = e.started + std::chrono::duration_cast<steady::duration>(
                                          std::chrono::duration<double>(e.seconds)) >=
                          signalled;
    if (sent_before && answered_after) {
      ++in_flight;
      in_flight_ok += e.status == 200;
    }
    if (sent_before) {
      // In flight at SIGTERM: finished (200), or not yet admitted and refused (503); never
      // dropped without an answer.
      EXPECT_TRUE(e.status == 200 || e.status == 503)
          << "a request sent before SIGTERM got " << e.status << " " << e.body
          << shorten(e.transport_error);
    } else {
      EXPECT_TRUE(e.status == 200 || e.status == 503 || e.status == 0) << e.status << " " << e.body;
    }
    if (e.status == 503) {
      EXPECT_EQ(e.retry_after, "1") << e.body;
    }
  }

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all(), 5s);
  tally.seconds = seconds_since(started);
  tally.note = "SIGTERM under 6 clients: exit " + std::to_string(code) + "; " +
               std::to_string(in_flight) + " in flight at the signal, " +
               std::to_string(in_flight_ok) +
               " of them answered 200; afterwards connections "
               "are refused";
  report(tally);
  expect_accounted(tally);
}

// --- a killed worker node ------------------------------------------------------------------------

int completed_by(const json& cluster, const std::string& name) {
  for (const auto& node : cluster.at("nodes"))
    if (node.at("name") == name)
      return node.at("completed").get<int>();
  return 0;
}

TEST(fault_suite, killed_worker) {
  const std::string scenario = "killed_worker";
  auto started = steady::now();
  cluster_stack stack; // a gateway, workers w1 and w2, ml_mock
  stack.wait_for_nodes_up(2, 5000ms);
  constexpr int requests = 120;
  request_log log;
  std::atomic<int> answered{0};
  client_threads clients{4, [&](int n) {
                           if (n >= requests)
                             return false;
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(stack.url(""), "/process-image?pipeline_id=1",
                                              make_jpeg(64, 48, n), name);
                           log.add(logged(name, e));
                           ++answered;
                           return true;
                         }};
  stack.wait_for_cluster([](const json& c) { return completed_by(c, "w2") >= 3; }, 10000ms,
                         "w2 working");
  stack.worker("w2").kill(); // SIGKILL
  int answered_at_kill = answered;
  clients.join();
  EXPECT_LT(answered_at_kill, requests) << "the stream ended before the kill";

  auto all = log.all();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(requests));
  for (const auto& r : all)
    EXPECT_EQ(r.status, 200) << r.filename << ": " << r.body;
  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), all);
  tally.seconds = seconds_since(started);
  auto cluster = stack.cluster_json();
  int redispatched = 0;
  for (const auto& node : cluster.at("nodes"))
    redispatched += node.value("redispatched", 0);
  tally.note = "kill -9 of worker w2 after " + std::to_string(answered_at_kill) + " of " +
               std::to_string(requests) + " answers (4 clients); w1 completed " +
               std::to_string(completed_by(cluster, "w1")) + ", w2 " +
               std::to_string(completed_by(cluster, "w2")) + ", jobs re-dispatched " +
               std::to_string(redispatched);
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
