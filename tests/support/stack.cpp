#include "tests/support/stack.hpp"

#include <regex>
#include <sstream>

namespace imgproc::testing {
namespace {

// Generous: on the shared 2-core machines a cold start with migrations can take a few seconds.
constexpr std::chrono::milliseconds startup_timeout{30000};

const std::regex ml_ready{R"(^ml_mock listening on (http://[^:]+:(\d+))$)"};
const std::regex imgproc_ready{R"(^imgproc listening on (http://[^:]+:(\d+))$)"};

/// `defaults` with every option named in `overrides` replaced, followed by the overrides.
std::vector<std::string> merge_args(const std::vector<std::string>& defaults,
                                    const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  for (const auto& arg : defaults) {
    bool replaced = false;
    for (const auto& other : overrides)
      replaced = replaced || option_name(other) == option_name(arg);
    if (!replaced)
      out.push_back(arg);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

std::uint16_t port_of(const std::string& line, const std::regex& pattern) {
  std::smatch match;
  std::regex_search(line, match, pattern);
  return static_cast<std::uint16_t>(std::stoi(match[2].str()));
}

} // namespace

std::string option_name(const std::string& arg) {
  return arg.substr(0, arg.find('='));
}

service_stack::service_stack(stack_options options)
    : options_(std::move(options)),
      db_(options_.admin_dsn.empty() ? admin_dsn() : options_.admin_dsn) {
  if (options_.start_ml_mock) {
    std::ostringstream probability;
    probability << options_.detect_probability;
    ml_mock_ = std::make_unique<child_process>(
        std::vector<std::string>{binary_dir() + "/ml_mock", "--port=0", "--host=127.0.0.1",
                                 "--seed=" + std::to_string(options_.ml_seed),
                                 "--detect-probability=" + probability.str(),
                                 "--log-level=warning"},
        std::map<std::string, std::string>{}, "ml_mock");
    auto line = ml_mock_->wait_for_line(ml_ready, startup_timeout);
    ml_url_ = "http://127.0.0.1:" + std::to_string(port_of(line, ml_ready)) + "/ml-process-img";
  }
  start_imgproc({});
}

service_stack::~service_stack() {
  // SIGTERM first so the services shut down cleanly (and close their database connections)
  // before the scratch database is dropped; stragglers are killed. A clean exit is asserted by
  // the lifecycle tests, not here: a shutdown bug should fail those, not every test.
  for (auto* child : {imgproc_.get(), ml_mock_.get()}) {
    if (!child)
      continue;
    try {
      child->stop(SIGTERM, std::chrono::milliseconds(5000));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "service_stack: %s\n", e.what());
    }
  }
  imgproc_.reset();
  ml_mock_.reset();
}

void service_stack::start_imgproc(const std::vector<std::string>& extra_args) {
  std::vector<std::string> defaults{
      "--port=0", "--host=127.0.0.1", "--db=" + db_.dsn(),
      // Warnings only: each test starts the service a few times, and info lines would bury the
      // lines that explain a failure.
      "--log-level=warning",
      // Few connections each: several stacks may share one private PostgreSQL.
      "--db-connections=2", "--db-wait-ms=10000"};
  if (!ml_url_.empty())
    defaults.push_back("--ml-url=" + ml_url_);
  auto args = merge_args(merge_args(defaults, options_.imgproc_args), extra_args);
  args.insert(args.begin(), {binary_dir() + "/imgproc", "serve"});
  imgproc_ = std::make_unique<child_process>(std::move(args), std::map<std::string, std::string>{},
                                             "imgproc");
  auto line = imgproc_->wait_for_line(imgproc_ready, startup_timeout);
  port_ = port_of(line, imgproc_ready);
  base_url_ = "http://127.0.0.1:" + std::to_string(port_);
}

int service_stack::restart_imgproc(const std::vector<std::string>& extra_args) {
  int code = imgproc_->stop(SIGTERM, std::chrono::milliseconds(10000));
  imgproc_.reset();
  start_imgproc(extra_args);
  return code;
}

} // namespace imgproc::testing
