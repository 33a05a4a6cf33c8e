#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;

class task_repository : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = std::make_unique<pqxx::connection>(db_.dsn());
    // Whatever PGAPPNAME says: tasks made on conn() have no owner unless a test sets one.
    set_application_name(*conn_, "");
    apply_migrations(*conn_);
    prepare_task_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

  /// A new session on the test database named `application_name`, ready to create tasks, as a
  /// gateway instance's connection would be.
  std::unique_ptr<pqxx::connection> connect_as(const std::string& application_name) {
    auto conn = std::make_unique<pqxx::connection>(db_.dsn());
    set_application_name(*conn, application_name);
    prepare_task_statements(*conn);
    return conn;
  }

  scratch_database db_;
  std::unique_ptr<pqxx::connection> conn_;
};

const std::regex iso_utc{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"};

TEST_F(task_repository, create_then_find_is_processing) {
  const auto id = create_task(conn(), 1, "car.jpg");
  EXPECT_GT(id, 0);
  const auto task = find_task(conn(), id);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->id, id);
  EXPECT_EQ(task->pipeline_id, 1);
  EXPECT_EQ(task->status, "processing");
  EXPECT_EQ(task->filename, "car.jpg");
  EXPECT_TRUE(task->data.is_null());
  EXPECT_FALSE(task->error);
  EXPECT_TRUE(std::regex_match(task->created_at, iso_utc)) << task->created_at;
  EXPECT_FALSE(task->finished_at);
}

TEST_F(task_repository, ids_increase) {
  const auto a = create_task(conn(), 1, "a.jpg");
  const auto b = create_task(conn(), 1, "b.jpg");
  EXPECT_LT(a, b);
}

TEST_F(task_repository, timestamps_are_utc_whatever_the_session_time_zone) {
  pqxx::nontransaction{conn()}.exec("SET TIME ZONE 'Asia/Kathmandu'"); // +05:45
  const auto id = create_task(conn(), 1, "tz.jpg");
  const auto task = find_task(conn(), id);
  ASSERT_TRUE(task);
  const auto utc_now =
      pqxx::nontransaction{conn()}
          .exec("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')")[0][0]
          .as<std::string>();
  EXPECT_EQ(task->created_at.substr(0, 13), utc_now);
}

TEST_F(task_repository, finish_records_status_and_data) {
  const auto id = create_task(conn(), 1, "car.jpg");
  const nlohmann::json data = {{"objects", {{{"label", "car"}, {"score", 0.93}}}}};
  EXPECT_TRUE(finish_task(conn(), id, "detected", data));
  const auto task = find_task(conn(), id);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->status, "detected");
  EXPECT_EQ(task->data, data);
  EXPECT_FALSE(task->error);
  ASSERT_TRUE(task->finished_at);
  EXPECT_TRUE(std::regex_match(*task->finished_at, iso_utc)) << *task->finished_at;
  EXPECT_GE(*task->finished_at, task->created_at);
}

TEST_F(task_repository, finish_undetected) {
  const auto id = create_task(conn(), 1, "empty-road.jpg");
  EXPECT_TRUE(finish_task(conn(), id, "undetected", nlohmann::json::object()));
  EXPECT_EQ(find_task(conn(), id)->status, "undetected");
  EXPECT_EQ(find_task(conn(), id)->data, nlohmann::json::object());
}

TEST_F(task_repository, finish_processed_for_pipelines_that_end_with_an_image) {
  const auto id = create_task(conn(), 1, 1, "car.jpg");
  const nlohmann::json data = {{"image", "aGVsbG8="}, {"width", 320}};
  EXPECT_TRUE(finish_task(conn(), id, "processed", data));
  const auto task = find_task(conn(), id);
  EXPECT_EQ(task->status, "processed");
  EXPECT_EQ(task->data, data);
  EXPECT_EQ(task->pipeline_version, 1);
}

