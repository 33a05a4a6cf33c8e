// End-to-end: the pipeline API (GET /steps, /pipelines CRUD, versions, retirement), task history
// and the admin token, against the real imgproc and ml_mock processes and a scratch database.
//
//   test ──POST/PUT/DELETE /pipelines──▶ imgproc ──▶ pipelines, pipeline_steps ◀── test (plain SQL)
//                                           ▲           │ triggers: version + 1, snapshot
//                                           └─ LISTEN ◀─┘ NOTIFY pipeline_changed at commit
//   test ──POST /process-image, GET /tasks──▶ imgproc ──▶ tasks (with the pipeline_version run)
//
// Most pipelines here end with `encode` rather than `detect`: their answers carry the width and
// height the resize step produced, so a test can tell exactly which version of a pipeline ran.

#include "tests/e2e/helpers.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

const std::set<std::string> pipeline_keys{"id", "version", "title", "description", "steps"};

/// A JSON request to imgproc; `token` adds "Authorization: Bearer <token>".
http_response call(const service_stack& stack, const std::string& method, const std::string& path,
                   const std::string& body = "", const std::string& token = "") {
  std::vector<std::string> headers;
  if (!token.empty())
    headers.push_back("Authorization: Bearer " + token);
  return send_request(method, stack.url(path), body, headers);
}

json step(const std::string& handler, json params = json::object()) {
  return {{"handler", handler}, {"params", std::move(params)}};
}

/// decode_jpeg → grayscale → resize width x height → encode png: the resize is step 3, and the
/// answer's data says which size ran.
json thumbnail_steps(int width, int height) {
  return json::array({step("decode_jpeg"), step("grayscale"),
                      step("resize", {{"width", width}, {"height", height}}),
                      step("encode", {{"format", "png"}})});
}

json pipeline_body(const std::string& title, json steps, const std::string& description = "") {
  json body{{"title", title}, {"steps", std::move(steps)}};
  if (!description.empty())
    body["description"] = description;
  return body;
}

/// POSTs a pipeline that must be accepted; returns its JSON (id, version, ...).
json create(const service_stack& stack, const json& body, const std::string& token = "") {
  auto response = call(stack, "POST", "/pipelines", body.dump(), token);
  EXPECT_EQ(response.status, 201) << response.body;
  auto created = parse_body(response);
  EXPECT_EQ(keys_of(created), pipeline_keys) << response.body;
  EXPECT_TRUE(created["id"].is_number_integer()) << response.body;
  return created;
}

int id_of(const json& pipeline) {
  return pipeline.contains("id") && pipeline["id"].is_number_integer() ? pipeline["id"].get<int>()
                                                                       : 0;
}

http_response run(const service_stack& stack, int pipeline_id, const std::string& image,
                  const std::string& filename = "a.jpg") {
  return upload(stack, "/process-image?pipeline_id=" + std::to_string(pipeline_id), image,
                filename);
}

/// Checks a "processed" answer of a thumbnail pipeline and returns its data.
json expect_encoded(const http_response& response, const std::string& format) {
  EXPECT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  EXPECT_EQ(body["status"], "processed") << response.body;
  const auto& data = body["data"];
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"kind", "format", "width", "height", "bytes"}))
      << response.body;
  EXPECT_EQ(data["kind"], "encoded_bytes") << response.body;
  EXPECT_EQ(data["format"], format) << response.body;
  EXPECT_TRUE(data["bytes"].is_number_integer() && data["bytes"].get<long long>() > 0)
      << response.body;
  return data;
}

json params_of_step(const json& pipeline, std::size_t index) {
  if (!pipeline.contains("steps") || !pipeline["steps"].is_array() ||
      pipeline["steps"].size() <= index)
    return json{};
  return pipeline["steps"][index]["params"];
}

std::string sql_count(const std::string& what) {
  return "SELECT count(*) FROM " + what;
}

// --- 1 -----------------------------------------------------------------------------------------

