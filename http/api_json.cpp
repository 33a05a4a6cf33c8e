#include "http/api_json.hpp"

#include "core/task_json.hpp"

namespace imgproc {

int http_status(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return 400;
    case error_code::pipeline_not_found:
    case error_code::task_not_found:
      return 404;
    case error_code::payload_too_large:
    case error_code::image_too_large:
      return 413;
    case error_code::unsupported_media_type:
      return 415;
    case error_code::invalid_pipeline:
    case error_code::undecodable_image:
    case error_code::step_failed:
    case error_code::image_too_small:
      return 422;
    case error_code::uri_too_long:
      return 414;
    case error_code::headers_too_large:
      return 431;
    case error_code::pipeline_retired:
      return 410;
    case error_code::conflict:
      return 409;
    case error_code::unauthorized:
      return 401;
    case error_code::ml_unavailable:
    case error_code::ml_bad_response:
    case error_code::ml_timeout:
      return 502;
    case error_code::database_unavailable:
    case error_code::overloaded:
    case error_code::shutting_down:
    case error_code::starting_up:
      return 503;
    case error_code::deadline_exceeded:
      return 504;
    case error_code::client_gone:
      return 499; // nginx's "client closed request": logged and counted, never sent
    case error_code::internal:
      return 500;
  }
  return 500;
}

nlohmann::json error_body(const std::string& detail) {
  return {{"detail", detail}};
}

http_reply failure_reply(const failure& f) {
  int status = http_status(f.code);
  // 503 means "not now": overloaded, no capacity, database away, draining. Tell clients when to
  // retry; start-up work is retried every 2 s.
  std::string retry_after = f.code == error_code::starting_up ? "2" : status == 503 ? "1" : "";
  return {status, to_text(error_body(f.detail)), std::move(retry_after)};
}

nlohmann::ordered_json task_response(std::int64_t id, int pipeline_id, const std::string& status,
                                     const std::string& filename, const nlohmann::json& data) {
  nlohmann::ordered_json box = nlohmann::ordered_json::array();
  if (data.is_object()) {
    box = nlohmann::ordered_json::object();
    for (const char* key :
         {"top_left_x", "top_left_y", "width", "height", "confidence", "class_id"})
      if (data.contains(key))
        box[key] = data[key];
    for (const auto& item : data.items()) // anything else a future step stores
      if (!box.contains(item.key()))
        box[item.key()] = item.value();
  } else if (!data.is_null()) {
    box = data;
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["id"] = id;
  out["pipeline_id"] = pipeline_id;
  out["status"] = status;
  out["filename"] = filename;
  out["data"] = std::move(box);
  return out;
}

nlohmann::ordered_json task_json(const task_record& task) {
  auto json = task_response(task.id, task.pipeline_id, task.status, task.filename, task.data);
  json["pipeline_version"] =
      task.pipeline_version ? nlohmann::ordered_json(*task.pipeline_version) : nullptr;
  json["created_at"] = task.created_at;
  json["finished_at"] = task.finished_at ? nlohmann::ordered_json(*task.finished_at) : nullptr;
  if (task.error)
    json["error"] = *task.error;
  return json;
}

nlohmann::ordered_json pipeline_json(const pipeline_record& record) {
  nlohmann::ordered_json out;
  out["id"] = record.id;
  out["version"] = record.version;
  out["title"] = record.title;
  out["description"] = record.description;
  out["steps"] = nlohmann::ordered_json::array();
  for (const auto& step : record.steps)
    out["steps"].push_back({{"handler", step.handler}, {"params", step.params}});
  return out;
}

http_reply to_reply(const task_answer& task) {
  http_reply reply{
      task.queued ? 202 : 200,
      to_text(task_response(task.id, task.pipeline_id, task.status, task.filename, task.data))};
  if (task.queued)
    reply.location = "/tasks/" + std::to_string(task.id);
  reply.node = task.node;
  return reply;
}

http_reply to_reply(const task_record& task) {
  return {200, to_text(task_json(task))};
}

http_reply to_reply(const task_page& page) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& task : page.items)
    items.push_back(task_json(task));
  nlohmann::ordered_json body;
  body["items"] = std::move(items);
  body["next_after_id"] =
      page.next_after_id ? nlohmann::ordered_json(*page.next_after_id) : nullptr;
  return {200, to_text(body)};
}

http_reply to_reply(const step_list& steps) {
  return {200, to_text(nlohmann::json{{"items", steps.items}})};
}

http_reply to_reply(const pipeline_list& list) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& record : list.items)
    items.push_back(pipeline_json(record));
  return {200, to_text(nlohmann::ordered_json{{"items", items}})};
}

http_reply to_reply(const pipeline_record& record, int status) {
  return {status, to_text(pipeline_json(record))};
}

http_reply to_reply(const pipeline_removal& removal) {
  nlohmann::ordered_json body;
  body["id"] = removal.id;
  body["status"] = removal.retired ? "retired" : "deleted";
  return {200, to_text(body)};
}

http_reply to_reply(const service_ready&) {
  return {200, R"({"status":"ready"})"};
}

http_reply to_reply(const cluster_view& cluster) {
  return {200, to_text(cluster.description)};
}

http_reply to_reply(const dry_run_answer& run) {
  nlohmann::ordered_json body;
  body["pipeline_id"] = nullptr; // an unsaved definition has neither
  body["pipeline_version"] = nullptr;
  if (run.pipeline_id != 0) {
    body["pipeline_id"] = run.pipeline_id;
    body["pipeline_version"] = run.pipeline_version;
  }
  body["title"] = run.title;
  body["status"] = run.status;
  body["filename"] = run.filename;
  body["data"] = run.data;
  body["node"] = run.node;
  body["time_ms"] = run.time_ms;
  body["steps"] = run.steps;
  return {200, to_text(body)};
}

} // namespace imgproc
