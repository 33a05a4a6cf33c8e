// The fault suite (docs/faults.md). Hostile input: malformed, oversized and crafted requests, each
// answered with the status the contract allows, the process within its memory bound, and the rows
// each may leave.
// Every request uploads under "hostile_inputs-<n>.jpg", so the scenario's rows are found by
// filename afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost
// or duplicated.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fault_exchange.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

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

using sender = std::function<exchange(const std::string& filename)>;

/// What every case needs. It lives for the whole test, so the cases' senders point into it.
struct hostile_context {
  hostile_context(service_stack& stack, std::size_t max_upload)
      : stack(stack), base(stack.base_url()), max_upload(max_upload) {}

  service_stack& stack;
  std::string base;
  std::size_t max_upload;
  std::string photo;
  const std::string scenario = "hostile_inputs";
  const std::string path = "/process-image?pipeline_id=1";
  int sent = 0;
  std::vector<hostile_case> cases;

  std::string next_name() { return fault_filename(scenario, ++sent); }

  /// A case; `with_file` gives it a stored name of its own, which its sender gets.
  void add(std::string what, std::set<long> allowed, row_rule rows, bool with_file, sender send) {
    auto name = with_file ? next_name() : std::string{};
    cases.push_back({std::move(what), std::move(allowed), name, rows,
                     [send = std::move(send), name] { return send(name); }});
  }

  /// Uploads `image` as image_file under the case's name.
  sender file_upload(std::string image) {
    return [this, image = std::move(image)](const std::string& name) {
      return upload_as(base, path, image, name);
    };
  }

  /// Sends a multipart body written byte for byte, with extra headers, to `url_path` (default:
  /// the scenario's path).
  sender raw_upload(std::vector<std::pair<std::string, std::string>> parts,
                    std::vector<std::string> headers = {}, std::string url_path = "") {
    return [this, parts = std::move(parts), headers = std::move(headers),
            url_path = std::move(url_path)](const std::string&) {
      return attempt([&] {
        return send_request("POST", base + (url_path.empty() ? path : url_path),
                            multipart_body(boundary, parts), headers, multipart_type);
      });
    };
  }
};

