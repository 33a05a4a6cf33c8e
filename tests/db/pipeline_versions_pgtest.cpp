// Pipeline versions: the triggers of migration 3 and the repository's write functions.
#include "db/migrations.hpp"
#include "db/pipeline_repository.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <thread>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;
using nlohmann::json;

pipeline_draft resize_only(std::string title = "resize-only", int width = 320) {
  return {std::move(title),
          "decode and shrink",
          {{"decode_jpeg", json::object()},
           {"resize", {{"width", width}, {"height", width}}},
           {"encode_jpeg", {{"quality", 80}}}}};
}

// Steps of a record in the snapshot's shape, for comparing with pipeline_versions.steps.
json as_snapshot(const std::vector<step_record>& steps) {
  json out = json::array();
  for (const auto& step : steps)
    out.push_back({{"handler", step.handler}, {"params", step.params}});
  return out;
}

json as_snapshot(const std::vector<step_draft>& steps) {
  json out = json::array();
  for (const auto& step : steps)
    out.push_back({{"handler", step.handler}, {"params", step.params}});
  return out;
}

class pipeline_versions : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = std::make_unique<pqxx::connection>(db_.dsn());
    apply_migrations(*conn_);
    prepare_pipeline_statements(*conn_);
    prepare_task_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

  int current_version(int id) {
    return pqxx::nontransaction{conn()}
        .exec_params1("SELECT version FROM pipelines WHERE id = $1", id)[0]
        .as<int>();
  }

  int version_count(int id) {
    return pqxx::nontransaction{conn()}
        .exec_params1("SELECT count(*) FROM pipeline_versions WHERE pipeline_id = $1", id)[0]
        .as<int>();
  }

  json snapshot_steps(int id, int version) {
    const auto rows = pqxx::nontransaction{conn()}.exec_params(
        "SELECT steps::text FROM pipeline_versions WHERE pipeline_id = $1 AND version = $2", id,
        version);
    return rows.empty() ? json() : json::parse(rows[0][0].c_str());
  }

  void exec(const std::string& sql) {
    pqxx::work txn{conn()};
    txn.exec(sql);
    txn.commit();
  }

  scratch_database db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(pipeline_versions, migration_gives_existing_pipelines_version_1_with_a_snapshot) {
  const auto pipeline = find_pipeline(conn(), 1);
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(pipeline->version, 1);
  EXPECT_EQ(pipeline->description, "");
  EXPECT_FALSE(pipeline->retired);
  EXPECT_EQ(version_count(1), 1);
  EXPECT_EQ(snapshot_steps(1, 1), as_snapshot(pipeline->steps));

  const auto v1 = find_pipeline_version(conn(), 1, 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->title, "car-detection");
  EXPECT_EQ(v1->version, 1);
  ASSERT_EQ(v1->steps.size(), 6u);
  for (std::size_t i = 0; i < v1->steps.size(); ++i) {
    EXPECT_EQ(v1->steps[i].position, pipeline->steps[i].position);
    EXPECT_EQ(v1->steps[i].handler, pipeline->steps[i].handler);
    EXPECT_EQ(v1->steps[i].title, pipeline->steps[i].title);
    EXPECT_EQ(v1->steps[i].params, pipeline->steps[i].params);
  }
  EXPECT_FALSE(find_pipeline_version(conn(), 1, 2));
  EXPECT_FALSE(find_pipeline_version(conn(), 99, 1));
}