TEST(pipelines_api, steps_lists_every_handler_with_typed_params) {
  service_stack stack;
  auto response = get(stack.url("/steps"));
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  ASSERT_EQ(keys_of(body), std::set<std::string>{"items"}) << response.body;
  ASSERT_TRUE(body["items"].is_array());

  std::map<std::string, json> kinds;
  for (const auto& item : body["items"]) {
    EXPECT_EQ(keys_of(item), (std::set<std::string>{"handler", "title", "description", "stage",
                                                    "input", "output", "params"}))
        << item;
    ASSERT_TRUE(item["handler"].is_string()) << item;
    EXPECT_FALSE(item["title"].get<std::string>().empty()) << item;
    EXPECT_FALSE(item["description"].get<std::string>().empty()) << item;
    ASSERT_TRUE(item["params"].is_array()) << item;
    for (const auto& param : item["params"]) {
      SCOPED_TRACE(item["handler"].get<std::string>() + "." + param.value("name", "?"));
      for (const char* key : {"name", "type", "default", "required", "help"})
        EXPECT_TRUE(param.contains(key)) << key << " missing in " << param;
      auto type = param.value("type", "");
      EXPECT_TRUE(type == "integer" || type == "number" || type == "string" || type == "boolean")
          << param;
      if (type == "boolean") {
        EXPECT_TRUE(param["default"].is_boolean()) << param;
      }
      EXPECT_EQ(param["required"], param["default"].is_null()) << param;
      if (type == "integer" || type == "number") {
        ASSERT_TRUE(param.contains("minimum") && param.contains("maximum")) << param;
        EXPECT_LE(param["minimum"].get<double>(), param["maximum"].get<double>()) << param;
        if (!param["default"].is_null()) {
          EXPECT_GE(param["default"].get<double>(), param["minimum"].get<double>()) << param;
          EXPECT_LE(param["default"].get<double>(), param["maximum"].get<double>()) << param;
        }
      }
    }
    EXPECT_TRUE(kinds.emplace(item["handler"].get<std::string>(), item).second)
        << "listed twice: " << item["handler"];
  }
  for (const char* handler :
       {"decode_jpeg", "resize", "normalize", "encode_jpeg", "base64", "detect", "grayscale",
        "crop", "letterbox", "fit_within", "flip", "rotate", "gaussian_blur", "encode",
        "detect_people", "detect_cascade"})
    EXPECT_EQ(kinds.count(handler), 1u) << handler << " missing from " << response.body;

  auto param = [&](const std::string& handler, const std::string& name) {
    for (const auto& p : kinds[handler]["params"])
      if (p["name"] == name)
        return p;
    ADD_FAILURE() << handler << " has no parameter " << name;
    return json::object();
  };
  auto width = param("resize", "width");
  EXPECT_EQ(width["type"], "integer");
  EXPECT_EQ(width["default"], 640);
  EXPECT_EQ(width["minimum"], 1); // an integer, not 1.0: clients compare it with what they send
  EXPECT_TRUE(width["maximum"].is_number_integer() && width["maximum"].get<int>() >= 4096) << width;
  EXPECT_EQ(width["required"], false);
  EXPECT_EQ(param("resize", "interpolation")["type"], "string");
  EXPECT_EQ(param("resize", "interpolation")["choices"],
            json::array({"nearest", "linear", "area", "cubic"}));
  EXPECT_EQ(param("crop", "width")["required"], true);
  EXPECT_TRUE(param("crop", "width")["default"].is_null());
  EXPECT_EQ(param("rotate", "degrees")["choices"], json::array({90, 180, 270}));
  EXPECT_EQ(param("encode", "format")["choices"], json::array({"jpeg", "png"}));
  EXPECT_EQ(param("normalize", "alpha")["type"], "number");
  EXPECT_EQ(param("encode_jpeg", "quality")["maximum"], 100);

  EXPECT_EQ(kinds["decode_jpeg"]["input"], "jpeg_bytes");
  EXPECT_EQ(kinds["decode_jpeg"]["output"], "image");
  EXPECT_EQ(kinds["encode"]["output"], "encoded_bytes");
  EXPECT_EQ(kinds["detect"]["input"], "base64_text");
  EXPECT_EQ(kinds["detect"]["output"], "detection");
  EXPECT_EQ(kinds["detect"]["stage"], "detect");
}

// --- 2 -----------------------------------------------------------------------------------------