/// Bodies: sizes, image types, damaged JPEGs, and multipart forms that are not what they claim.
void add_body_cases(hostile_context& c) {
  const auto& photo = c.photo;
  c.add("upload over --max-upload-bytes", {413}, row_rule::none, true,
        c.file_upload(photo + random_bytes(c.max_upload + 200000, 1)));
  // Far over a limit, past RESTinio's own caps (http/server.cpp: the upload limit + 1 MiB, twice
  // the URL and header limits), RESTinio would close the connection without a word; the guarded
  // socket (http/guarded_socket.hpp) answers instead. Same in add_transport_cases for a request
  // target and a header more than twice their limits (414, 431).
  c.add("upload over the transport cap (limit + 1 MiB)", {413}, row_rule::none, true,
        c.file_upload(photo + random_bytes(c.max_upload * 3, 2)));
  for (int i = 0; i < 3; ++i)
    c.add("tiny JPEG declaring 60000x60000", {413}, row_rule::none, true,
          c.file_upload(with_declared_size(make_jpeg(64, 64, 3 + i), 60000, 60000)));
  c.add("JPEG declaring 65535x1000", {413}, row_rule::none, true,
        c.file_upload(with_declared_size(make_jpeg(64, 64, 5), 65535, 1000)));
  c.add("8x8 JPEG, under --min-image-side", {422}, row_rule::none, true,
        c.file_upload(make_jpeg(8, 8, 6)));
  c.add("PNG named .jpg", {415}, row_rule::none, true, c.file_upload(make_png(64, 64, 7)));
  c.add("text named .jpg", {415}, row_rule::none, true, c.file_upload("GIF89a, or so I claim\n"));
  c.add("random bytes named .jpg", {415}, row_rule::none, true,
        c.file_upload(random_bytes(4096, 8)));
  c.add("JPEG cut in its headers (first 100 bytes)", {422}, row_rule::as_answered, true,
        c.file_upload(photo.substr(0, 100)));
  // libjpeg decodes what is there of a JPEG cut inside its scan data and fills the rest, as
  // browsers do: a 200 is a legitimate answer, a 422 too. Either way it is stored as answered.
  c.add("JPEG cut in its scan data (first 60%)", {200, 422}, row_rule::as_answered, true,
        c.file_upload(photo.substr(0, photo.size() * 6 / 10)));
  c.add("JPEG headers, no scan data", {422}, row_rule::failed, true,
        c.file_upload(make_undecodable_jpeg(320, 240, 9)));
  c.add("JPEG headers, then random bytes", {422}, row_rule::failed, true,
        c.file_upload(photo.substr(0, 600) + random_bytes(20000, 10)));
  // The part's declared type is not trusted either way: the bytes decide.
  c.add("JPEG declared as text/html", {200, 415}, row_rule::as_answered, true,
        [&c](const std::string& name) {
          return c.raw_upload({{"Content-Disposition: form-data; name=\"image_file\"; filename=\"" +
                                    name + "\"\r\nContent-Type: text/html",
                                c.photo}})(name);
        });
  const auto base = c.base;
  const auto path = c.path;
  c.add("JSON body", {400}, row_rule::none, false, [=](const std::string&) {
    return attempt(
        [&] { return post_raw(base + path, R"({"image_file":"x"})", "application/json"); });
  });
  c.add("text/plain body", {400}, row_rule::none, false, [=](const std::string&) {
    return attempt([&] { return post_raw(base + path, photo, "text/plain"); });
  });
  c.add("multipart without a boundary", {400}, row_rule::none, false, [=](const std::string&) {
    return attempt([&] { return post_raw(base + path, "--x\r\n\r\n", "multipart/form-data"); });
  });
  c.add("multipart declared, body garbage", {400}, row_rule::none, false, [=](const std::string&) {
    return attempt([&] { return post_raw(base + path, random_bytes(3000, 12), multipart_type); });
  });
  c.add("no image_file part", {400}, row_rule::none, false,
        c.raw_upload({{"Content-Disposition: form-data; name=\"pipeline_id\"", "1"}}));
  c.add("image_file twice", {400}, row_rule::none, true, [&c](const std::string& name) {
    return c.raw_upload({raw_image_part(name, c.photo), raw_image_part(name, c.photo)})(name);
  });
  c.add("pipeline_id twice, different", {400}, row_rule::none, true, [&c](const std::string& name) {
    return c.raw_upload({raw_image_part(name, c.photo),
                         {"Content-Disposition: form-data; name=\"pipeline_id\"", "1"},
                         {"Content-Disposition: form-data; name=\"pipeline_id\"", "2"}},
                        {}, "/process-image")(name);
  });
}

