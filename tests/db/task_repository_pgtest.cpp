#include "db/migrations.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <regex>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;

class task_repository : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = std::make_unique<pqxx::connection>(db_.dsn());
    apply_migrations(*conn_);
    prepare_task_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

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
