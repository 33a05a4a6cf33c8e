#include "metrics/process_families.hpp"

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace imgproc::metrics::detail {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

struct process_sample {
  std::optional<double> cpu_seconds;
  std::optional<double> resident_bytes;
  std::optional<double> open_fds;
  std::optional<double> start_time;
};

std::optional<double> boot_time() {
  auto stat = read_file("/proc/stat");
  if (!stat) {
    return std::nullopt;
  }
  std::istringstream lines(*stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr);
    }
  }
  return std::nullopt;
}

process_sample sample_process() {
  process_sample s;
  const long ticks = sysconf(_SC_CLK_TCK);
  // /proc/self/stat: "pid (comm) state ...": comm may hold spaces and parentheses, so fields
  // are counted from the last ')'. Field 3 (state) is token 0 after it.
  if (auto stat = read_file("/proc/self/stat"); stat && ticks > 0) {
    const auto close = stat->rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(stat->substr(close + 1));
      std::vector<std::string> tokens{std::istream_iterator<std::string>(fields),
                                      std::istream_iterator<std::string>()};
      if (tokens.size() > 19) {
        const double utime = std::strtod(tokens[11].c_str(), nullptr); // field 14
        const double stime = std::strtod(tokens[12].c_str(), nullptr); // field 15
        s.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
        if (auto btime = boot_time()) {
          const double start_ticks = std::strtod(tokens[19].c_str(), nullptr); // field 22
          s.start_time = *btime + start_ticks / static_cast<double>(ticks);
        }
      }
    }
  }
  if (auto statm = read_file("/proc/self/statm")) {
    std::istringstream fields(*statm);
    double size = 0;
    double resident = 0;
    const long page = sysconf(_SC_PAGESIZE);
    if (fields >> size >> resident && page > 0) {
      s.resident_bytes = resident * static_cast<double>(page);
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    double count = 0;
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") {
        ++count;
      }
    }
    closedir(dir);
    s.open_fds = count;
  }
  return s;
}

void add_process_family(std::vector<MetricFamily>& out, const std::string& node, const char* name,
                        const char* help, MetricType type, std::optional<double> value) {
  if (!value) {
    return;
  }
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  ClientMetric metric;
  metric.label.push_back({"node", node});
  if (type == MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  family.metric.push_back(std::move(metric));
  out.push_back(std::move(family));
}

} // namespace

void append_process_families(std::vector<MetricFamily>& out, const std::string& node) {
  const auto s = sample_process();
  add_process_family(out, node, "process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.", MetricType::Counter,
                     s.cpu_seconds);
  add_process_family(out, node, "process_resident_memory_bytes", "Resident memory size in bytes.",
                     MetricType::Gauge, s.resident_bytes);
  add_process_family(out, node, "process_open_fds", "Number of open file descriptors.",
                     MetricType::Gauge, s.open_fds);
  add_process_family(out, node, "process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                     s.start_time);
}

} // namespace imgproc::metrics::detail
