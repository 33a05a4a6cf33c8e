#pragma once

#include <string>
#include <vector>

namespace imgproc {

/// `imgproc serve`: migrations, then the HTTP front-end and the actor system until SIGINT or
/// SIGTERM. Returns the process exit code.
int run_serve(const std::vector<std::string>& args);

/// `imgproc migrate`: applies pending migrations and exits.
int run_migrate(const std::vector<std::string>& args);

/// `imgproc` without a command, or `imgproc --help`.
int print_usage(bool to_stderr);

} // namespace imgproc