/// Filenames: the stored name is the last path component, without control characters. The
/// request's own filename differs from the stored one; the case's name is what must be stored.
void add_filename_cases(hostile_context& c) {
  auto named_upload = [&c](std::string what, std::set<long> allowed, std::string prefix,
                           std::string suffix) {
    c.add(std::move(what), std::move(allowed), row_rule::as_answered, true,
          [&c, prefix, suffix](const std::string& name) {
            auto stem = name.substr(0, name.size() - 4); // without ".jpg"
            return c.raw_upload({raw_image_part(prefix + stem + suffix, c.photo)})("");
          });
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
}

/// A raw request's answer as an exchange: status, body, time.
exchange raw_exchange(steady::time_point started, const std::string& answer) {
  exchange e;
  e.started = started;
  e.status = raw_status(answer);
  auto body = answer.find("\r\n\r\n");
  e.body = body == std::string::npos ? answer : answer.substr(body + 4);
  e.seconds = seconds_since(e.started);
  return e;
}

/// The transport: request targets and headers over their limits, pipelining, malformed HTTP.
void add_transport_cases(hostile_context& c) {
  c.add("request target over --max-url-bytes", {414}, row_rule::none, true,
        [&c](const std::string& name) {
          return upload_as(c.base, c.path + "&pad=" + std::string(3000, 'a'), c.photo, name);
        });
  // Over twice --max-url-bytes: answered by the guarded socket.
  c.add("GET with a request target over twice --max-url-bytes", {414}, row_rule::none, false,
        [&c](const std::string&) {
          return attempt([&] { return get(c.base + "/tasks?status=" + std::string(5000, 'b')); });
        });
  // Pipelined, in one write: a request, then one with a target over twice --max-url-bytes. The
  // first is answered by its handler, then the second by the guarded socket, after it; then the
  // connection closes. The answer recorded is the second one.
  c.add("a request, then one with a target over twice --max-url-bytes, in one write", {414},
        row_rule::none, false, [&c](const std::string&) {
          auto started = steady::now();
          const std::string both =
              "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /tasks?status=" + std::string(5000, 'b') +
              " HTTP/1.1\r\nHost: x\r\n\r\n";
          int fd = connect_to(c.stack.port());
          EXPECT_EQ(::send(fd, both.data(), both.size(), MSG_NOSIGNAL),
                    static_cast<ssize_t>(both.size()));
          std::string answer;
          EXPECT_TRUE(closed_by_server(fd, 5s, &answer)) << "the connection stayed open";
          ::close(fd);
          EXPECT_EQ(raw_status(answer), 200) << answer.substr(0, 300);
          auto second = answer.find("HTTP/1.", 1);
          if (second == std::string::npos) {
            exchange none;
            none.started = started;
            none.seconds = seconds_since(started);
            return none;
          }
          return raw_exchange(started, answer.substr(second));
        });
  std::vector<std::string> headers;
  for (int i = 0; i < 12; ++i)
    headers.push_back("X-Filler-" + std::to_string(i) + ": " + std::string(500, 'h'));
  c.add("upload with headers over --max-header-bytes", {431}, row_rule::none, true,
        [&c, headers](const std::string& name) {
          return c.raw_upload({raw_image_part(name, c.photo)}, headers)(name);
        });
  // Over twice --max-header-bytes: answered by the guarded socket.
  c.add("one header value of 16 KiB (4x --max-header-bytes)", {431}, row_rule::none, false,
        [&c](const std::string&) {
          return attempt([&] {
            return send_request("GET", c.base + "/health", "",
                                {"X-Big: " + std::string(16384, 'v')});
          });
        });
  for (const std::string& raw :
       {std::string{"GARBAGE\r\n\r\n"}, std::string{"GET / HTTP/9.9\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: -5\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\nTransfer-"
                    "Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n"}}) {
    c.add("malformed HTTP: " + raw.substr(0, raw.find('\r')), {0, 400, 404, 405, 413, 505},
          row_rule::none, false, [&c, raw](const std::string&) {
            auto started = steady::now();
            return raw_exchange(started,
                                send_raw("127.0.0.1", c.stack.port(), raw, milliseconds(3000)));
          });
  }
}

/// Sends one case and checks its answer, the service's health and the rows it left.
void run_case(hostile_context& c, const hostile_case& hostile, request_log& log,
              std::vector<std::string>& unexpected) {
  SCOPED_TRACE(hostile.name);
  auto e = hostile.send();
  log.add(logged(hostile.filename, e));
  auto what = std::to_string(e.status) + " " + e.body.substr(0, 160) + shorten(e.transport_error);
  std::printf("hostile input: %s -> %s\n", hostile.name.c_str(), what.c_str());
  if (hostile.allowed.count(e.status) == 0)
    unexpected.push_back(hostile.name + ": " + what);
  EXPECT_EQ(hostile.allowed.count(e.status), 1u) << "answered " << what;
  if (e.status >= 400) { // errors are the JSON contract
    EXPECT_EQ(e.body.rfind("{\"detail\":", 0), 0u) << e.body.substr(0, 300);
  }
  expect_healthy(c.stack);
  if (hostile.filename.empty())
    return;
  auto rows = rows_named(c.stack.dsn(), hostile.filename);
  if (hostile.rows == row_rule::none) {
    EXPECT_TRUE(rows.empty()) << rows.size() << " row(s), first " << rows.front().first;
  } else if (hostile.rows == row_rule::failed) {
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].first, "failed");
    EXPECT_NE(rows[0].second.find("decode_jpeg"), std::string::npos) << rows[0].second;
  } else if (e.status != 200) {
    EXPECT_LE(rows.size(), 1u);
    for (const auto& [status, error] : rows)
      EXPECT_EQ(status, "failed") << error;
  }
}

/// A silent client (half a request, then nothing) is disconnected after --read-timeout-ms, and
/// other clients are served meanwhile.
void silent_client(hostile_context& c, request_log& log) {
  SCOPED_TRACE("silent client");
  int fd = connect_to(c.stack.port());
  std::string partial =
      "POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  expect_healthy(c.stack);
  std::string answer;
  bool closed = closed_by_server(fd, 15s, &answer);
  EXPECT_TRUE(closed) << "the server kept a silent client's connection";
  ::close(fd);
  log.add({"", raw_status(answer), answer}); // 0: disconnected without an answer
  expect_healthy(c.stack);
}