TEST_F(task_repository, finish_rejects_other_statuses) {
  const auto id = create_task(conn(), 1, "car.jpg");
  EXPECT_THROW(finish_task(conn(), id, "failed", {}), std::invalid_argument);
  EXPECT_THROW(finish_task(conn(), id, "processing", {}), std::invalid_argument);
  EXPECT_EQ(find_task(conn(), id)->status, "processing");
}

TEST_F(task_repository, fail_records_error_and_finish_time) {
  const auto id = create_task(conn(), 1, "broken.jpg");
  EXPECT_TRUE(fail_task(conn(), id, "not a JPEG"));
  const auto task = find_task(conn(), id);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->status, "failed");
  EXPECT_EQ(task->error, "not a JPEG");
  EXPECT_TRUE(task->data.is_null());
  EXPECT_TRUE(task->finished_at);
}

TEST_F(task_repository, finished_task_is_not_changed_again) {
  const auto id = create_task(conn(), 1, "car.jpg");
  const nlohmann::json data = {{"objects", nlohmann::json::array()}};
  ASSERT_TRUE(finish_task(conn(), id, "undetected", data));
  const auto before = find_task(conn(), id);

  EXPECT_FALSE(finish_task(conn(), id, "detected", {{"objects", {1, 2}}}));
  EXPECT_FALSE(fail_task(conn(), id, "late timeout"));

  const auto after = find_task(conn(), id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, "undetected");
  EXPECT_EQ(after->data, data);
  EXPECT_FALSE(after->error);
  EXPECT_EQ(after->finished_at, before->finished_at);
}

TEST_F(task_repository, failed_task_is_not_changed_again) {
  const auto id = create_task(conn(), 1, "car.jpg");
  ASSERT_TRUE(fail_task(conn(), id, "first"));
  EXPECT_FALSE(fail_task(conn(), id, "second"));
  EXPECT_FALSE(finish_task(conn(), id, "detected", {{"x", 1}}));
  const auto task = find_task(conn(), id);
  EXPECT_EQ(task->status, "failed");
  EXPECT_EQ(task->error, "first");
  EXPECT_TRUE(task->data.is_null());
}

TEST_F(task_repository, missing_ids_are_not_found_and_not_changed) {
  EXPECT_FALSE(find_task(conn(), 987654321));
  EXPECT_FALSE(finish_task(conn(), 987654321, "detected", {}));
  EXPECT_FALSE(fail_task(conn(), 987654321, "x"));
}

TEST_F(task_repository, unknown_pipeline_is_a_foreign_key_violation) {
  EXPECT_THROW(create_task(conn(), 4242, "car.jpg"), pqxx::foreign_key_violation);
}

TEST_F(task_repository, fail_abandoned_marks_only_processing_rows) {
  const auto processing_a = create_task(conn(), 1, "a.jpg");
  const auto processing_b = create_task(conn(), 1, "b.jpg");
  const auto detected = create_task(conn(), 1, "c.jpg");
  const auto failed = create_task(conn(), 1, "d.jpg");
  ASSERT_TRUE(finish_task(conn(), detected, "detected", {{"objects", {1}}}));
  ASSERT_TRUE(fail_task(conn(), failed, "decode error"));
  // conn() has no application_name: the rows have no owner, so nothing vouches for them.
  EXPECT_FALSE(find_task(conn(), processing_a)->owner);

  EXPECT_EQ(fail_abandoned_tasks(conn(), "service restarted"), 2);

  for (const auto id : {processing_a, processing_b}) {
    const auto task = find_task(conn(), id);
    EXPECT_EQ(task->status, "failed");
    EXPECT_EQ(task->error, "service restarted");
    EXPECT_TRUE(task->finished_at);
  }
  EXPECT_EQ(find_task(conn(), detected)->status, "detected");
  EXPECT_FALSE(find_task(conn(), detected)->error);
  EXPECT_EQ(find_task(conn(), failed)->error, "decode error");

  EXPECT_EQ(fail_abandoned_tasks(conn(), "again"), 0);
}

// --- owners and the sweep of abandoned tasks
// ------------------------------------------------------

