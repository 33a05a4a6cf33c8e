#include "db/migrations.hpp"
#include "db/pipeline_repository.hpp"
#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;
using nlohmann::json;

class pipeline_repository : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = std::make_unique<pqxx::connection>(db_.dsn());
    apply_migrations(*conn_);
    prepare_pipeline_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

  scratch_database db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(pipeline_repository, car_detection_pipeline_has_six_steps_in_order) {
  const auto pipeline = find_pipeline(conn(), 1);
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(pipeline->id, 1);
  EXPECT_EQ(pipeline->title, "car-detection");

  const std::vector<step_record> expected = {
      {1, "decode_jpeg", "Decode JPEG", json::object()},
      {2, "resize", "Resize", {{"width", 640}, {"height", 640}, {"interpolation", "linear"}}},
      {3, "normalize", "Normalize", {{"alpha", 0}, {"beta", 255}}},
      {4, "encode_jpeg", "Encode JPEG", {{"quality", 95}}},
      {5, "base64", "Base64 encode", json::object()},
      {6, "detect", "ML detection", nlohmann::json::object()},
  };
  ASSERT_EQ(pipeline->steps.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].handler);
    EXPECT_EQ(pipeline->steps[i].position, expected[i].position);
    EXPECT_EQ(pipeline->steps[i].handler, expected[i].handler);
    EXPECT_EQ(pipeline->steps[i].title, expected[i].title);
    EXPECT_EQ(pipeline->steps[i].params, expected[i].params);
  }
}

TEST_F(pipeline_repository, missing_pipeline_is_not_found) {
  EXPECT_FALSE(find_pipeline(conn(), imgproc::testing::seeded_pipeline_count + 1));
  EXPECT_FALSE(find_pipeline(conn(), -1));
}

TEST_F(pipeline_repository, new_pipeline_does_not_collide_with_seeded_id) {
  pqxx::work txn{conn()};
  const int id =
      txn.exec("INSERT INTO pipelines (title) VALUES ('resize-only') RETURNING id")[0][0].as<int>();
  // Inserted out of position order: reads must order by position.
  txn.exec_params(
      "INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)"
      " SELECT $1, 2, id, '{\"quality\": 80}' FROM step_kinds WHERE handler = 'encode_jpeg'",
      id);
  txn.exec_params("INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id)"
                  " SELECT $1, 1, id FROM step_kinds WHERE handler = 'decode_jpeg'",
                  id);
  txn.exec("INSERT INTO pipelines (title) VALUES ('empty')");
  txn.commit();
  EXPECT_EQ(id, imgproc::testing::seeded_pipeline_count + 1);

  const auto pipeline = find_pipeline(conn(), id);
  ASSERT_TRUE(pipeline);
  ASSERT_EQ(pipeline->steps.size(), 2u);
  EXPECT_EQ(pipeline->steps[0].handler, "decode_jpeg");
  EXPECT_EQ(pipeline->steps[0].params, json::object());
  EXPECT_EQ(pipeline->steps[1].handler, "encode_jpeg");
  EXPECT_EQ(pipeline->steps[1].params, (json{{"quality", 80}}));

  const auto all = list_pipelines(conn());
  const std::size_t seeded = imgproc::testing::seeded_pipeline_count;
  ASSERT_EQ(all.size(), seeded + 2);
  EXPECT_EQ(all[0].title, "car-detection");
  EXPECT_EQ(all[0].steps.size(), 6u);
  EXPECT_EQ(all[seeded].title, "resize-only");
  EXPECT_EQ(all[seeded].steps.size(), 2u);
  EXPECT_EQ(all[seeded + 1].title, "empty");
  EXPECT_TRUE(all[seeded + 1].steps.empty());
  EXPECT_TRUE(find_pipeline(conn(), all[seeded + 1].id)->steps.empty());
}

TEST_F(pipeline_repository, params_must_be_an_object) {
  pqxx::work txn{conn()};
  EXPECT_THROW(txn.exec("INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)"
                        " VALUES (1, 7, 1, '[1, 2]')"),
               pqxx::check_violation);
}

TEST_F(pipeline_repository, step_positions_are_unique_per_pipeline) {
  pqxx::work txn{conn()};
  EXPECT_THROW(txn.exec("INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id)"
                        " VALUES (1, 1, 1)"),
               pqxx::unique_violation);
}

} // namespace
