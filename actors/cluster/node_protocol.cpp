#include "actors/cluster/node_protocol.hpp"

#include "actors/metered.hpp"

namespace imgproc {

void record_link(bool outbound, std::size_t bytes, double seconds) {
  if (auto* registry = process_metrics()) {
    if (outbound)
      registry->link_out(bytes, seconds);
    else
      registry->link_in(bytes, seconds);
  }
}

} // namespace imgproc