// How many sessions of the test database pg_stat_activity lists under `application_name`.
int sessions_named(pqxx::connection& conn, const std::string& application_name) {
  pqxx::nontransaction txn{conn};
  return txn
      .exec_params("SELECT count(*) FROM pg_stat_activity"
                   " WHERE application_name = $1 AND datname = current_database()",
                   application_name)[0][0]
      .as<int>();
}

// Waits until pg_stat_activity lists exactly `count` sessions named `application_name`: a closed
// connection's backend leaves the view a moment after the client hangs up.
void wait_for_sessions_named(pqxx::connection& conn, const std::string& application_name,
                             int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int seen = 0;
  while ((seen = sessions_named(conn, application_name)) != count) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << seen << " sessions named " << application_name << ", expected " << count;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void wait_until_no_session_named(pqxx::connection& conn, const std::string& application_name) {
  wait_for_sessions_named(conn, application_name, 0);
}

std::string fresh_instance_name() {
  return instance_application_name(new_instance_id());
}

TEST_F(task_repository, owner_is_the_creating_sessions_application_name) {
  const auto name = fresh_instance_name();
  set_application_name(conn(), name);
  const auto plain = create_task(conn(), 1, "a.jpg");
  const auto versioned = create_task(conn(), 1, 1, "b.jpg");
  EXPECT_EQ(find_task(conn(), plain)->owner, name);
  EXPECT_EQ(find_task(conn(), versioned)->owner, name);
  const auto listed = list_tasks(conn(), {});
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].owner, name);
  EXPECT_EQ(listed[1].owner, name);

  // The column holds what other sessions see in pg_stat_activity for this one.
  const auto seen = pqxx::nontransaction{conn()}
                        .exec("SELECT application_name FROM pg_stat_activity"
                              " WHERE pid = pg_backend_pid()")[0][0]
                        .as<std::string>();
  EXPECT_EQ(seen, name);
  const auto stored = pqxx::nontransaction{conn()}
                          .exec_params("SELECT owner FROM tasks WHERE id = $1", plain)[0][0]
                          .as<std::string>();
  EXPECT_EQ(stored, name);
}

TEST_F(task_repository, session_without_application_name_creates_tasks_without_owner) {
  const auto id = create_task(conn(), 1, 1, "a.jpg");
  EXPECT_FALSE(find_task(conn(), id)->owner);
  EXPECT_TRUE(pqxx::nontransaction{conn()}
                  .exec_params("SELECT owner FROM tasks WHERE id = $1", id)[0][0]
                  .is_null());
}

TEST_F(task_repository, set_application_name_takes_any_text_as_a_parameter) {
  const std::string name = "imgproc:'); DROP TABLE tasks; --";
  set_application_name(conn(), name);
  const auto id = create_task(conn(), 1, "a.jpg");
  EXPECT_EQ(find_task(conn(), id)->owner, name);
  EXPECT_THROW(set_application_name(conn(), std::string("a\0b", 3)), std::invalid_argument);
}

TEST_F(task_repository, fail_abandoned_spares_rows_of_a_live_owner_until_it_disconnects) {
  const auto gateway = fresh_instance_name();
  set_application_name(conn(), fresh_instance_name()); // the sweeper is another instance

  // The row is made on one of the gateway's connections, which then closes: what keeps the
  // row alive below is another live connection of the same instance.
  std::int64_t id = 0;
  {
    auto creator = connect_as(gateway);
    id = create_task(*creator, 1, 1, "in-flight.jpg");
  }
  auto live = connect_as(gateway);
  // Only `live` is left under that name once the creator's backend has gone.
  ASSERT_NO_FATAL_FAILURE(wait_for_sessions_named(conn(), gateway, 1));

  EXPECT_EQ(fail_abandoned_tasks(conn(), "owner gone"), 0);
  EXPECT_EQ(find_task(conn(), id)->status, "processing");
  // The live gateway can still finish it.
  const auto second = create_task(*live, 1, 1, "second.jpg");

  live.reset();
  ASSERT_NO_FATAL_FAILURE(wait_until_no_session_named(conn(), gateway));
  EXPECT_EQ(fail_abandoned_tasks(conn(), "owner gone"), 2);
  for (const auto task_id : {id, second}) {
    const auto task = find_task(conn(), task_id);
    EXPECT_EQ(task->status, "failed");
    EXPECT_EQ(task->error, "owner gone");
    EXPECT_TRUE(task->finished_at);
    EXPECT_EQ(task->owner, gateway) << "the owner stays recorded";
  }
  EXPECT_EQ(fail_abandoned_tasks(conn(), "again"), 0);
}

