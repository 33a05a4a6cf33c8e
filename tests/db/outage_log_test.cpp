#include "db/outage_log.hpp"

#include <gtest/gtest.h>
#include <thread>
#include <vector>

namespace imgproc::db {
namespace {

TEST(outage_log, warns_once_per_outage_and_once_per_new_error) {
  outage_log log{"test"};
  EXPECT_FALSE(log.succeeded()) << "no outage to end";
  EXPECT_TRUE(log.failed("creating a task", "FATAL:  password authentication failed\n"));
  EXPECT_TRUE(log.in_outage());
  for (int i = 0; i < 50; ++i)
    EXPECT_FALSE(log.failed("claiming queued tasks", "FATAL: password authentication failed"))
        << "the same error, written differently, is not news";
  EXPECT_TRUE(log.failed("claiming queued tasks", "could not connect to server"))
      << "a different error is";
  EXPECT_TRUE(log.succeeded());
  EXPECT_FALSE(log.in_outage());
  EXPECT_FALSE(log.succeeded()) << "the outage ended once";
  EXPECT_TRUE(log.failed("storing a result", "server closed the connection"))
      << "a new outage warns again";
}

TEST(outage_log, concurrent_callers_see_one_start_and_one_end) {
  outage_log log{"test"};
  std::atomic<int> warnings{0};
  std::atomic<int> ends{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        warnings += log.failed("a call", "down") ? 1 : 0;
    });
  for (auto& thread : threads)
    thread.join();
  threads.clear();
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] { ends += log.succeeded() ? 1 : 0; });
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(warnings.load(), 1);
  EXPECT_EQ(ends.load(), 1);
}

} // namespace
} // namespace imgproc::db
