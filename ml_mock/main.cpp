// ml_mock: a stand-in for the car-detection model, see ml_mock/server.hpp.
//
// Exit codes: 0 after --help or SIGINT/SIGTERM, 1 if the server cannot start, 2 for bad options.

#include "common/log.hpp"
#include "common/options.hpp"
#include "ml_mock/server.hpp"

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <pthread.h>
#include <string>
#include <vector>

namespace {

constexpr std::string_view log_component = "ml_mock";

} // namespace

int main(int argc, char** argv) {
  using namespace imgproc;

  auto options = ml_mock::make_options();
  ml_mock::server_settings settings;
  try {
    if (!options.parse(std::vector<std::string>(argv + 1, argv + argc), process_environment())) {
      std::cout << options.help_text("ml_mock [--name=value ...]");
      return 0;
    }
    settings = ml_mock::settings_from_options(options);
    log::level level;
    if (!log::parse_level(options.get("log-level"), level))
      throw option_error("--log-level must be debug, info, warning or error, got '" +
                         options.get("log-level") + "' (" + options.source("log-level") + ")");
    log::set_min_level(level);
  } catch (const option_error& e) {
    std::cerr << "ml_mock: " << e.what() << "\n";
    return 2;
  }

  // Blocked before any thread starts, so the server threads inherit the mask and the signals
  // wait for sigwait() below instead of killing the process mid-request.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ml_mock::server server{settings};
  try {
    server.start();
  } catch (const std::exception& e) {
    log::error(log_component, "cannot start on " + settings.host + ":" +
                                  std::to_string(settings.port) + ": " + e.what());
    return 1;
  }
  log::info(log_component,
            "detect probability " + std::to_string(settings.detect_probability) + ", seed " +
                (settings.seed ? std::to_string(*settings.seed) : std::string{"random"}) + ", " +
                std::to_string(settings.threads) + " thread(s)");
  // The readiness line tests and scripts wait for: exactly one line on stdout.
  std::cout << "ml_mock listening on http://" << settings.host << ":" << server.port() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log::info(log_component,
            std::string{"stopping on "} + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  server.stop();
  return 0;
}