TEST_F(task_repository, fail_abandoned_at_start_up_keeps_other_gateways_rows) {
  // Three instances share the database: one crashed earlier, one is running, one starts now.
  const auto crashed = fresh_instance_name();
  const auto running = fresh_instance_name();
  const auto starting = fresh_instance_name();
  {
    auto old = connect_as(crashed);
    create_task(*old, 1, 1, "lost-1.jpg");
    create_task(*old, 1, 1, "lost-2.jpg");
  }
  auto other = connect_as(running);
  const auto other_task = create_task(*other, 1, 1, "busy.jpg");
  const auto legacy = create_task(conn(), 1, 1, "from-an-older-binary.jpg"); // owner NULL
  ASSERT_NO_FATAL_FAILURE(wait_until_no_session_named(conn(), crashed));

  set_application_name(conn(), starting);
  EXPECT_EQ(fail_abandoned_tasks(conn(), "interrupted"), 3);
  EXPECT_EQ(find_task(conn(), other_task)->status, "processing");
  EXPECT_EQ(find_task(conn(), legacy)->status, "failed");
  EXPECT_TRUE(finish_task(*other, other_task, "undetected", nlohmann::json::object()));
}

TEST_F(task_repository, fail_abandoned_sweeps_rows_without_owner_even_while_all_are_connected) {
  const auto name = fresh_instance_name();
  auto gateway = connect_as(name);
  const auto owned = create_task(*gateway, 1, 1, "owned.jpg");
  const auto unowned = create_task(conn(), 1, 1, "unowned.jpg");
  std::int64_t by_sql = 0;
  {
    pqxx::work txn{conn()};
    by_sql = txn.exec("INSERT INTO tasks (pipeline_id, status, filename)"
                      " VALUES (1, 'processing', 'psql.jpg') RETURNING id")[0][0]
                 .as<std::int64_t>();
    txn.commit();
  }
  // An empty owner can come only from plain SQL; it names no session either.
  pqxx::nontransaction{conn()}.exec_params("UPDATE tasks SET owner = '' WHERE id = $1", unowned);

  EXPECT_EQ(fail_abandoned_tasks(*gateway, "no owner"), 2);
  EXPECT_EQ(find_task(conn(), owned)->status, "processing");
  EXPECT_EQ(find_task(conn(), unowned)->status, "failed");
  EXPECT_EQ(find_task(conn(), by_sql)->status, "failed");
  EXPECT_FALSE(find_task(conn(), by_sql)->owner);
}

TEST_F(task_repository, fail_abandoned_caller_counts_as_live) {
  const auto name = fresh_instance_name();
  set_application_name(conn(), name);
  const auto id = create_task(conn(), 1, 1, "mine.jpg");
  EXPECT_EQ(fail_abandoned_tasks(conn(), "x"), 0);
  EXPECT_EQ(find_task(conn(), id)->status, "processing");
}

