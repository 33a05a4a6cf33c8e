#pragma once

// Actor metrics without help from CAF (0.17's actor profiler is compiled out of Debian's build):
// each handler is wrapped so that handling one message is timed and counted on the actor kind's
// meter (metrics/metrics.hpp). Works for behavior handlers and for `.then` response handlers
// alike, because it keeps the wrapped lambda's exact parameter types, which CAF matches on.
//
//   return { metered(meter, stamped, [self](run_atom, stage_job& job) { ... }), ... };
//
// `stamped`: the senders of this message call meter->sent() just before sending (worker_pool
// does it in pick()), so its mailbox time is known. Timer messages and responses are unstamped.

#include "metrics/metrics.hpp"

#include <caf/detail/type_traits.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp> // caf/result.hpp uses it without including it
#include <caf/result.hpp>
#include <memory>
#include <type_traits>
#include <utility>

namespace imgproc {

using meter_ptr = std::shared_ptr<metrics::actor_meter>;

/// The meter of an actor kind in this process's registry; a no-op meter when the process has no
/// registry (unit tests).
meter_ptr actor_meter_for(const char* name);

/// This process's registry (set at start-up), or null.
metrics::registry* process_metrics();

/// Counts `self` in caf_system_running_actors until it terminates.
void count_running(caf::local_actor* self, const meter_ptr& meter);

namespace detail {

template <class T> bool is_failure(const T&) {
  return false;
}
template <class... Ts> bool is_failure(const caf::result<Ts...>& r) {
  return r.flag == caf::rt_error;
}

template <class F, class... Ts>
auto metered_impl(meter_ptr meter, bool stamped, F f, caf::detail::type_list<Ts...>) {
  return [meter = std::move(meter), stamped, f = std::move(f)](Ts... xs) -> decltype(auto) {
    using result_type = decltype(f(std::forward<Ts>(xs)...));
    auto start = meter->begin(stamped);
    if constexpr (std::is_void_v<result_type>) {
      f(std::forward<Ts>(xs)...);
      meter->handled(start, false);
    } else {
      result_type result = f(std::forward<Ts>(xs)...);
      meter->handled(start, is_failure(result));
      return result;
    }
  };
}

} // namespace detail

template <class F> auto metered(const meter_ptr& meter, bool stamped, F f) {
  using trait = caf::detail::get_callable_trait<F>;
  return detail::metered_impl(meter, stamped, std::move(f), typename trait::arg_types{});
}

} // namespace imgproc