TEST_F(pipeline_versions, create_stores_version_1_with_its_snapshot) {
  const auto draft = resize_only();
  const auto created = create_pipeline(conn(), draft);
  EXPECT_GT(created.id, 1);
  EXPECT_EQ(created.title, "resize-only");
  EXPECT_EQ(created.description, "decode and shrink");
  EXPECT_EQ(created.version, 1);
  EXPECT_FALSE(created.retired);
  ASSERT_EQ(created.steps.size(), 3u);
  EXPECT_EQ(created.steps[1].position, 2);
  EXPECT_EQ(created.steps[1].title, "Resize");
  EXPECT_EQ(as_snapshot(created.steps), as_snapshot(draft.steps));

  EXPECT_EQ(current_version(created.id), 1);
  EXPECT_EQ(version_count(created.id), 1);
  EXPECT_EQ(snapshot_steps(created.id, 1), as_snapshot(draft.steps));
  const auto found = find_pipeline(conn(), created.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(as_snapshot(found->steps), as_snapshot(draft.steps));
}

TEST_F(pipeline_versions, create_with_null_params_and_no_steps) {
  const auto empty = create_pipeline(conn(), {"empty", "", {}});
  EXPECT_TRUE(empty.steps.empty());
  EXPECT_EQ(snapshot_steps(empty.id, 1), json::array());

  const auto null_params = create_pipeline(conn(), {"base64", "", {{"base64", nullptr}}});
  ASSERT_EQ(null_params.steps.size(), 1u);
  EXPECT_EQ(null_params.steps[0].params, json::object());

  EXPECT_THROW(create_pipeline(conn(), {"bad", "", {{"resize", json::array({1})}}}),
               std::invalid_argument);
  EXPECT_THROW(create_pipeline(conn(), {std::string("a\0b", 3), "", {}}), std::invalid_argument);
}

TEST_F(pipeline_versions, create_adds_a_step_kind_the_registry_knows_but_the_table_does_not) {
  const auto created =
      create_pipeline(conn(), {"sharpen", "", {{"decode_jpeg", {}}, {"sharpen", {{"amount", 2}}}}});
  ASSERT_EQ(created.steps.size(), 2u);
  EXPECT_EQ(created.steps[1].handler, "sharpen");
  EXPECT_EQ(created.steps[1].title, "sharpen");
  EXPECT_EQ(pqxx::nontransaction{conn()}
                .exec("SELECT count(*) FROM step_kinds WHERE handler = 'sharpen'")[0][0]
                .as<int>(),
            1);
  // A second pipeline reuses the kind.
  create_pipeline(conn(), {"sharpen-2", "", {{"sharpen", {}}, {"sharpen", {}}}});
  EXPECT_EQ(pqxx::nontransaction{conn()}
                .exec("SELECT count(*) FROM step_kinds WHERE handler = 'sharpen'")[0][0]
                .as<int>(),
            1);
}

TEST_F(pipeline_versions, unknown_handler_when_the_kind_cannot_be_added) {
  // The title "blur" is taken by a kind with another handler, so no kind "blur" can be added.
  exec("INSERT INTO step_kinds (title, handler) VALUES ('blur', 'box_blur')");
  try {
    create_pipeline(conn(), {"blurry", "", {{"decode_jpeg", {}}, {"blur", {}}}});
    FAIL() << "expected unknown_handler";
  } catch (const unknown_handler& e) {
    EXPECT_EQ(e.handler(), "blur");
    EXPECT_NE(std::string(e.what()).find("'blur'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(list_pipelines(conn()).size(), std::size_t{imgproc::testing::seeded_pipeline_count})
      << "nothing stored";
}

TEST_F(pipeline_versions, duplicate_active_title_is_a_conflict_and_stores_nothing) {
  EXPECT_THROW(create_pipeline(conn(), resize_only("car-detection")), pipeline_conflict);
  EXPECT_EQ(list_pipelines(conn()).size(), std::size_t{imgproc::testing::seeded_pipeline_count});

  const auto other = create_pipeline(conn(), resize_only());
  EXPECT_THROW(replace_pipeline(conn(), other.id, resize_only("car-detection")), pipeline_conflict);
  EXPECT_EQ(current_version(other.id), 1);
  EXPECT_EQ(find_pipeline(conn(), other.id)->steps.size(), 3u) << "steps not deleted";
}

TEST_F(pipeline_versions, replace_makes_version_2_and_keeps_version_1) {
  const auto before = find_pipeline(conn(), 1);
  pipeline_draft draft = resize_only("car-detection-small", 224);
  draft.steps.push_back({"detect", {{"min_confidence", 0.5}}});

  const auto replaced = replace_pipeline(conn(), 1, draft);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->version, 2);
  EXPECT_EQ(replaced->title, "car-detection-small");
  EXPECT_EQ(replaced->description, "decode and shrink");
  EXPECT_EQ(as_snapshot(replaced->steps), as_snapshot(draft.steps));

  EXPECT_EQ(current_version(1), 2);
  EXPECT_EQ(version_count(1), 2);
  EXPECT_EQ(snapshot_steps(1, 2), as_snapshot(draft.steps));
  EXPECT_EQ(snapshot_steps(1, 1), as_snapshot(before->steps));
  const auto v1 = find_pipeline_version(conn(), 1, 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->title, "car-detection");
  EXPECT_EQ(v1->steps.size(), 6u);
  const auto v2 = find_pipeline_version(conn(), 1, 2);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->title, "car-detection-small");
  EXPECT_EQ(v2->description, "decode and shrink");
  EXPECT_EQ(as_snapshot(v2->steps), as_snapshot(draft.steps));

  EXPECT_FALSE(replace_pipeline(conn(), 4242, draft));
}

TEST_F(pipeline_versions, plain_sql_update_of_one_step_bumps_once_and_snapshots) {
  exec("UPDATE pipeline_steps SET params = '{\"width\": 320, \"height\": 320}'"
       " WHERE pipeline_id = 1 AND position = 2");
  EXPECT_EQ(current_version(1), 2);
  EXPECT_EQ(version_count(1), 2);
  EXPECT_EQ(snapshot_steps(1, 2)[1],
            (json{{"handler", "resize"}, {"params", {{"width", 320}, {"height", 320}}}}));
  EXPECT_EQ(snapshot_steps(1, 1)[1]["params"]["width"], 640) << "version 1 unchanged";
  EXPECT_EQ(find_pipeline(conn(), 1)->version, 2);
}

TEST_F(pipeline_versions, one_transaction_touching_several_steps_and_the_title_bumps_once) {
  {
    pqxx::work txn{conn()};
    txn.exec("UPDATE pipeline_steps SET params = '{\"quality\": 50}'"
             " WHERE pipeline_id = 1 AND position = 4");
    txn.exec("UPDATE pipeline_steps SET params = '{\"alpha\": 10, \"beta\": 200}'"
             " WHERE pipeline_id = 1 AND position = 3");
    txn.exec("UPDATE pipelines SET title = 'cars', description = 'edited' WHERE id = 1");
    txn.exec("DELETE FROM pipeline_steps WHERE pipeline_id = 1 AND position = 6");
    txn.commit();
  }
  EXPECT_EQ(current_version(1), 2);
  EXPECT_EQ(version_count(1), 2);
  const auto v2 = find_pipeline_version(conn(), 1, 2);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->title, "cars");
  EXPECT_EQ(v2->description, "edited");
  // The snapshot is the state at commit, including changes after the first bump.
  ASSERT_EQ(v2->steps.size(), 5u);
  EXPECT_EQ(v2->steps[2].params, (json{{"alpha", 10}, {"beta", 200}}));
  EXPECT_EQ(v2->steps[3].params, (json{{"quality", 50}}));

  // A multi-row statement is one change too.
  exec("UPDATE pipeline_steps SET params = params || '{\"x\": 1}' WHERE pipeline_id = 1");
  EXPECT_EQ(current_version(1), 3);
  EXPECT_EQ(version_count(1), 3);
}

TEST_F(pipeline_versions, concurrent_editors_get_consecutive_versions_with_complete_snapshots) {
  pqxx::connection other_conn{db_.dsn()};
  pqxx::work first{conn()};
  first.exec("UPDATE pipeline_steps SET params = '{\"quality\": 10}'"
             " WHERE pipeline_id = 1 AND position = 4");
  // The second editor changes another step; its version bump waits for the first's row lock.
  std::thread second([&] {
    pqxx::work txn{other_conn};
    txn.exec("UPDATE pipeline_steps SET params = '{\"alpha\": 1, \"beta\": 2}'"
             " WHERE pipeline_id = 1 AND position = 3");
    txn.commit();
  });
  first.commit();
  second.join();

  EXPECT_EQ(current_version(1), 3);
  EXPECT_EQ(version_count(1), 3);
  const auto v2 = snapshot_steps(1, 2);
  const auto v3 = snapshot_steps(1, 3);
  EXPECT_EQ(v2[3]["params"], (json{{"quality", 10}}));
  EXPECT_EQ(v2[2]["params"], (json{{"alpha", 0}, {"beta", 255}})) << "not yet the second edit";
  EXPECT_EQ(v3[3]["params"], (json{{"quality", 10}})) << "keeps the first edit";
  EXPECT_EQ(v3[2]["params"], (json{{"alpha", 1}, {"beta", 2}}));
}

TEST_F(pipeline_versions, no_op_updates_and_rollbacks_leave_the_version_alone) {
  exec("UPDATE pipeline_steps SET params = params WHERE pipeline_id = 1");
  exec("UPDATE pipelines SET title = title WHERE id = 1");
  {
    pqxx::work txn{conn()};
    txn.exec("UPDATE pipeline_steps SET params = '{}' WHERE pipeline_id = 1 AND position = 2");
    // No commit: rolled back.
  }
  EXPECT_EQ(current_version(1), 1);
  EXPECT_EQ(version_count(1), 1);
}

TEST_F(pipeline_versions, pipeline_inserted_with_steps_by_plain_sql_is_version_1) {
  int id = 0;
  {
    pqxx::work txn{conn()};
    id = txn.exec("INSERT INTO pipelines (title) VALUES ('sql-made') RETURNING id")[0][0].as<int>();
    txn.exec_params("INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)"
                    " SELECT $1, 1, id, '{\"quality\": 70}' FROM step_kinds"
                    " WHERE handler = 'encode_jpeg'",
                    id);
    txn.exec_params("UPDATE pipelines SET description = 'made by hand' WHERE id = $1", id);
    txn.commit();
  }
  EXPECT_EQ(current_version(id), 1);
  EXPECT_EQ(version_count(id), 1);
  EXPECT_EQ(snapshot_steps(id, 1),
            json::parse(R"([{"handler": "encode_jpeg", "params": {"quality": 70}}])"));
  EXPECT_EQ(find_pipeline_version(conn(), id, 1)->description, "made by hand");
}

TEST_F(pipeline_versions, remove_with_tasks_retires_and_keeps_history) {
  const auto created = create_pipeline(conn(), resize_only());
  const auto task = create_task(conn(), created.id, created.version, "a.jpg");

  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::retired);

  const auto found = find_pipeline(conn(), created.id);
  ASSERT_TRUE(found) << "retired pipelines are still found, for 410";
  EXPECT_TRUE(found->retired);
  EXPECT_EQ(found->steps.size(), 3u);
  EXPECT_EQ(found->version, 2) << "retiring is a change";
  const auto kept = find_task(conn(), task);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->pipeline_id, created.id);
  EXPECT_EQ(kept->pipeline_version, 1);
  EXPECT_EQ(version_count(created.id), 2);
  EXPECT_TRUE(find_pipeline_version(conn(), created.id, 1)->retired) << "retired now";

  for (const auto& p : list_pipelines(conn()))
    EXPECT_NE(p.id, created.id) << "list_pipelines shows active pipelines only";
  EXPECT_FALSE(replace_pipeline(conn(), created.id, resize_only()));
  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::retired);
  EXPECT_EQ(current_version(created.id), 2) << "removing again changes nothing";
}