TEST_F(task_repository, fail_abandoned_keeps_rows_younger_than_min_age) {
  using namespace std::chrono_literals;
  const auto young = create_task(conn(), 1, 1, "young.jpg"); // no owner: abandoned but for age
  const auto old = create_task(conn(), 1, 1, "old.jpg");
  const auto older = create_task(conn(), 1, 1, "older.jpg");
  {
    pqxx::work txn{conn()};
    txn.exec_params("UPDATE tasks SET created_at = now() - interval '10 minutes' WHERE id = $1",
                    old);
    txn.exec_params("UPDATE tasks SET created_at = now() - interval '2 hours' WHERE id = $1",
                    older);
    txn.commit();
  }

  EXPECT_EQ(fail_abandoned_tasks(conn(), "stale", 1h), 1);
  EXPECT_EQ(find_task(conn(), older)->status, "failed");
  EXPECT_EQ(find_task(conn(), old)->status, "processing");

  EXPECT_EQ(fail_abandoned_tasks(conn(), "stale", 5min), 1);
  EXPECT_EQ(find_task(conn(), old)->status, "failed");
  EXPECT_EQ(find_task(conn(), young)->status, "processing");

  EXPECT_EQ(fail_abandoned_tasks(conn(), "stale", 0s), 1);
  EXPECT_EQ(find_task(conn(), young)->status, "failed");

  EXPECT_THROW(fail_abandoned_tasks(conn(), "stale", -1s), std::invalid_argument);
}

TEST_F(task_repository, fail_stale_fails_old_processing_rows_even_of_live_owners) {
  using namespace std::chrono_literals;
  set_application_name(conn(), fresh_instance_name()); // a live owner: conn() itself
  const auto young = create_task(conn(), 1, 1, "young.jpg");
  const auto old = create_task(conn(), 1, 1, "old.jpg");
  const auto old_done = create_task(conn(), 1, 1, "done.jpg");
  ASSERT_TRUE(finish_task(conn(), old_done, "undetected", nlohmann::json::array()));
  {
    pqxx::work txn{conn()};
    txn.exec_params("UPDATE tasks SET created_at = now() - interval '10 minutes' WHERE id = $1 "
                    "OR id = $2",
                    old, old_done);
    txn.commit();
  }
  EXPECT_EQ(fail_abandoned_tasks(conn(), "abandoned", 5min), 0); // the owner is alive
  EXPECT_EQ(fail_stale_tasks(conn(), "stale", 5min), 1);
  EXPECT_EQ(find_task(conn(), old)->status, "failed");
  EXPECT_EQ(find_task(conn(), old)->error, "stale");
  EXPECT_EQ(find_task(conn(), young)->status, "processing");
  EXPECT_EQ(find_task(conn(), old_done)->status, "undetected");
  EXPECT_EQ(fail_stale_tasks(conn(), "stale", 5min), 0);
  EXPECT_THROW(fail_stale_tasks(conn(), "stale", -1s), std::invalid_argument);
}

TEST_F(task_repository, fail_abandoned_leaves_finished_rows_of_gone_owners_alone) {
  const auto gone = fresh_instance_name();
  std::int64_t detected = 0, failed = 0, processed = 0, processing = 0;
  {
    auto old = connect_as(gone);
    detected = create_task(*old, 1, 1, "d.jpg");
    failed = create_task(*old, 1, 1, "f.jpg");
    processed = create_task(*old, 1, 1, "p.jpg");
    processing = create_task(*old, 1, 1, "x.jpg");
    ASSERT_TRUE(finish_task(*old, detected, "detected", {{"objects", {1}}}));
    ASSERT_TRUE(fail_task(*old, failed, "decode error"));
    ASSERT_TRUE(finish_task(*old, processed, "processed", {{"width", 1}}));
  }
  ASSERT_NO_FATAL_FAILURE(wait_until_no_session_named(conn(), gone));
  const auto before = list_tasks(conn(), {});

  EXPECT_EQ(fail_abandoned_tasks(conn(), "gone"), 1);
  EXPECT_EQ(find_task(conn(), processing)->status, "failed");
  for (const auto& task : before) {
    if (task.id == processing)
      continue;
    const auto after = find_task(conn(), task.id);
    EXPECT_EQ(after->status, task.status);
    EXPECT_EQ(after->error, task.error);
    EXPECT_EQ(after->data, task.data);
    EXPECT_EQ(after->finished_at, task.finished_at);
  }
}

