#include "tests/support/pki.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <utility>
#include <vector>

extern char** environ;

namespace imgproc::testing {
namespace {

/// Runs `openssl args...` (found on PATH, no shell) with its output in `log`; throws with that
/// output if it does not exit 0.
void openssl(const std::string& log, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error(std::string{"cannot start openssl: "} + std::strerror(rc));

  int status = 0;
  pid_t waited;
  do
    waited = ::waitpid(pid, &status, 0);
  while (waited < 0 && errno == EINTR);
  if (waited == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return;
  std::ifstream in{log};
  std::ostringstream output;
  output << in.rdbuf();
  std::string command;
  for (const auto& arg : args)
    command += arg + " ";
  throw std::runtime_error("failed (status " + std::to_string(status) + "): " + command + "\n" +
                           output.str());
}

/// A key and a certificate signed by the CA in `dir`.
void signed_pair(const std::string& dir, const std::string& name) {
  const auto base = dir + "/" + name;
  openssl(base + ".log", {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out",
                          base + ".csr", "-subj", "/CN=" + name});
  openssl(base + ".log",
          {"x509", "-req", "-in", base + ".csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
           "-CAcreateserial", "-out", base + ".pem", "-days", "30"});
}

/// A self-signed key and certificate (a CA of its own).
void self_signed(const std::string& dir, const std::string& name) {
  const auto base = dir + "/" + name;
  openssl(base + ".log", {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key",
                          "-out", base + ".pem", "-days", "30", "-subj", "/CN=test-" + name});
}

} // namespace

test_pki::test_pki(test_pki&& other) noexcept {
  *this = std::move(other);
}

test_pki& test_pki::operator=(test_pki&& other) noexcept {
  if (this != &other) {
    std::error_code ignored;
    if (!dir.empty())
      std::filesystem::remove_all(dir, ignored);
    dir = std::exchange(other.dir, "");
    ca = std::move(other.ca);
    node_cert = std::move(other.node_cert);
    node_key = std::move(other.node_key);
    other_node_cert = std::move(other.other_node_cert);
    other_node_key = std::move(other.other_node_key);
    rogue_cert = std::move(other.rogue_cert);
    rogue_key = std::move(other.rogue_key);
  }
  return *this;
}

test_pki::~test_pki() {
  if (dir.empty())
    return;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error)
    std::fprintf(stderr, "test_pki: cannot remove %s: %s\n", dir.c_str(), error.message().c_str());
}

test_pki make_test_pki() {
  char pattern[] = "/tmp/imgproc-pki-XXXXXX";
  if (!::mkdtemp(pattern))
    throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
  test_pki pki;
  pki.dir = pattern; // from here on the destructor cleans up, also when a command throws
  self_signed(pki.dir, "ca");
  signed_pair(pki.dir, "node");
  signed_pair(pki.dir, "other");
  self_signed(pki.dir, "rogue");
  pki.ca = pki.dir + "/ca.pem";
  pki.node_cert = pki.dir + "/node.pem";
  pki.node_key = pki.dir + "/node.key";
  pki.other_node_cert = pki.dir + "/other.pem";
  pki.other_node_key = pki.dir + "/other.key";
  pki.rogue_cert = pki.dir + "/rogue.pem";
  pki.rogue_key = pki.dir + "/rogue.key";
  return pki;
}

} // namespace imgproc::testing