TEST_F(pipeline_versions, retired_pipeline_without_tasks_is_deleted) {
  const auto created = create_pipeline(conn(), resize_only());
  exec("UPDATE pipelines SET retired_at = now() WHERE id = " + std::to_string(created.id));
  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::deleted);
  EXPECT_FALSE(find_pipeline(conn(), created.id));
}

TEST_F(pipeline_versions, remove_without_tasks_deletes_steps_versions_and_row) {
  const auto created = create_pipeline(conn(), resize_only());
  ASSERT_TRUE(replace_pipeline(conn(), created.id, resize_only("resize-only", 100)));
  ASSERT_EQ(version_count(created.id), 2);

  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::deleted);
  EXPECT_FALSE(find_pipeline(conn(), created.id));
  EXPECT_FALSE(find_pipeline_version(conn(), created.id, 1));
  EXPECT_EQ(version_count(created.id), 0);
  EXPECT_EQ(
      pqxx::nontransaction{conn()}
          .exec_params1("SELECT count(*) FROM pipeline_steps WHERE pipeline_id = $1", created.id)[0]
          .as<int>(),
      0);
  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::not_found);
  EXPECT_EQ(remove_pipeline(conn(), 4242), removal::not_found);
}

TEST_F(pipeline_versions, retired_title_can_be_reused) {
  ASSERT_TRUE(create_task(conn(), 1, 1, "old.jpg"));
  ASSERT_EQ(remove_pipeline(conn(), 1), removal::retired);

  const auto reborn = create_pipeline(conn(), resize_only("car-detection"));
  EXPECT_NE(reborn.id, 1);
  EXPECT_EQ(reborn.version, 1);
  EXPECT_FALSE(reborn.retired);
  // Listed after the other seeded pipelines, in place of the retired one.
  const auto listed = list_pipelines(conn());
  ASSERT_EQ(listed.size(), std::size_t{imgproc::testing::seeded_pipeline_count});
  EXPECT_EQ(listed.back().id, reborn.id);
  EXPECT_TRUE(find_pipeline(conn(), 1)->retired);
  // ...but only once while it is active.
  EXPECT_THROW(create_pipeline(conn(), resize_only("car-detection")), pipeline_conflict);
}