TEST_F(task_repository, fail_abandoned_ignores_same_named_sessions_of_other_databases) {
  const auto name = fresh_instance_name();
  std::int64_t id = 0;
  {
    auto old = connect_as(name);
    id = create_task(*old, 1, 1, "a.jpg");
  }
  ASSERT_NO_FATAL_FAILURE(wait_until_no_session_named(conn(), name));
  scratch_database elsewhere;
  pqxx::connection stranger{elsewhere.dsn()};
  set_application_name(stranger, name);

  EXPECT_EQ(fail_abandoned_tasks(conn(), "gone"), 1);
  EXPECT_EQ(find_task(conn(), id)->status, "failed");
}

// The production role is unlikely to be a superuser, and pg_stat_activity hides most columns of
// other roles' sessions from ordinary roles. application_name is not among them (PostgreSQL 15):
// a sweep by a plain role still sees a live owner that is a different role.
TEST_F(task_repository, fail_abandoned_sees_other_roles_sessions_as_a_non_superuser) {
  const std::string role = db_.name() + "_sweeper";
  pqxx::connection admin{db_.admin_dsn()};
  try {
    pqxx::nontransaction{admin}.exec("CREATE ROLE " + admin.quote_name(role) + " NOLOGIN");
  } catch (const pqxx::insufficient_privilege&) {
    GTEST_SKIP() << "the test server's role cannot create roles";
  }
  struct drop_role {
    pqxx::connection& admin;
    const std::string& dsn;
    const std::string& role;
    ~drop_role() {
      try {
        pqxx::connection in_db{dsn};
        pqxx::nontransaction{in_db}.exec("DROP OWNED BY " + in_db.quote_name(role));
        pqxx::nontransaction{admin}.exec("DROP ROLE " + admin.quote_name(role));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping role " << role << ": " << e.what();
      }
    }
  } cleanup{admin, db_.dsn(), role};
  {
    pqxx::work txn{conn()};
    txn.exec("GRANT SELECT, UPDATE ON tasks TO " + txn.quote_name(role));
    txn.commit();
  }

  // The live gateway runs as the test server's superuser; the sweeper as the plain role.
  const auto gateway = fresh_instance_name();
  auto live = connect_as(gateway);
  const auto kept = create_task(*live, 1, 1, "kept.jpg");
  const auto swept = create_task(conn(), 1, 1, "swept.jpg");

  {
    auto sweeper = connect_as(fresh_instance_name());
    pqxx::nontransaction{*sweeper}.exec("SET ROLE " + sweeper->quote_name(role));
    {
      pqxx::nontransaction txn{*sweeper};
      const auto row =
          txn.exec_params("SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
                          " a.application_name, a.query FROM pg_stat_activity a"
                          " WHERE a.application_name = $1",
                          gateway)[0];
      EXPECT_FALSE(row[0].as<bool>()) << "the sweeper must not be a superuser";
      EXPECT_EQ(row[1].as<std::string>(), gateway);
      EXPECT_EQ(row[2].as<std::string>(), "<insufficient privilege>")
          << "other columns of the other role's session are hidden";
    }
    EXPECT_EQ(fail_abandoned_tasks(*sweeper, "gone"), 1);
  }
  EXPECT_EQ(find_task(conn(), kept)->status, "processing");
  EXPECT_EQ(find_task(conn(), swept)->status, "failed");
}

TEST_F(task_repository, processing_rows_are_found_by_owner_through_the_partial_index) {
  pqxx::work txn{conn()};
  txn.exec("SET LOCAL enable_seqscan = off");
  std::string plan;
  for (const auto& row : txn.exec("EXPLAIN SELECT id FROM tasks"
                                  " WHERE status = 'processing' AND owner = 'imgproc:x'"))
    plan += row[0].as<std::string>() + "\n";
  EXPECT_NE(plan.find("tasks_processing_owner_idx"), std::string::npos) << plan;
}

