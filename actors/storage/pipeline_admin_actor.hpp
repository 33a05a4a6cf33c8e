#pragma once

// Pipeline administration: lists, reads, creates, replaces and deletes pipelines (libpqxx).
//
///   receives: (list_atom)                          answers: pipeline_list
///             (get_atom, int id, int version)      answers: pipeline_record, version 0 = current
///             (create_atom, pipeline_definition)   answers: pipeline_record
///             (put_atom, int id, pipeline_definition) answers: pipeline_record
///             (delete_atom, int id)                answers: pipeline_removal
///   fails:    database_unavailable; pipeline_not_found, pipeline_retired (get, put, delete);
///             conflict (a title in use), invalid_pipeline (an unknown handler), bad_request
//
// Definitions arrive already validated against the step registry. Every change is one
// transaction; the database's triggers bump the version and notify every process. Detached:
// libpq blocks.

#include "actors/storage/protocol.hpp"

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace imgproc {

namespace db {
class session;
}

struct pipeline_admin_state {
  static inline const char* name = "pipeline_admin";
  std::unique_ptr<db::session> session;
};

pipeline_admin_actor spawn_pipeline_admin(caf::actor_system& sys, std::string dsn,
                                          std::chrono::milliseconds statement_timeout);

} // namespace imgproc