TEST_F(pipeline_versions, tasks_record_the_version_they_ran) {
  exec("UPDATE pipeline_steps SET params = '{\"quality\": 60}' WHERE pipeline_id = 1"
       " AND position = 4");
  const auto pipeline = find_pipeline(conn(), 1);
  const auto id = create_task(conn(), pipeline->id, pipeline->version, "car.jpg");
  EXPECT_EQ(find_task(conn(), id)->pipeline_version, 2);
  EXPECT_EQ(find_task(conn(), create_task(conn(), 1, "legacy.jpg"))->pipeline_version,
            std::nullopt);
  EXPECT_THROW(create_task(conn(), 1, 3, "future.jpg"), pqxx::foreign_key_violation);
}

// Collects NOTIFY pipeline_changed payloads on a connection of its own.
class notification_log : public pqxx::notification_receiver {
public:
  explicit notification_log(pqxx::connection& conn)
      : pqxx::notification_receiver(conn, "pipeline_changed"), conn_(conn) {}
  void operator()(const std::string& payload, int) override { payloads_.push_back(payload); }

  // Everything that arrives before a marker sent after the change: notifications from distinct
  // transactions arrive in commit order, so this is exactly what the change sent.
  std::vector<std::string> drain(pqxx::connection& sender) {
    pqxx::nontransaction{sender}.exec("NOTIFY pipeline_changed, 'marker'");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::find(payloads_.begin(), payloads_.end(), "marker") == payloads_.end() &&
           std::chrono::steady_clock::now() < deadline)
      conn_.await_notification(0, 100000);
    auto out = std::move(payloads_);
    payloads_.clear();
    EXPECT_FALSE(out.empty()) << "the marker did not arrive";
    if (!out.empty())
      out.pop_back();
    return out;
  }