TEST_F(task_repository, awkward_text_round_trips) {
  const std::vector<std::string> names = {
      "it's \"quoted\".jpg",
      "'; DROP TABLE tasks; --.jpg",
      "$1 $2 \\x00 %s {}.jpg",
      "автомобиль 🚗 車.jpg",
      "tab\tnew\nline.jpg",
      std::string(10000, 'x') + ".jpg",
      "",
  };
  for (const auto& name : names) {
    const auto id = create_task(conn(), 1, name);
    ASSERT_TRUE(fail_task(conn(), id, "error about " + name));
    const auto task = find_task(conn(), id);
    ASSERT_TRUE(task);
    EXPECT_EQ(task->filename, name);
    EXPECT_EQ(task->error, "error about " + name);
  }
  // The injection attempt above did nothing.
  EXPECT_TRUE(find_task(conn(), create_task(conn(), 1, "after.jpg")));
}

TEST_F(task_repository, awkward_json_round_trips) {
  const auto id = create_task(conn(), 1, "car.jpg");
  const nlohmann::json data = {{"label", "it's a \"car\" 🚗"},
                               {"sql", "'); DELETE FROM tasks; --"},
                               {"nested", {{"a", {1, 2.5, nullptr, true}}}}};
  ASSERT_TRUE(finish_task(conn(), id, "detected", data));
  EXPECT_EQ(find_task(conn(), id)->data, data);
}

TEST_F(task_repository, nul_bytes_are_rejected_rather_than_truncated) {
  EXPECT_THROW(create_task(conn(), 1, std::string("a\0b.jpg", 7)), std::invalid_argument);
  const auto id = create_task(conn(), 1, "car.jpg");
  EXPECT_THROW(fail_task(conn(), id, std::string("bad\0error", 9)), std::invalid_argument);
}

TEST_F(task_repository, invalid_utf8_filename_is_a_data_exception) {
  EXPECT_THROW(create_task(conn(), 1, "\xff\xfe.jpg"), pqxx::data_exception);
}

// --- list_tasks --------------------------------------------------------------------------------

class task_listing : public task_repository {
protected:
  void SetUp() override {
    task_repository::SetUp();
    {
      pqxx::work txn{conn()};
      txn.exec("INSERT INTO pipelines (title) VALUES ('second')");
      txn.commit();
    }
    // 30 tasks alternating between pipelines 1 and 2; every third one failed.
    for (int i = 0; i < 30; ++i) {
      const int pipeline = 1 + i % 2;
      const auto id = create_task(conn(), pipeline, 1, "t" + std::to_string(i) + ".jpg");
      if (i % 3 == 0)
        fail_task(conn(), id, "boom");
      all_.push_back({id, pipeline, i % 3 == 0 ? "failed" : "processing"});
    }
    std::reverse(all_.begin(), all_.end()); // newest first
  }

  struct expected_task {
    std::int64_t id;
    int pipeline_id;
    std::string status;
  };

  std::vector<std::int64_t> expected_ids(std::optional<int> pipeline,
                                         std::optional<std::string> status) const {
    std::vector<std::int64_t> ids;
    for (const auto& t : all_)
      if ((!pipeline || t.pipeline_id == *pipeline) && (!status || t.status == *status))
        ids.push_back(t.id);
    return ids;
  }

  static std::vector<std::int64_t> ids_of(const std::vector<task_record>& tasks) {
    std::vector<std::int64_t> ids;
    for (const auto& t : tasks)
      ids.push_back(t.id);
    return ids;
  }

  // Walks every page of `query` and returns the ids in the order seen.
  std::vector<std::int64_t> all_pages(task_query query, int& pages) {
    std::vector<std::int64_t> ids;
    pages = 0;
    for (;;) {
      const auto page = list_tasks(conn(), query);
      EXPECT_LE(static_cast<int>(page.size()), query.limit);
      if (page.empty())
        return ids;
      ++pages;
      for (const auto& t : page)
        ids.push_back(t.id);
      query.after_id = page.back().id;
      if (pages > 100) {
        ADD_FAILURE() << "pagination does not end";
        return ids;
      }
    }
  }

  std::vector<expected_task> all_;
};

