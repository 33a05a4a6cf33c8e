#include "tests/support/fault_exchange.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pqxx/pqxx>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace imgproc::testing {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

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

exchange upload_as(const std::string& base_url, const std::string& path, const std::string& image,
                   const std::string& filename, milliseconds timeout) {
  return attempt([&] {
    return post_multipart(base_url + path, {file_field("image_file", image, filename)}, timeout);
  });
}

sent_request logged(const std::string& filename, const exchange& e) {
  return sent_request{filename, e.status, e.body};
}

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

bool closed_by_server(int fd, milliseconds timeout, std::string* received) {
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

long raw_status(const std::string& answer) {
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12)
    return 0;
  return std::strtol(answer.c_str() + 9, nullptr, 10);
}

bool wait_until(const std::function<bool()>& done, milliseconds timeout, milliseconds period) {
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

} // namespace imgproc::testing
