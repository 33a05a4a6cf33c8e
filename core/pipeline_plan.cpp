#include "core/pipeline_plan.hpp"

#include "core/task_json.hpp"

namespace imgproc {
namespace {

constexpr std::size_t max_title_characters = 200;

/// Characters, not bytes: the JSON parser has already checked that the text is valid UTF-8.
std::size_t utf8_length(const std::string& text) {
  std::size_t count = 0;
  for (unsigned char c : text)
    count += (c & 0xC0) != 0x80; // every byte but a continuation byte starts a character
  return count;
}

} // namespace

result<pipeline_plan> plan_pipeline(const step_registry& registry, int id, std::string title,
                                    const std::vector<step_definition>& steps) {
  auto invalid = [&](std::string detail) {
    return make_failure(error_code::invalid_pipeline,
                        "pipeline " + std::to_string(id) + " is invalid: " + detail);
  };
  if (steps.empty())
    return invalid("it has no steps");
  pipeline_plan plan;
  plan.id = id;
  plan.title = std::move(title);
  value_kind current = value_kind::jpeg_bytes;
  auto steps_json = nlohmann::json::array();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& def = steps[i];
    std::string where = "step " + std::to_string(i + 1) + " (" + def.handler + ")";
    const step_kind* kind = registry.find(def.handler);
    if (!kind)
      return invalid(where + ": unknown handler");
    if (kind->input != current)
      return invalid(where + ": takes " + to_string(kind->input) + " but " +
                     (i == 0 ? std::string{"the upload is "} : "the previous step produces ") +
                     to_string(current));
    auto params = validate_params(*kind, def.params);
    if (!params)
      return invalid(where + ": " + params.error().detail);
    planned_step step;
    step.kind = kind;
    step.params = std::move(params.value());
    step.run = kind->make(step.params);
    steps_json.push_back({{"handler", kind->handler}, {"params", step.params}});
    plan.steps.push_back(std::move(step));
    current = kind->output;
  }
  plan.steps_json = steps_json.dump();
  // Any final output is a result: a detection is answered as a box, anything else is described
  // by output_json() (core/task_json.hpp).
  return plan;
}

result<std::vector<step_definition>> parse_steps_json(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  auto bad =
      make_failure(error_code::bad_request, "malformed steps: " + std::string{text.substr(0, 200)});
  if (!json.is_array())
    return bad;
  std::vector<step_definition> steps;
  for (const auto& item : json) {
    if (!item.is_object() || !item.contains("handler") || !item["handler"].is_string() ||
        !item.contains("params") || !item["params"].is_object())
      return bad;
    steps.push_back({item["handler"].get<std::string>(), item["params"]});
  }
  return steps;
}

result<pipeline_definition> parse_pipeline_definition(const step_registry& registry,
                                                      std::string_view body) {
  auto bad = [](std::string detail) { return make_failure(error_code::bad_request, detail); };
  if (!json_depth_at_most(body, 16))
    return bad("the body nests deeper than 16 levels");
  auto json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return bad("the body must be a JSON object: {\"title\": ..., \"steps\": [...]}");
  for (const auto& item : json.items())
    if (item.key() != "title" && item.key() != "description" && item.key() != "steps" &&
        item.key() != "id" && item.key() != "version")
      return bad("unknown field '" + item.key() + "'");
  pipeline_definition def;
  if (!json.contains("title") || !json["title"].is_string() ||
      json["title"].get<std::string>().empty())
    return bad("title must be a non-empty string");
  def.title = json["title"].get<std::string>();
  if (utf8_length(def.title) > max_title_characters)
    return bad("title is longer than " + std::to_string(max_title_characters) + " characters");
  if (json.contains("description")) {
    if (!json["description"].is_string())
      return bad("description must be a string");
    def.description = json["description"].get<std::string>();
  }
  // PostgreSQL's text cannot hold a NUL: refused here, not found out by a failing write.
  if (def.title.find('\0') != std::string::npos)
    return bad("title must not contain a NUL character");
  if (def.description.find('\0') != std::string::npos)
    return bad("description must not contain a NUL character");
  if (!json.contains("steps") || !json["steps"].is_array())
    return bad("steps must be a list of {\"handler\": ..., \"params\": {...}}");
  if (json["steps"].size() > 100)
    return bad("a pipeline has at most 100 steps");
  for (std::size_t i = 0; i < json["steps"].size(); ++i) {
    const auto& step = json["steps"][i];
    std::string where = "step " + std::to_string(i + 1);
    if (!step.is_object() || !step.contains("handler") || !step["handler"].is_string())
      return bad(where + " must be an object with a string handler");
    for (const auto& item : step.items())
      if (item.key() != "handler" && item.key() != "params")
        return bad(where + ": unknown field '" + item.key() + "'");
    step_definition def_step;
    def_step.handler = step["handler"].get<std::string>();
    if (step.contains("params") && !step["params"].is_null())
      def_step.params = step["params"];
    def.steps.push_back(std::move(def_step));
  }
  // The same checks as at request time, so a stored pipeline always plans.
  auto plan = plan_pipeline(registry, 0, def.title, def.steps);
  if (!plan) {
    auto detail = plan.error().detail;
    const std::string prefix = "pipeline 0 is invalid: ";
    if (detail.rfind(prefix, 0) == 0)
      detail = "pipeline is invalid: " + detail.substr(prefix.size());
    return make_failure(error_code::invalid_pipeline, detail);
  }
  return def;
}

} // namespace imgproc