/// A client that trickles a header byte at a time (each within the read timeout). Not silent,
/// so --read-timeout-ms does not promise to cut it; the note records what happened, and that
/// others are served meanwhile.
void trickling_client(hostile_context& c, request_log& log, std::string& note) {
  SCOPED_TRACE("trickling client");
  int fd = connect_to(c.stack.port());
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
  expect_healthy(c.stack);
  trickle.join();
  ::close(fd);
  note = cut ? "a client trickling a byte per 200 ms was cut within 5 s"
             : "a client trickling a byte per 200 ms was not cut within 5 s";
  log.add({"", 0, ""}); // no HTTP answer: it never completed a request
  expect_healthy(c.stack);
}

/// A flood of idle connections, three times --max-connections: connections beyond the cap wait
/// unaccepted, idle ones are dropped at the read timeout, and then a real client is served.
void connection_flood(hostile_context& c, request_log& log, std::string& note) {
  SCOPED_TRACE("connection flood");
  std::vector<int> idle;
  for (int i = 0; i < 24; ++i)
    idle.push_back(connect_to(c.stack.port()));
  auto health = attempt([&] { return get(c.base + "/health", 20s); });
  EXPECT_EQ(health.status, 200) << shorten(health.transport_error);
  int closed = 0;
  for (int fd : idle) {
    std::string answer;
    closed += closed_by_server(fd, 15s, &answer) ? 1 : 0;
    ::close(fd);
    log.add({"", raw_status(answer), answer});
  }
  EXPECT_EQ(closed, 24) << "idle connections the server never closed";
  note +=
      "; /health behind 24 idle connections (cap 8) answered after " + format_ms(health.seconds);
  expect_healthy(c.stack);
}

TEST(fault_suite, hostile_inputs) {
  auto started = steady::now();
  constexpr std::size_t max_upload = 1 << 20;
  service_stack stack{
      with_args({"--max-upload-bytes=" + std::to_string(max_upload), "--min-image-side=16",
                 "--max-url-bytes=2048", "--max-header-bytes=4096", "--read-timeout-ms=1000",
                 "--max-connections=8"})};
  hostile_context c{stack, max_upload};
  request_log log;

  // Warm-up: a few normal requests, so the memory baseline includes the working set of serving.
  for (int i = 0; i < 8; ++i) {
    auto name = c.next_name();
    auto e = upload_as(c.base, c.path, make_jpeg(320, 240, i), name);
    ASSERT_EQ(e.status, 200) << e.body << shorten(e.transport_error);
    log.add(logged(name, e));
  }
  const long rss_before = resident_kib(stack.imgproc().pid());

  c.photo = make_jpeg(320, 240, 11);
  add_body_cases(c);
  add_filename_cases(c);
  add_transport_cases(c);
  std::vector<std::string> unexpected;
  for (const auto& hostile : c.cases) {
    run_case(c, hostile, log, unexpected);
    if (HasFatalFailure())
      return;
  }
  // No stored filename carries a path separator or a control character.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE filename ~ '[/\\\\]' OR "
                                      "filename ~ '[[:cntrl:]]'"),
            0);

  silent_client(c, log);
  if (HasFatalFailure())
    return;
  std::string slow_note;
  trickling_client(c, log, slow_note);
  connection_flood(c, log, slow_note);

  const long rss_after = resident_kib(stack.imgproc().pid());
  EXPECT_LE(rss_after, rss_before + memory_bound_kib)
      << "VmRSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
  EXPECT_TRUE(stack.imgproc().running());

  fault_tally tally{c.scenario};
  check_stored(tally, stack.dsn(), log.all(), 10s);
  tally.seconds = seconds_since(started);
  tally.note =
      std::to_string(c.cases.size()) +
      " hostile requests, a silent client, a trickling client, 24 idle connections; VmRSS " +
      std::to_string(rss_before / 1024) + " -> " + std::to_string(rss_after / 1024) +
      " MiB (bound +" + std::to_string(memory_bound_kib / 1024) + " MiB); " + slow_note;
  for (const auto& u : unexpected)
    tally.problems.push_back("unexpected answer: " + u);
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
