#include "bench/load_options.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

namespace load {

const char* const usage_text =
    "usage: load_client --url=http://HOST:PORT/PATH (--images=DIR | FILE.jpg ...)\n"
    "                   [--connections=N] [--duration=SECONDS] [--rate=RPS]\n"
    "                   [--max-connections=N] [--timeout=SECONDS] [--label=TEXT]\n"
    "  --connections      closed loop: connections, each with one request at a time (default 8);\n"
    "                     open loop: connections opened before the start (default 8)\n"
    "  --rate             requests per second on a fixed schedule (open loop); 0: closed loop\n"
    "  --max-connections  open loop: most connections it opens when all are busy (default 512)\n"
    "  --duration         seconds of sending (default 5)\n"
    "  --timeout          seconds before an unanswered request counts as a timeout (default 30)\n"
    "  --label            text printed after LOAD, e.g. set=640x480\n";

bool parse_args(int argc, char** argv, options& opt) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = std::string("--") + name + "=";
      if (arg.rfind(prefix, 0) == 0)
        return arg.substr(prefix.size());
      return std::nullopt;
    };
    try {
      if (auto v = value("url")) {
        opt.url = *v;
      } else if (auto v = value("images")) {
        std::vector<std::string> files;
        for (const auto& entry : std::filesystem::directory_iterator(*v))
          if (entry.is_regular_file() && entry.path().extension() == ".jpg")
            files.push_back(entry.path().string());
        std::sort(files.begin(), files.end());
        opt.images.insert(opt.images.end(), files.begin(), files.end());
      } else if (auto v = value("connections")) {
        opt.connections = std::stoi(*v);
      } else if (auto v = value("max-connections")) {
        opt.max_connections = std::stoi(*v);
      } else if (auto v = value("duration")) {
        opt.duration = std::stod(*v);
      } else if (auto v = value("rate")) {
        opt.rate = std::stod(*v);
      } else if (auto v = value("timeout")) {
        opt.timeout = std::stod(*v);
      } else if (auto v = value("label")) {
        opt.label = *v;
      } else if (arg == "--help" || arg == "-h") {
        std::cout << usage_text;
        std::exit(0);
      } else if (arg.rfind("--", 0) == 0) {
        std::cerr << "load_client: unknown option " << arg << "\n";
        return false;
      } else {
        opt.images.push_back(arg);
      }
    } catch (const std::exception& e) {
      std::cerr << "load_client: bad value in " << arg << ": " << e.what() << "\n";
      return false;
    }
  }
  if (opt.url.empty() || opt.connections < 1 || opt.duration <= 0 || opt.rate < 0 ||
      opt.timeout <= 0 || opt.max_connections < opt.connections) {
    std::cerr << "load_client: --url is required; --connections >= 1, --duration > 0, "
                 "--rate >= 0, --timeout > 0, --max-connections >= --connections\n";
    return false;
  }
  return true;
}

} // namespace load