private:
  pqxx::connection& conn_;
  std::vector<std::string> payloads_;
};

TEST_F(pipeline_versions, every_committed_change_notifies_once_with_the_id) {
  pqxx::connection listen_conn{db_.dsn()};
  notification_log log{listen_conn};
  using payloads = std::vector<std::string>;

  const auto created = create_pipeline(conn(), resize_only());
  const auto id = std::to_string(created.id);
  EXPECT_EQ(log.drain(conn()), payloads{id}) << "create";

  ASSERT_TRUE(replace_pipeline(conn(), created.id, resize_only("renamed")));
  EXPECT_EQ(log.drain(conn()), payloads{id}) << "replace";

  {
    pqxx::work txn{conn()};
    txn.exec("UPDATE pipeline_steps SET params = '{}' WHERE pipeline_id = " + id);
    txn.exec("UPDATE pipelines SET description = 'x' WHERE id = " + id);
    txn.commit();
  }
  EXPECT_EQ(log.drain(conn()), payloads{id}) << "several statements, one transaction";

  {
    pqxx::work txn{conn()};
    txn.exec("UPDATE pipeline_steps SET params = '{\"quality\": 1}' WHERE pipeline_id = 1");
  }
  EXPECT_EQ(log.drain(conn()), payloads{}) << "rolled back";

  exec("UPDATE step_kinds SET title = 'Resize it' WHERE handler = 'resize'");
  EXPECT_EQ(log.drain(conn()), payloads{}) << "a step kind's title is not part of a pipeline";
  exec("UPDATE step_kinds SET handler = 'resize2' WHERE handler = 'resize'");
  auto renamed = log.drain(conn());
  std::sort(renamed.begin(), renamed.end());
  EXPECT_EQ(renamed, (payloads{"1", id})) << "renaming a handler changes its users";
  EXPECT_EQ(current_version(1), 2);

  EXPECT_EQ(remove_pipeline(conn(), created.id), removal::deleted);
  EXPECT_EQ(log.drain(conn()), payloads{id}) << "delete";
}

