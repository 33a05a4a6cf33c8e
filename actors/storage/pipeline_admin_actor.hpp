#pragma once

// Pipeline administration: lists, reads, creates, replaces and deletes pipelines (libpqxx).
//
///   receives: (list_atom)                          answers: json_reply {"items": [...]}
///             (get_atom, int id, int version)      answers: json_reply, version 0 = current
///             (create_atom, pipeline_definition)   answers: json_reply 201 | 409
///             (put_atom, int id, pipeline_definition) answers: json_reply 200 | 404 | 409 | 410
///             (delete_atom, int id)                answers: json_reply 200 (deleted or retired)
///   fails:    database_unavailable
//
// Definitions arrive already validated against the step registry. Every change is one
// transaction; the database's triggers bump the version and notify every process. Detached:
// libpq blocks.

#include "actors/messages.hpp"

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

using pipeline_admin_actor =
    caf::typed_actor<caf::replies_to<list_atom>::with<json_reply>,
                     caf::replies_to<get_atom, int, int>::with<json_reply>,
                     caf::replies_to<create_atom, pipeline_definition>::with<json_reply>,
                     caf::replies_to<put_atom, int, pipeline_definition>::with<json_reply>,
                     caf::replies_to<delete_atom, int>::with<json_reply>>;

struct pipeline_admin_state {
  static inline const char* name = "pipeline_admin";
  std::unique_ptr<db::session> session;
};

pipeline_admin_actor spawn_pipeline_admin(caf::actor_system& sys, std::string dsn,
                                          std::chrono::milliseconds statement_timeout);

} // namespace imgproc