TEST_F(task_listing, unfiltered_is_newest_first_with_default_limit) {
  const auto tasks = list_tasks(conn(), {});
  EXPECT_EQ(ids_of(tasks), expected_ids(std::nullopt, std::nullopt));
  ASSERT_FALSE(tasks.empty());
  EXPECT_EQ(tasks[0].filename, "t29.jpg");
  EXPECT_EQ(tasks[0].pipeline_version, 1);

  task_query five;
  five.limit = 5;
  const auto first_five = list_tasks(conn(), five);
  auto expected = expected_ids(std::nullopt, std::nullopt);
  expected.resize(5);
  EXPECT_EQ(ids_of(first_five), expected);
}

TEST_F(task_listing, filters_by_pipeline_status_and_both) {
  task_query by_pipeline;
  by_pipeline.pipeline_id = 2;
  EXPECT_EQ(ids_of(list_tasks(conn(), by_pipeline)), expected_ids(2, std::nullopt));

  task_query by_status;
  by_status.status = "failed";
  EXPECT_EQ(ids_of(list_tasks(conn(), by_status)), expected_ids(std::nullopt, "failed"));

  task_query both;
  both.pipeline_id = 1;
  both.status = "failed";
  const auto tasks = list_tasks(conn(), both);
  EXPECT_EQ(ids_of(tasks), expected_ids(1, "failed"));
  EXPECT_FALSE(tasks.empty());
  for (const auto& t : tasks) {
    EXPECT_EQ(t.pipeline_id, 1);
    EXPECT_EQ(t.status, "failed");
    EXPECT_EQ(t.error, "boom");
  }

  task_query none;
  none.pipeline_id = 4242;
  EXPECT_TRUE(list_tasks(conn(), none).empty());
  none.pipeline_id.reset();
  none.status = "no such status";
  EXPECT_TRUE(list_tasks(conn(), none).empty());
}

TEST_F(task_listing, keyset_pages_have_no_duplicates_or_gaps) {
  for (const std::optional<int> pipeline : {std::optional<int>{}, std::optional<int>{1}}) {
    for (const int limit : {1, 4, 7, 15, 500}) {
      SCOPED_TRACE("pipeline " + std::to_string(pipeline.value_or(0)) + ", limit " +
                   std::to_string(limit));
      task_query query;
      query.pipeline_id = pipeline;
      query.limit = limit;
      int pages = 0;
      const auto expected = expected_ids(pipeline, std::nullopt);
      EXPECT_EQ(all_pages(query, pages), expected);
      EXPECT_EQ(pages, static_cast<int>((expected.size() + limit - 1) / limit));
    }
  }

  // New tasks arriving between pages do not shift later pages.
  task_query query;
  query.limit = 10;
  const auto first = list_tasks(conn(), query);
  create_task(conn(), 1, "late.jpg");
  query.after_id = first.back().id;
  const auto second = list_tasks(conn(), query);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front().id, all_[10].id);
}

TEST_F(task_listing, limit_is_clamped) {
  task_query query;
  query.limit = 0;
  EXPECT_EQ(list_tasks(conn(), query).size(), 1u);
  query.limit = -3;
  EXPECT_EQ(list_tasks(conn(), query).size(), 1u);
  query.limit = 1000000;
  EXPECT_EQ(list_tasks(conn(), query).size(), all_.size());
  EXPECT_LE(all_.size(), static_cast<std::size_t>(max_task_page));
}

TEST_F(task_listing, per_pipeline_listing_reads_the_index_in_order) {
  // On 30 rows a sequential scan would win; forbid it to see which index the planner picks.
  pqxx::work txn{conn()};
  txn.exec("SET LOCAL enable_seqscan = off");
  txn.exec("SET LOCAL enable_bitmapscan = off");
  std::string plan;
  for (const auto& row : txn.exec("EXPLAIN SELECT id FROM tasks WHERE pipeline_id = 2"
                                  " AND id < 1000 ORDER BY id DESC LIMIT 50"))
    plan += row[0].as<std::string>() + "\n";
  EXPECT_NE(plan.find("tasks_pipeline_id_id_idx"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << "no sort needed:\n" << plan;
}

} // namespace
