#include "tests/support/process.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace imgproc::testing {
namespace {

using steady = std::chrono::steady_clock;

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

int millis_until(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

std::string log_path_for(const std::string& name) {
  static std::atomic<unsigned> counter{0};
  return "/tmp/imgproc-itest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
         "-" + name + ".log";
}

/// The test's environment with `extra` added or replaced, as "NAME=value" strings.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string entry{*e};
    auto name = entry.substr(0, entry.find('='));
    if (extra.count(name) == 0)
      out.push_back(std::move(entry));
  }
  for (const auto& [name, value] : extra)
    out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

} // namespace

std::string binary_dir() {
  if (const char* dir = std::getenv("IMGPROC_BIN_DIR"); dir && *dir)
    return dir;
  // The test binaries are built into the same directory as the services
  // (CMAKE_RUNTIME_OUTPUT_DIRECTORY), so the test's own directory is the fallback. It also covers
  // ctest runs where gtest_discover_tests dropped all but the first ENVIRONMENT entry.
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string path{self, static_cast<std::size_t>(n)};
    auto dir = path.substr(0, path.rfind('/'));
    if (::access((dir + "/imgproc").c_str(), X_OK) == 0)
      return dir;
  }
  throw std::runtime_error("IMGPROC_BIN_DIR is not set and imgproc is not next to the test "
                           "binary: export IMGPROC_BIN_DIR (e.g. IMGPROC_BIN_DIR=build/bin)");
}

child_process::child_process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                             std::string name)
    : name_(name.empty() ? argv.at(0).substr(argv.at(0).rfind('/') + 1) : std::move(name)),
      log_path_(log_path_for(name_)) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw system_error("pipe2");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1); // dup2 clears O_CLOEXEC on fd 1
  posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);

  // A clean signal state: the test runner's mask or ignored SIGPIPE must not leak into the
  // service, whose signal handling is part of what is tested.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  auto environment = child_environment(env);
  auto argv_ptrs = pointers(argv);
  auto env_ptrs = pointers(environment);
  int rc =
      ::posix_spawn(&pid_, argv[0].c_str(), &actions, &attr, argv_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  stdout_fd_ = out[0];
}

child_process::~child_process() {
  try {
    if (running())
      kill();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child_process %s: %s\n", name_.c_str(), e.what());
  }
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- last stderr lines of %s (pid %d, full log kept in %s) ----\n%s",
                 name_.c_str(), static_cast<int>(pid_), log_path_.c_str(), stderr_tail().c_str());
    std::fprintf(stderr, "---- end of %s ----\n", name_.c_str());
  } else {
    ::unlink(log_path_.c_str());
  }
}

std::string child_process::wait_for_line(const std::regex& pattern,
                                         std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  auto fail = [&](const std::string& why) -> std::runtime_error {
    return std::runtime_error(name_ + ": " + why + "\n---- last stderr lines (" + log_path_ +
                              ") ----\n" + stderr_tail());
  };
  for (;;) {
    for (auto end = pending_.find('\n'); end != std::string::npos; end = pending_.find('\n')) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      if (std::regex_search(line, pattern))
        return line;
    }
    if (stdout_fd_ < 0)
      throw fail("stdout is closed");
    pollfd p{stdout_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, millis_until(deadline));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready < 0)
      throw system_error("poll");
    if (ready == 0)
      throw fail("no matching stdout line within " + std::to_string(timeout.count()) + " ms");
    char buffer[4096];
    auto n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      throw fail(running() ? "closed its stdout before printing the expected line"
                           : "exited (status " + std::to_string(exit_code_) +
                                 ") before printing the expected line");
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
  }
}

void child_process::reaped(int wait_status) {
  exited_ = true;
  exit_code_ = WIFEXITED(wait_status)     ? WEXITSTATUS(wait_status)
               : WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                          : -1;
}

bool child_process::running() {
  if (exited_ || pid_ < 0)
    return false;
  int status = 0;
  auto rc = ::waitpid(pid_, &status, WNOHANG);
  if (rc == pid_) {
    reaped(status);
    return false;
  }
  return true;
}

bool child_process::wait_exit(steady::time_point deadline) {
  if (!running())
    return true;
  // A pidfd becomes readable when the process exits: a wait with a timeout and no polling.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int ready;
    do
      ready = ::poll(&p, 1, millis_until(deadline));
    while (ready < 0 && errno == EINTR);
    ::close(pidfd);
    return !running();
  }
  // Kernels before 5.3 have no pidfd: poll waitpid against the deadline instead.
  while (running()) {
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::optional<int> child_process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (!wait_exit(steady::now() + timeout))
    return std::nullopt;
  return exit_code_;
}

int child_process::stop(int signal, std::chrono::milliseconds timeout) {
  if (!running())
    return exit_code_;
  ::kill(pid_, signal);
  if (!wait_exit(steady::now() + timeout)) {
    kill();
    throw std::runtime_error(name_ + " did not exit within " + std::to_string(timeout.count()) +
                             " ms of signal " + std::to_string(signal) +
                             "; killed\n---- last stderr lines ----\n" + stderr_tail());
  }
  return exit_code_;
}

void child_process::kill() {
  if (!running())
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t rc;
  do
    rc = ::waitpid(pid_, &status, 0);
  while (rc < 0 && errno == EINTR);
  if (rc == pid_)
    reaped(status);
}

std::string child_process::stderr_tail(std::size_t lines) const {
  std::ifstream in{log_path_};
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines)
      last.pop_front();
  }
  std::string out;
  for (const auto& line : last)
    out += line + "\n";
  return out;
}

} // namespace imgproc::testing
