// Request limits a client can trip: a long URL, many or huge headers, a tiny image, a client
// that stops sending. Each gets a JSON error (or, for the silent client, a closed connection),
// and the service keeps serving.

#include "tests/e2e/helpers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

TEST(input_limits, a_request_target_over_the_limit_is_a_414) {
  service_stack stack{with_args({"--max-url-bytes=1024"})};
  auto detail = expect_error(get(stack.url("/tasks?status=" + std::string(1500, 'a'))), 414);
  EXPECT_NE(detail.find("over the limit of 1024"), std::string::npos) << detail;
  EXPECT_EQ(get(stack.url("/tasks?limit=1")).status, 200); // under the limit: served
  expect_healthy(stack);
}

TEST(input_limits, headers_over_the_limit_are_a_431) {
  service_stack stack{with_args({"--max-header-bytes=2048"})};
  std::vector<std::string> headers;
  for (int i = 0; i < 8; ++i)
    headers.push_back("X-Filler-" + std::to_string(i) + ": " + std::string(400, 'h'));
  auto detail = expect_error(send_request("GET", stack.url("/health"), "", headers), 431);
  EXPECT_NE(detail.find("over the limit of 2048"), std::string::npos) << detail;
  expect_healthy(stack);
}

TEST(input_limits, an_image_under_the_minimum_side_is_a_422_without_a_row) {
  service_stack stack{with_args({"--min-image-side=16"})};
  auto detail =
      expect_error(upload(stack, "/process-image?pipeline_id=1", make_jpeg(8, 32, 1)), 422);
  EXPECT_NE(detail.find("8x32 pixels, under the minimum side of 16"), std::string::npos) << detail;
  EXPECT_FALSE(last_task(stack.dsn())); // refused from the header: no task row
  EXPECT_EQ(upload(stack, "/process-image?pipeline_id=1", make_jpeg(16, 16, 1)).status, 200);
}

TEST(input_limits, a_client_that_stops_sending_is_disconnected) {
  service_stack stack{with_args({"--read-timeout-ms=300"})};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(stack.port());
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  std::string partial = "POST /process-image HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  // The server closes the connection (recv sees end of stream, or a reset); bounded wait.
  pollfd watch{fd, POLLIN, 0};
  ASSERT_EQ(poll(&watch, 1, 15000), 1) << "the server kept a silent client's connection";
  char buffer[256];
  EXPECT_LE(recv(fd, buffer, sizeof buffer, 0), 0);
  close(fd);
  expect_healthy(stack);
}

} // namespace
} // namespace imgproc::testing::e2e
