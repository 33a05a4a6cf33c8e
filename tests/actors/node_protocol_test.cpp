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
  auto result = round_trip(system_, node_result{"detected", R"({"top_left_x":1})", "w1"});
  EXPECT_EQ(result.status, "detected");
  EXPECT_EQ(result.data_json, R"({"top_left_x":1})");
  EXPECT_EQ(result.node, "w1");
  auto info = round_trip(system_, node_info{"w2", "host (pid 7)", 12, false});
  EXPECT_EQ(info.name, "w2");
  EXPECT_EQ(info.address, "host (pid 7)");
  EXPECT_EQ(info.capacity, 12);
  EXPECT_FALSE(info.local);
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
