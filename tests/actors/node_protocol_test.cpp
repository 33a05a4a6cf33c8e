// What crosses a node boundary survives CAF's serialization, byte for byte, with the same
// serializer the middleman uses. Within a process nothing is copied: checked by identity.

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/node_protocol.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <gtest/gtest.h>

namespace imgproc {
namespace {

template <class T> T round_trip(caf::actor_system& sys, T value) {
  std::vector<char> buffer;
  caf::binary_serializer sink{sys, buffer};
  EXPECT_FALSE(sink(value));
  T out;
  caf::binary_deserializer source{sys, buffer};
  EXPECT_FALSE(source(out));
  return out;
}

class node_protocol : public ::testing::Test {
protected:
  node_protocol() : system_(register_types(config_)) {}

  static caf::actor_system_config& register_types(caf::actor_system_config& config) {
    register_cluster_types(config);
    return config;
  }

  caf::actor_system_config config_;
  caf::actor_system system_;
};

TEST_F(node_protocol, a_job_arrives_whole_with_bytes_of_its_own) {
  // Bytes with a NUL and high bytes: a JPEG is binary.
  auto upload = std::make_shared<std::string>(std::string("\xff\xd8\x00\x01jpeg\xff\xd9", 9));
  node_job job;
  job.task_id = 42;
  job.pipeline_id = 1;
  job.pipeline_version = 3;
  job.steps_json = R"([{"handler":"decode_jpeg","params":{}}])";
  job.image = shared_bytes{upload, *upload};
  job.time_left_ms = 1234;

  auto out = round_trip(system_, job);
  EXPECT_EQ(out.task_id, 42);
  EXPECT_EQ(out.pipeline_id, 1);
  EXPECT_EQ(out.pipeline_version, 3);
  EXPECT_EQ(out.steps_json, job.steps_json);
  EXPECT_EQ(out.time_left_ms, 1234);
  EXPECT_EQ(std::string(out.image.view), *upload);
  // The received bytes are owned by the message, not by the sender's buffer.
  EXPECT_NE(out.image.view.data(), upload->data());
  upload->assign(upload->size(), 'x');
  EXPECT_EQ(out.image.view.substr(0, 2), std::string_view("\xff\xd8", 2));
}

TEST_F(node_protocol, results_and_node_descriptions_round_trip) {
  node_result sent;
  sent.status = "detected";
  sent.data = std::make_shared<const nlohmann::json>(nlohmann::json{{"top_left_x", 1}});
  sent.node = "w1";
  // The output travels as a value within the process and becomes text only when it crosses.
  auto result = round_trip(system_, sent);
  EXPECT_EQ(result.status, "detected");
  EXPECT_EQ(result.data, nullptr);
  EXPECT_EQ(result.data_json, R"({"top_left_x":1})");
  ASSERT_TRUE(result.output());
  EXPECT_EQ(*result.output(), *sent.data);
  EXPECT_EQ(result.node, "w1");
  auto info = round_trip(system_, node_info{"w2", "host (pid 7)", 12, false});
  EXPECT_EQ(info.name, "w2");
  EXPECT_EQ(info.address, "host (pid 7)");
  EXPECT_EQ(info.capacity, 12);
  EXPECT_FALSE(info.local);
}

TEST_F(node_protocol, a_result_whose_text_does_not_parse_has_no_output) {
  node_result garbled;
  garbled.data_json = "{not json";
  EXPECT_FALSE(garbled.output());
}

TEST_F(node_protocol, a_jobs_plan_stays_in_its_process) {
  auto plan = std::make_shared<pipeline_plan>();
  plan->id = 1;
  node_job job;
  job.pipeline_id = 1;
  job.steps_json = "[]";
  job.plan = plan;
  // Within the process the plan goes along as it is; another node plans steps_json itself.
  auto message = caf::make_message(job);
  EXPECT_EQ(message.get_as<node_job>(0).plan.get(), plan.get());
  auto out = round_trip(system_, job);
  EXPECT_EQ(out.plan, nullptr);
  EXPECT_EQ(out.steps_json, "[]");
}

TEST_F(node_protocol, a_local_message_shares_the_upload_instead_of_copying_it) {
  auto upload = std::make_shared<std::string>(100000, 'j');
  node_job job;
  job.image = shared_bytes{upload, *upload};
  auto message = caf::make_message(job);
  const auto& inside = message.get_as<node_job>(0);
  EXPECT_EQ(inside.image.view.data(), upload->data());
}

} // namespace
} // namespace imgproc
