#include "actors/cluster/membership_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <chrono>
#include <map>

namespace imgproc {
namespace {

constexpr std::chrono::seconds relay_timeout{5};

struct membership_state {
  static inline const char* name = "membership";
  /// Who joined, by the address of the actor that sent the join (a worker's gateway link):
  /// only they may report metrics, and under the name they joined with.
  std::map<caf::actor_addr, std::string> joined;
};

using pointer = membership_actor::stateful_pointer<membership_state>;

membership_actor::behavior_type membership(pointer self, dispatcher_actor dispatcher) {
  self->set_down_handler([self](caf::down_msg& down) {
    auto it = self->state.joined.find(down.source);
    if (it == self->state.joined.end())
      return;
    if (auto* metrics = process_metrics())
      metrics->forget_remote(it->second);
    self->state.joined.erase(it);
  });
  return {
      [self, dispatcher](join_atom, caf::actor node, node_info& info) -> caf::result<std::string> {
        // Only other processes join through here: a handle on this very node (the dispatcher
        // itself, say, which would then send jobs to itself) is refused.
        if (!node || node.node() == self->node())
          return to_caf_error(
              make_failure(error_code::bad_request, "only a remote node can join the cluster"));
        info.local = false;
        auto sender = self->current_sender();
        auto name = info.name;
        auto promise = self->make_response_promise<std::string>();
        self->request(dispatcher, relay_timeout, join_atom::value, std::move(node), std::move(info))
            .then(
                [self, promise, sender, name](std::string& gateway) mutable {
                  if (sender && !self->state.joined.count(sender->address())) {
                    self->state.joined.emplace(sender->address(), name);
                    self->monitor(sender);
                  }
                  promise.deliver(std::move(gateway));
                },
                [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
      [self](metrics_atom, const std::string&, const std::string& families) {
        auto* metrics = process_metrics();
        auto sender = self->current_sender();
        if (!metrics || !sender)
          return;
        auto it = self->state.joined.find(sender->address());
        if (it == self->state.joined.end())
          return; // not a joined node: ignored
        try {
          metrics->import_remote(it->second, families);
        } catch (const std::exception& e) {
          log::warning("membership", "metrics from node " + it->second + " refused: " + e.what());
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

membership_actor spawn_membership(caf::actor_system& sys, dispatcher_actor dispatcher) {
  return sys.spawn(membership, std::move(dispatcher));
}

} // namespace imgproc