TEST_F(pipeline_versions, concurrent_replaces_of_one_pipeline_apply_one_after_the_other) {
  const auto created = create_pipeline(conn(), resize_only("contended", 100));
  // Hold the pipeline row so that both replaces are in flight at once.
  pqxx::connection holder_conn{db_.dsn()};
  pqxx::work holder{holder_conn};
  holder.exec_params("SELECT 1 FROM pipelines WHERE id = $1 FOR UPDATE", created.id);

  std::vector<std::string> errors(2);
  auto replace_with = [&](int index, pipeline_draft draft) {
    try {
      pqxx::connection own{db_.dsn()};
      prepare_pipeline_statements(own);
      replace_pipeline(own, created.id, draft);
    } catch (const std::exception& e) {
      errors[index] = e.what();
    }
  };
  pipeline_draft two_steps = resize_only("contended", 200);
  two_steps.steps.pop_back();
  std::thread first(replace_with, 0, two_steps);
  std::thread second(replace_with, 1, resize_only("contended", 300));
  // Readiness: both sessions wait on a lock (bounded poll of pg_stat_activity).
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up &&
         pqxx::nontransaction{conn()}
                 .exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0][0]
                 .as<int>() < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  holder.commit();
  first.join();
  second.join();

  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(current_version(created.id), 3);
  // The stored steps are exactly one draft's, never a mix of both.
  const auto stored = find_pipeline(conn(), created.id);
  ASSERT_TRUE(stored);
  const auto width = stored->steps.at(1).params["width"].get<int>();
  ASSERT_TRUE(width == 200 || width == 300) << width;
  EXPECT_EQ(stored->steps.size(), width == 200 ? 2u : 3u);
  EXPECT_EQ(as_snapshot(stored->steps), snapshot_steps(created.id, 3));
}

TEST_F(pipeline_versions, no_task_starts_on_a_retired_pipeline) {
  const auto created = create_pipeline(conn(), resize_only("short-lived"));
  create_task(conn(), created.id, created.version, "a.jpg");
  ASSERT_EQ(remove_pipeline(conn(), created.id), removal::retired);
  EXPECT_THROW(create_task(conn(), created.id, created.version, "b.jpg"), pipeline_gone);
}

} // namespace
