#include "actors/membership_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <chrono>

namespace imgproc {
namespace {

constexpr std::chrono::seconds relay_timeout{5};

membership_actor::behavior_type membership(membership_actor::pointer self, caf::actor dispatcher) {
  return {
      [self, dispatcher](join_atom, caf::actor node, node_info& info) -> caf::result<std::string> {
        // Only other processes join through here: a handle on this very node (the dispatcher
        // itself, say, which would then send jobs to itself) is refused.
        if (!node || node.node() == self->node())
          return to_caf_error(
              make_failure(error_code::bad_request, "only a remote node can join the cluster"));
        info.local = false;
        auto promise = self->make_response_promise<std::string>();
        self->request(dispatcher, relay_timeout, join_atom::value, std::move(node), std::move(info))
            .then([promise](std::string& name) mutable { promise.deliver(std::move(name)); },
                  [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
      [](metrics_atom, const std::string& node, const std::string& families) {
        auto* metrics = process_metrics();
        if (!metrics || node.empty() || node.size() > 256)
          return;
        try {
          metrics->import_remote(node, families);
        } catch (const std::exception& e) {
          log::warning("membership", "metrics from node " + node + " refused: " + e.what());
        }
      },
      [self, dispatcher](leave_atom, caf::actor node) -> caf::typed_response_promise<bool> {
        auto promise = self->make_response_promise<bool>();
        self->request(dispatcher, relay_timeout, leave_atom::value, std::move(node))
            .then([promise](bool ok) mutable { promise.deliver(ok); },
                  [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
  };
}

} // namespace

membership_actor spawn_membership(caf::actor_system& sys, caf::actor dispatcher) {
  return sys.spawn(membership, std::move(dispatcher));
}

} // namespace imgproc
