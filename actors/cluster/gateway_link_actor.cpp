#include "actors/cluster/gateway_link_actor.hpp"

#include "actors/messages.hpp"
#include "actors/metered.hpp"
#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <chrono>

namespace imgproc {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds first_backoff = 100ms;
constexpr std::chrono::milliseconds max_backoff = 2000ms;
constexpr std::chrono::seconds join_timeout{5};
constexpr std::chrono::seconds metrics_report_interval{2};

struct gateway_link_state {
  static inline const char* name = "gateway_link";
  gateway_link_settings settings;
  caf::actor node;
  membership_actor gateway;
  bool joined = false;
  bool leaving = false;
  bool reporting = false; ///< the metrics report loop runs
  int failures = 0;       ///< connection attempts failed in a row (logged sparingly)
  std::chrono::milliseconds backoff = first_backoff;
};

using pointer = gateway_link_actor::stateful_pointer<gateway_link_state>;

void retry_later(pointer self) {
  auto& st = self->state;
  if (st.leaving)
    return;
  self->delayed_send(self, st.backoff, connect_atom::value);
  st.backoff = std::min(st.backoff * 2, max_backoff);
}

void try_connect(pointer self) {
  auto& st = self->state;
  if (st.leaving || st.joined)
    return;
  const auto& where = st.settings.gateway;
  auto gateway = connect_to_gateway(self->system(), where.host, where.port, st.settings.cluster);
  if (!gateway) {
    // The first failure and then every 10th (about 20 s at the longest backoff).
    if (st.failures++ % 10 == 0)
      log::warning("worker", "cannot reach gateway " + where.text() + ": " +
                                 self->system().render(gateway.error()) + "; retrying");
    retry_later(self);
    return;
  }
  st.gateway = caf::actor_cast<membership_actor>(*gateway);
  self->monitor(st.gateway);
  self->request(st.gateway, join_timeout, join_atom::value, st.node, st.settings.info)
      .then(
          [self](std::string& gateway_name) {
            auto& st = self->state;
            st.joined = true;
            st.failures = 0;
            st.backoff = first_backoff;
            auto line = "imgproc worker joined " + st.settings.gateway.text() + " (gateway " +
                        gateway_name + ") as " + st.settings.info.name;
            log::info("worker", line);
            if (st.settings.on_joined)
              st.settings.on_joined(line);
            if (!st.reporting) { // one report loop, also across rejoins
              st.reporting = true;
              self->send(self, metrics_atom::value);
            }
          },
          [self](caf::error& err) {
            log::warning("worker", "gateway " + self->state.settings.gateway.text() +
                                       " refused the join: " + self->system().render(err));
            self->demonitor(self->state.gateway.address());
            self->state.gateway = nullptr;
            retry_later(self);
          });
}

gateway_link_actor::behavior_type gateway_link(pointer self, caf::actor node,
                                               gateway_link_settings settings) {
  self->state.node = std::move(node);
  self->state.settings = std::move(settings);
  self->set_down_handler([self](caf::down_msg& down) {
    auto& st = self->state;
    if (!st.gateway || down.source != st.gateway.address())
      return;
    st.joined = false;
    st.gateway = nullptr;
    if (st.leaving)
      return;
    log::warning("worker", "lost gateway " + st.settings.gateway.text() + " (" +
                               self->system().render(down.reason) + "); joining again");
    st.backoff = first_backoff;
    retry_later(self);
  });
  self->send(self, connect_atom::value);
  return {
      [self](connect_atom) { try_connect(self); },
      [self](metrics_atom) {
        // While joined, the node's metrics go to the gateway every report interval.
        auto& st = self->state;
        if (st.leaving)
          return;
        if (!st.joined || !st.gateway) {
          st.reporting = false; // the next join starts it again
          return;
        }
        if (auto* metrics = process_metrics())
          self->send(st.gateway, metrics_atom::value, st.settings.info.name,
                     metrics->export_json());
        self->delayed_send(self, metrics_report_interval, metrics_atom::value);
      },
      [self](leave_atom) -> caf::result<bool> {
        auto& st = self->state;
        st.leaving = true;
        if (!st.joined || !st.gateway)
          return false;
        auto promise = self->make_response_promise<bool>();
        self->request(st.gateway, join_timeout, leave_atom::value, st.node)
            .then([promise](bool ok) mutable { promise.deliver(ok); },
                  [promise](caf::error&) mutable { promise.deliver(false); });
        return promise;
      },
  };
}

} // namespace

gateway_link_actor spawn_gateway_link(caf::actor_system& sys, node_actor node,
                                      gateway_link_settings settings) {
  return sys.spawn<caf::detached>(gateway_link, caf::actor_cast<caf::actor>(node),
                                  std::move(settings));
}

} // namespace imgproc
