#pragma once

// The load client's command line (load_client.cpp has the whole story).

#include <string>
#include <vector>

namespace load {

struct options {
  std::string url;
  std::vector<std::string> images;
  int connections = 8;
  int max_connections = 512;
  double duration = 5;
  double rate = 0;
  double timeout = 30;
  std::string label;
};

/// usage: load_client --url=... (--images=DIR | FILE.jpg ...) [...]
extern const char* const usage_text;

/// Reads argv into `opt`: false (with the reason on stderr) for a bad argument.
bool parse_args(int argc, char** argv, options& opt);

} // namespace load
