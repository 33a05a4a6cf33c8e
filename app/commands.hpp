#pragma once

#include <string>
#include <vector>

namespace imgproc {

enum class role;

/// `imgproc serve` (all in one) or `imgproc gateway` (front-end for worker nodes): migrations,
/// then the HTTP front-end and the actor system until SIGINT or SIGTERM. Returns the exit code.
int run_serve(const std::vector<std::string>& args, role r);

/// `imgproc worker`: joins gateways and runs jobs until SIGINT or SIGTERM.
int run_worker(const std::vector<std::string>& args);

/// `imgproc migrate`: applies pending migrations and exits.
int run_migrate(const std::vector<std::string>& args);

/// `imgproc` without a command, or `imgproc --help`.
int print_usage(bool to_stderr);

} // namespace imgproc
