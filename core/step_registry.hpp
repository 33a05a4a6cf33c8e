#pragma once

// Steps are data: a pipeline row names a handler, and this registry maps handler names to step
// kinds. A step kind says which stage actor runs it, what it takes and produces, which parameters
// it accepts (with types, defaults and bounds), and how to build the function that runs it.
// Adding a stage kind is one `add()` call in register_default_steps().

#include "core/errors.hpp"
#include "core/payload.hpp"

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

class jpeg_decoder;
class preprocessor;
class detector_client;
class object_detectors;
class cascade_library;

/// Which stage actor runs a step: decode and transform are CPU work on the scheduler, detect
/// blocks on the network and runs on detached actors, local_detect (a detector run here, tens of
/// milliseconds of CPU per image) runs on detached actors too, so that it never holds up the
/// scheduler's threads.
enum class stage_kind { decode, transform, detect, local_detect };

const char* to_string(stage_kind kind);

enum class param_type { integer, number, string, boolean };

/// "integer", "number", "string" or "boolean", as the step catalogue (GET /steps) names them.
const char* to_string(param_type type);

struct param_spec {
  std::string name;
  param_type type = param_type::integer;
  nlohmann::json default_value; ///< null: the parameter is required
  double min = 0;               ///< bounds for integer and number
  double max = 0;
  std::vector<std::string> choices; ///< allowed values for a string; empty: any
  std::string help;
  // Appended so that positional initialisers written before them stay valid.
  std::vector<double> allowed_numbers; ///< allowed values for an integer or number; empty: any
  bool odd = false;                    ///< integer: must be odd (kernel sizes)
  /// A string's further check, beyond its choices: why the value is refused, or nullopt.
  std::function<std::optional<std::string>(const std::string&)> check;
};

/// What a stage actor lends to the steps it runs.
struct stage_resources {
  const jpeg_decoder* decoder = nullptr;
  const preprocessor* images = nullptr;
  detector_client* detector = nullptr;
  object_detectors* objects = nullptr; ///< one per local detector actor: not thread-safe
};

/// Runs one step on the payload in place. Must be safe to call from several threads at once.
using step_fn = std::function<status(stage_resources&, payload&)>;

struct step_kind {
  std::string handler;
  std::string title;
  std::string description;
  stage_kind stage = stage_kind::transform;
  value_kind input = value_kind::image;
  value_kind output = value_kind::image;
  std::vector<param_spec> params;
  /// Builds the step's function from parameters already validated, with defaults filled in.
  std::function<step_fn(const nlohmann::json& params)> make;
};

class step_registry {
public:
  /// Throws std::logic_error if the handler is already registered (a programming error).
  void add(step_kind kind);
  const step_kind* find(std::string_view handler) const;
  std::vector<const step_kind*> kinds() const;

private:
  std::vector<std::unique_ptr<step_kind>> kinds_; // stable addresses: plans point into it
};

/// Checks `given` against the kind's parameter specs and fills defaults. The failure's detail
/// names the parameter; unknown parameters are refused so that typos do not pass silently.
result<nlohmann::json> validate_params(const step_kind& kind, const nlohmann::json& given);

/// Checks of step parameters that depend on how this process is configured, so that a pipeline
/// this process would refuse to run is refused when it is saved.
struct step_checks {
  /// Why a detect step's `url` is refused (refuse_ml_url with this process's --ml-url and
  /// --ml-allowed-urls), or nullopt; unset: any url passes (the detector client checks it again).
  std::function<std::optional<std::string>(const std::string& url)> ml_url;
};

/// Registers every built-in step kind: decode_jpeg, resize, normalize, encode_jpeg, base64, detect
/// (the car-detection chain), grayscale, crop, letterbox, fit_within, flip, rotate,
/// gaussian_blur, encode, and the local detectors detect_people and detect_cascade (whose
/// `cascade` choices are the names `cascades` lists; with none installed it is not registered).
void register_default_steps(step_registry& registry,
                            std::shared_ptr<const cascade_library> cascades = nullptr,
                            step_checks checks = {});

} // namespace imgproc