TEST(pipelines_api, created_pipeline_is_usable_at_once) {
  service_stack stack;
  auto created = create(stack, pipeline_body("gray-thumbnail", thumbnail_steps(128, 96),
                                             "gray 128x96 PNG thumbnails"));
  int id = id_of(created);
  ASSERT_GT(id, 1) << created; // pipeline 1 is the migrations' car-detection
  EXPECT_EQ(created["version"], 1);
  EXPECT_EQ(created["title"], "gray-thumbnail");
  EXPECT_EQ(created["description"], "gray 128x96 PNG thumbnails");
  ASSERT_EQ(created["steps"].size(), 4u) << created;
  EXPECT_EQ(created["steps"][0]["handler"], "decode_jpeg");
  EXPECT_EQ(created["steps"][3]["handler"], "encode");
  EXPECT_EQ(params_of_step(created, 2), (json{{"width", 128}, {"height", 96}}));

  // What GET answers is what POST answered.
  auto fetched = get(stack.url("/pipelines/" + std::to_string(id)));
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(parse_body(fetched), created);
  auto listed = parse_body(get(stack.url("/pipelines")));
  std::set<int> ids;
  for (const auto& p : listed["items"])
    ids.insert(id_of(p));
  std::set<int> expected{id};
  for (int seeded = 1; seeded <= seeded_pipeline_count; ++seeded)
    expected.insert(seeded);
  EXPECT_EQ(ids, expected) << listed;

  // No restart, no wait: the very next request runs it.
  auto response = run(stack, id, read_file(sample_photo_path()), "car.jpg");
  auto data = expect_encoded(response, "png");
  EXPECT_EQ(data["width"], 128);
  EXPECT_EQ(data["height"], 96);
  auto body = parse_body(response);
  EXPECT_EQ(body["pipeline_id"], id);
  EXPECT_EQ(body["filename"], "car.jpg");
  auto task_id = body["id"].get<std::int64_t>();

  auto task = get(stack.url("/tasks/" + std::to_string(task_id)));
  ASSERT_EQ(task.status, 200) << task.body;
  auto stored = parse_body(task);
  EXPECT_EQ(stored["pipeline_version"], 1) << task.body;
  EXPECT_EQ(stored["status"], "processed");
  EXPECT_EQ(stored["data"], body["data"]);

  EXPECT_EQ(execute(stack.dsn(), "SELECT pipeline_version || ' ' || status FROM tasks WHERE id = " +
                                     std::to_string(task_id)),
            "1 processed");
}

// --- 3 -----------------------------------------------------------------------------------------

TEST(pipelines_api, copy_and_edit_posts_a_fetched_pipeline_back) {
  service_stack stack;
  auto original = get(stack.url("/pipelines/1"));
  ASSERT_EQ(original.status, 200) << original.body;
  auto copy = parse_body(original);
  ASSERT_EQ(keys_of(copy), pipeline_keys) << original.body;
  ASSERT_FALSE(copy["steps"].empty());

  // id and version are sent back as they came: accepted and ignored.
  copy["title"] = "car-detection (copy)";
  auto created = create(stack, copy);
  int id = id_of(created);
  ASSERT_GT(id, 0) << created;
  EXPECT_NE(id, 1);
  EXPECT_EQ(created["version"], 1);
  EXPECT_EQ(created["title"], "car-detection (copy)");
  EXPECT_EQ(created["steps"], copy["steps"]);
  EXPECT_EQ(created["description"], copy["description"]);

  // The original is untouched.
  EXPECT_EQ(parse_body(get(stack.url("/pipelines/1"))), parse_body(original));
  EXPECT_EQ(query_number(stack.dsn(), sql_count("pipelines")), seeded_pipeline_count + 1);
}

// --- 4 -----------------------------------------------------------------------------------------

TEST(pipelines_api, sql_update_reaches_the_running_service_within_a_second) {
  // A cache that never expires during the test: only LISTEN/NOTIFY can carry the edit.
  service_stack stack{with_args({"--pipeline-cache-ms=3600000"})};
  int id = id_of(create(stack, pipeline_body("live-thumbnail", thumbnail_steps(128, 96))));
  ASSERT_GT(id, 0);
  auto image = make_jpeg(200, 150, 4);
  auto before = expect_encoded(run(stack, id, image), "png"); // loaded and cached now
  ASSERT_EQ(before["width"], 128);

  execute(stack.dsn(), "UPDATE pipeline_steps SET params = '{\"width\": 64, \"height\": 48}'"
                       " WHERE pipeline_id = " +
                           std::to_string(id) + " AND position = 3");
  auto committed = steady_clock::now();

  // Each request is the probe; nothing else tells the test the service has the change.
  const auto limit = milliseconds(1000);
  std::optional<milliseconds> latency;
  json last;
  int probes = 0;
  while (!latency && steady_clock::now() - committed < limit) {
    auto response = run(stack, id, image);
    ++probes;
    ASSERT_EQ(response.status, 200) << response.body;
    last = parse_body(response);
    if (last["data"]["width"] == 64) {
      latency = std::chrono::duration_cast<milliseconds>(steady_clock::now() - committed);
      EXPECT_EQ(last["data"]["height"], 48);
    } else {
      EXPECT_EQ(last["data"]["width"], 128) << "neither the old nor the new size: " << last;
      std::this_thread::sleep_for(milliseconds(5)); // a probe interval, not a synchronisation
    }
  }
  ASSERT_TRUE(latency) << "still the old size 1 s after the commit (" << probes
                       << " probes); last answer " << last;
  std::printf("[   INFO   ] SQL edit observed %lld ms after commit (%d probe(s))\n",
              static_cast<long long>(latency->count()), probes);
  RecordProperty("sql_edit_latency_ms", static_cast<int>(latency->count()));
  EXPECT_LE(*latency, limit);

  // The request that saw the change recorded version 2.
  auto task = parse_body(get(stack.url("/tasks/" + std::to_string(last["id"].get<long long>()))));
  EXPECT_EQ(task["pipeline_version"], 2) << task;

  auto now = get(stack.url("/pipelines/" + std::to_string(id)));
  ASSERT_EQ(now.status, 200) << now.body;
  auto current = parse_body(now);
  EXPECT_EQ(current["version"], 2) << now.body;
  EXPECT_EQ(params_of_step(current, 2), (json{{"width", 64}, {"height", 48}}));

  auto old = get(stack.url("/pipelines/" + std::to_string(id) + "/versions/1"));
  ASSERT_EQ(old.status, 200) << old.body;
  auto first = parse_body(old);
  EXPECT_EQ(first["version"], 1) << old.body;
  EXPECT_EQ(params_of_step(first, 2), (json{{"width", 128}, {"height", 96}})) << old.body;
  auto second = parse_body(get(stack.url("/pipelines/" + std::to_string(id) + "/versions/2")));
  EXPECT_EQ(second, current);
  expect_error(get(stack.url("/pipelines/" + std::to_string(id) + "/versions/3")), 404);
}

// --- 5 -----------------------------------------------------------------------------------------

TEST(pipelines_api, invalid_pipelines_are_refused_with_the_step_named) {
  service_stack stack;
  struct invalid_case {
    const char* name;
    json steps;
    std::vector<std::string> expected; ///< substrings of the detail
  };
  const std::vector<invalid_case> cases{
      {"unknown handler",
       json::array({step("decode_jpeg"), step("sharpen")}),
       {"step 2 (sharpen)", "unknown handler"}},
      {"missing required parameter",
       json::array({step("decode_jpeg"), step("crop", {{"height", 10}})}),
       {"step 2 (crop)", "'width'", "is required"}},
      {"wrong type",
       json::array({step("decode_jpeg"), step("resize", {{"width", "wide"}, {"height", 10}})}),
       {"step 2 (resize)", "'width'", "must be an integer"}},
      {"width 0",
       json::array({step("decode_jpeg"), step("resize", {{"width", 0}, {"height", 10}})}),
       {"step 2 (resize)", "parameter 'width' must be in"}},
      {"width 100000",
       json::array({step("decode_jpeg"), step("resize", {{"width", 100000}, {"height", 10}})}),
       {"step 2 (resize)", "parameter 'width' must be in"}},
      {"no steps", json::array(), {"no steps"}},
      {"resize before decode",
       json::array({step("resize", {{"width", 10}, {"height", 10}})}),
       {"step 1 (resize)", "takes image but the upload is jpeg_bytes"}},
      {"detect before encode",
       json::array({step("decode_jpeg"), step("detect")}),
       {"step 2 (detect)", "takes base64_text"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto detail =
        expect_error(call(stack, "POST", "/pipelines", pipeline_body(c.name, c.steps).dump()), 422);
    for (const auto& part : c.expected)
      EXPECT_NE(detail.find(part), std::string::npos) << "'" << part << "' not in: " << detail;
  }
  {
    SCOPED_TRACE("PUT with an invalid step");
    auto detail = expect_error(
        call(stack, "PUT", "/pipelines/1",
             pipeline_body(
                 "car-detection",
                 json::array({step("decode_jpeg"), step("resize", {{"width", 0}, {"height", 10}})}))
                 .dump()),
        422);
    EXPECT_NE(detail.find("step 2 (resize)"), std::string::npos) << detail;
  }
  {
    SCOPED_TRACE("malformed JSON");
    expect_error(call(stack, "POST", "/pipelines", R"({"title": "x", "steps": [)"), 400);
  }
  {
    SCOPED_TRACE("duplicate title");
    create(stack, pipeline_body("twice", thumbnail_steps(32, 32)));
    auto detail = expect_error(
        call(stack, "POST", "/pipelines", pipeline_body("twice", thumbnail_steps(16, 16)).dump()),
        409);
    EXPECT_NE(detail.find("twice"), std::string::npos) << detail;
  }
  // Nothing refused was stored, and pipeline 1 was not changed by the refused PUT.
  EXPECT_EQ(query_number(stack.dsn(), sql_count("pipelines")), seeded_pipeline_count + 1);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT version FROM pipelines WHERE id = 1"), 1);

  // A pipeline broken behind the API's back is refused when a request uses it.
  int id = id_of(create(stack, pipeline_body("broken-by-sql", thumbnail_steps(64, 48))));
  ASSERT_GT(id, 0);
  execute(stack.dsn(), "UPDATE pipeline_steps SET params = '{\"width\": 0, \"height\": 48}'"
                       " WHERE pipeline_id = " +
                           std::to_string(id) + " AND position = 3");
  // Never loaded before the edit, so the first request already reads the broken row.
  auto detail = expect_error(run(stack, id, make_jpeg(64, 64, 5)), 422);
  EXPECT_NE(detail.find("step 3 (resize)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("'width' must be in"), std::string::npos) << detail;
  EXPECT_EQ(query_number(stack.dsn(), sql_count("tasks WHERE pipeline_id = ") + std::to_string(id)),
            0);
  EXPECT_EQ(parse_body(get(stack.url("/tasks?pipeline_id=" + std::to_string(id))))["items"],
            json::array());
  expect_healthy(stack);
}

// --- 6 -----------------------------------------------------------------------------------------

TEST(pipelines_api, every_task_matches_the_version_it_recorded_under_concurrent_edits) {
  service_stack stack;
  // Version v resizes to (100 + v) x (80 + v): a task's size names the version that ran it.
  int id = id_of(create(stack, pipeline_body("edited-while-running", thumbnail_steps(101, 81))));
  ASSERT_GT(id, 0);
  const std::string path = "/pipelines/" + std::to_string(id);

  constexpr int total = 60; // requests at least
  constexpr int clients = 4;
  constexpr int edits = 8; // versions 2..9
  constexpr int final_width = 100 + edits + 1;
  constexpr int requests_per_edit = 6; // an edit after every few answers, spread over the run
  // An edit reaches the request path asynchronously (NOTIFY, or at worst the 1 s cache expiry),
  // and on a loaded machine 60 requests can all finish before it does. So the clients go on
  // until an answer shows the last version, and the test cannot pass without seeing edits
  // reach requests while they were being sent. Bounded by a deadline and a request cap.
  const auto give_up = steady_clock::now() + std::chrono::seconds(10);
  constexpr int max_requests = 1000;

  std::atomic<int> next{0};
  std::atomic<bool> edits_done{false};
  std::atomic<bool> final_seen{false};
  std::mutex mutex;
  std::condition_variable answered;
  int done = 0;
  std::vector<std::string> failures;
  std::map<std::int64_t, json> answers; // task id -> data answered

  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (int i = next++; i < max_requests; i = next++) {
        if (i >= total && edits_done && final_seen)
          break;
        if (i >= total && steady_clock::now() > give_up)
          break;
        std::string failure;
        std::int64_t task_id = 0;
        json data;
        try {
          auto response = run(stack, id, make_jpeg(160, 120, i), "c" + std::to_string(i) + ".jpg");
          auto body = json::parse(response.body, nullptr, false);
          if (response.status != 200 || body.is_discarded() || body["status"] != "processed")
            failure = std::to_string(response.status) + " " + response.body;
          else {
            task_id = body["id"].get<std::int64_t>();
            data = body["data"];
            if (edits_done && data["width"] == final_width)
              final_seen = true;
          }
        } catch (const std::exception& e) {
          failure = e.what();
        }
        std::lock_guard<std::mutex> lock{mutex};
        if (failure.empty())
          answers[task_id] = data;
        else
          failures.push_back(failure);
        ++done;
        answered.notify_all();
      }
    });

  std::vector<std::string> edit_failures;
  std::thread editor([&] {
    for (int version = 2; version <= edits + 1; ++version) {
      {
        std::unique_lock<std::mutex> lock{mutex};
        // Bounded: the clients answer within the request timeout or the test has failed anyway.
        answered.wait_for(lock, std::chrono::seconds(30),
                          [&] { return done >= (version - 1) * requests_per_edit; });
      }
      auto body =
          pipeline_body("edited-while-running", thumbnail_steps(100 + version, 80 + version));
      body["id"] = id; // as a client that edits a fetched pipeline would send it
      try {
        auto response = call(stack, "PUT", path, body.dump());
        auto answer = json::parse(response.body, nullptr, false);
        if (response.status != 200 || answer.is_discarded() || answer["version"] != version) {
          std::lock_guard<std::mutex> lock{mutex};
          edit_failures.push_back("PUT to version " + std::to_string(version) + ": " +
                                  std::to_string(response.status) + " " + response.body);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock{mutex};
        edit_failures.push_back(e.what());
      }
    }
    edits_done = true; // only now does an answer of the final size count
  });
  for (auto& t : threads)
    t.join();
  editor.join();

  ASSERT_TRUE(failures.empty()) << failures.size()
                                << " requests failed, first: " << failures.front();
  ASSERT_TRUE(edit_failures.empty()) << edit_failures.front();
  EXPECT_TRUE(final_seen) << "the last edit never reached a request";
  EXPECT_GE(answers.size(), static_cast<std::size_t>(total));

  // Every task against the snapshot of the version it recorded.
  pqxx::connection conn{stack.dsn()};
  pqxx::read_transaction txn{conn};
  auto rows =
      txn.exec_params("SELECT t.id, t.status, t.pipeline_version, t.data::text, v.steps::text"
                      " FROM tasks t LEFT JOIN pipeline_versions v"
                      "   ON v.pipeline_id = t.pipeline_id AND v.version = t.pipeline_version"
                      " WHERE t.pipeline_id = $1 ORDER BY t.id",
                      id);
  ASSERT_EQ(rows.size(), answers.size());
  std::map<int, int> tasks_per_version;
  for (const auto& row : rows) {
    auto task_id = row[0].as<std::int64_t>();
    SCOPED_TRACE("task " + std::to_string(task_id));
    EXPECT_EQ(row[1].as<std::string>(), "processed");
    ASSERT_FALSE(row[2].is_null()) << "no pipeline_version";
    int version = row[2].as<int>();
    ++tasks_per_version[version];
    ASSERT_FALSE(row[4].is_null()) << "no snapshot of version " << version;
    auto data = json::parse(row[3].as<std::string>());
    auto steps = json::parse(row[4].as<std::string>());
    ASSERT_EQ(steps.size(), 4u) << steps;
    ASSERT_EQ(steps[2]["handler"], "resize") << steps;
    EXPECT_EQ(data["width"], steps[2]["params"]["width"]) << "version " << version << ": " << data;
    EXPECT_EQ(data["height"], steps[2]["params"]["height"])
        << "version " << version << ": " << data;
    EXPECT_EQ(data["width"], 100 + version) << data;
    ASSERT_EQ(answers.count(task_id), 1u) << "a task no client was answered for";
    EXPECT_EQ(answers[task_id], data) << "answered differently from what was stored";
  }
  std::string spread;
  for (const auto& [version, count] : tasks_per_version)
    spread += " v" + std::to_string(version) + ":" + std::to_string(count);
  std::printf("[   INFO   ] %zu tasks per version:%s\n", rows.size(), spread.c_str());
  EXPECT_GE(tasks_per_version.size(), 2u) << spread;
  EXPECT_EQ(query_number(stack.dsn(), sql_count("tasks WHERE status = 'processing'")), 0);
  EXPECT_EQ(parse_body(get(stack.url(path)))["version"], edits + 1);
}

// --- 7 -----------------------------------------------------------------------------------------

TEST(pipelines_api, retired_pipeline_keeps_its_tasks) {
  service_stack stack;
  int id = id_of(create(stack, pipeline_body("to-retire", thumbnail_steps(48, 32))));
  ASSERT_GT(id, 0);
  const std::string path = "/pipelines/" + std::to_string(id);
  auto done = run(stack, id, make_jpeg(96, 64, 7));
  expect_encoded(done, "png");
  auto task_id = parse_body(done)["id"].get<std::int64_t>();

  auto deleted = call(stack, "DELETE", path);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(parse_body(deleted), (json{{"id", id}, {"status", "retired"}}));

  expect_error(get(stack.url(path)), 410);
  expect_error(call(stack, "PUT", path, pipeline_body("to-retire", thumbnail_steps(8, 8)).dump()),
               410);
  // The retirement reaches the request path by NOTIFY, like any edit: allowed up to 1 s.
  auto image = make_jpeg(96, 64, 8);
  auto deadline = steady_clock::now() + milliseconds(1000);
  http_response refused = run(stack, id, image);
  int stale = 0; // answers from the plan cached before the retirement reached it
  while (refused.status != 410 && steady_clock::now() < deadline) {
    ++stale;
    refused = run(stack, id, image);
  }
  expect_error(refused, 410);
  if (stale > 0)
    std::printf("[   INFO   ] %d request(s) still ran the retired pipeline before the 410\n",
                stale);

  auto history = get(stack.url("/tasks?pipeline_id=" + std::to_string(id)));
  ASSERT_EQ(history.status, 200) << history.body;
  std::set<std::int64_t> listed;
  // Kept in a variable: a range-for over a temporary's member would dangle.
  auto history_items = parse_body(history)["items"];
  for (const auto& task : history_items)
    listed.insert(task["id"].get<std::int64_t>());
  EXPECT_EQ(listed.count(task_id), 1u) << history.body;
  EXPECT_EQ(get(stack.url("/tasks/" + std::to_string(task_id))).status, 200);
  // Its versions stay readable, it is no longer listed, and its title is free again.
  EXPECT_EQ(get(stack.url(path + "/versions/1")).status, 200);
  auto active = parse_body(get(stack.url("/pipelines")))["items"];
  for (const auto& p : active)
    EXPECT_NE(id_of(p), id) << "a retired pipeline is listed";
  int again = id_of(create(stack, pipeline_body("to-retire", thumbnail_steps(48, 32))));
  EXPECT_GT(again, id);
  // Deleting it again changes nothing.
  auto twice = call(stack, "DELETE", path);
  ASSERT_EQ(twice.status, 200) << twice.body;
  EXPECT_EQ(parse_body(twice)["status"], "retired");

  // Without tasks, a pipeline is deleted outright.
  int unused = id_of(create(stack, pipeline_body("never-used", thumbnail_steps(48, 32))));
  ASSERT_GT(unused, 0);
  auto gone = call(stack, "DELETE", "/pipelines/" + std::to_string(unused));
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(parse_body(gone), (json{{"id", unused}, {"status", "deleted"}}));
  expect_error(get(stack.url("/pipelines/" + std::to_string(unused))), 404);
  expect_error(call(stack, "DELETE", "/pipelines/" + std::to_string(unused)), 404);
  EXPECT_EQ(
      query_number(stack.dsn(), "SELECT count(*) FROM pipeline_versions WHERE pipeline_id = " +
                                    std::to_string(unused)),
      0);
}

// --- 8 -----------------------------------------------------------------------------------------

TEST(pipelines_api, task_history_pages_newest_first_and_filters) {
  service_stack stack;
  int id = id_of(create(stack, pipeline_body("history", thumbnail_steps(32, 24))));
  ASSERT_GT(id, 0);
  // Six processed tasks and one failed one (a JPEG whose data does not decode).
  for (int i = 0; i < 6; ++i)
    expect_encoded(run(stack, id, make_jpeg(64, 48, i), "h" + std::to_string(i) + ".jpg"), "png");
  expect_error(run(stack, id, make_undecodable_jpeg(64, 48, 9), "bad.jpg"), 422);

  std::vector<std::int64_t> expected; // newest first, from the table itself
  {
    pqxx::connection conn{stack.dsn()};
    pqxx::read_transaction txn{conn};
    for (const auto& row :
         txn.exec_params("SELECT id FROM tasks WHERE pipeline_id = $1 ORDER BY id DESC", id))
      expected.push_back(row[0].as<std::int64_t>());
  }
  ASSERT_EQ(expected.size(), 7u);

  const std::string base = "/tasks?pipeline_id=" + std::to_string(id) + "&limit=3";
  std::vector<std::int64_t> paged;
  std::vector<std::size_t> page_sizes;
  std::string query = base;
  for (int page = 0; page < 10; ++page) { // 3 pages expected; the bound stops a runaway cursor
    auto response = get(stack.url(query));
    ASSERT_EQ(response.status, 200) << response.body;
    auto body = parse_body(response);
    ASSERT_EQ(keys_of(body), (std::set<std::string>{"items", "next_after_id"})) << response.body;
    page_sizes.push_back(body["items"].size());
    for (const auto& task : body["items"]) {
      EXPECT_EQ(task["pipeline_id"], id);
      EXPECT_EQ(task["pipeline_version"], 1) << task;
      EXPECT_TRUE(task.contains("created_at")) << task;
      paged.push_back(task["id"].get<std::int64_t>());
    }
    if (body["next_after_id"].is_null())
      break;
    ASSERT_TRUE(body["next_after_id"].is_number_integer()) << response.body;
    EXPECT_EQ(body["next_after_id"], paged.back());
    query = base + "&after_id=" + std::to_string(body["next_after_id"].get<std::int64_t>());
  }
  EXPECT_EQ(paged, expected) << "pages must be newest first, without duplicates or gaps";
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));

  auto failed =
      parse_body(get(stack.url("/tasks?status=failed&pipeline_id=" + std::to_string(id))))["items"];
  ASSERT_EQ(failed.size(), 1u) << failed;
  EXPECT_EQ(failed[0]["filename"], "bad.jpg");
  EXPECT_EQ(failed[0]["id"], expected.front());
  EXPECT_TRUE(failed[0].contains("error")) << failed;
  auto processed = parse_body(get(stack.url("/tasks?status=processed")))["items"];
  EXPECT_EQ(processed.size(), 6u) << processed;
  for (const auto& task : processed)
    EXPECT_EQ(task["status"], "processed");
  EXPECT_EQ(parse_body(get(stack.url("/tasks?status=detected")))["items"], json::array());

  for (const char* bad : {"/tasks?limit=0", "/tasks?limit=1000", "/tasks?limit=abc",
                          "/tasks?after_id=0", "/tasks?status=bogus", "/tasks?pipeline_id=-1"}) {
    SCOPED_TRACE(bad);
    expect_error(get(stack.url(bad)), 400);
  }
}

// --- 9 -----------------------------------------------------------------------------------------

TEST(pipelines_api, admin_token_guards_changes_but_not_reads) {
  service_stack stack{with_args({"--admin-token=s3cret"})};
  const auto body = pipeline_body("guarded", thumbnail_steps(32, 32)).dump();
  {
    SCOPED_TRACE("no token");
    expect_error(call(stack, "POST", "/pipelines", body), 401);
  }
  {
    SCOPED_TRACE("wrong token");
    expect_error(call(stack, "POST", "/pipelines", body, "wrong"), 401);
    expect_error(call(stack, "POST", "/pipelines", body, "s3cre"), 401);
    expect_error(call(stack, "POST", "/pipelines", body, "s3cret2"), 401);
  }
  {
    SCOPED_TRACE("not a bearer token");
    expect_error(send_request("POST", stack.url("/pipelines"), body, {"Authorization: s3cret"}),
                 401);
  }
  EXPECT_EQ(query_number(stack.dsn(), sql_count("pipelines")), seeded_pipeline_count)
      << "a refused POST stored";

  int id = id_of(create(stack, json::parse(body), "s3cret"));
  ASSERT_GT(id, 0);
  const std::string path = "/pipelines/" + std::to_string(id);
  expect_error(call(stack, "PUT", path, body), 401);
  expect_error(call(stack, "DELETE", path), 401);
  // The token is checked before anything about the request, even a malformed id.
  expect_error(call(stack, "PUT", "/pipelines/abc", body), 401);
  {
    SCOPED_TRACE("the scheme name is case-insensitive (RFC 7235), the token is not");
    auto renamed = pipeline_body("guarded-lowercase", thumbnail_steps(32, 32)).dump();
    auto put = send_request("PUT", stack.url(path), renamed, {"Authorization: bearer s3cret"});
    EXPECT_EQ(put.status, 200) << put.body;
    expect_error(send_request("PUT", stack.url(path), renamed, {"Authorization: bearer S3CRET"}),
                 401);
  }
  EXPECT_EQ(get(stack.url(path)).status, 200) << "a refused DELETE removed the pipeline";

  // Reads stay open.
  for (const std::string& read : {std::string{"/pipelines"}, path, path + "/versions/1",
                                  std::string{"/steps"}, std::string{"/tasks"}}) {
    SCOPED_TRACE(read);
    EXPECT_EQ(get(stack.url(read)).status, 200);
  }
  auto replaced = call(stack, "PUT", path, body, "s3cret");
  EXPECT_EQ(replaced.status, 200) << replaced.body;
  auto deleted = call(stack, "DELETE", path, "", "s3cret");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
}

} // namespace
} // namespace imgproc::testing::e2e
