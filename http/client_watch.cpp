#include "http/client_watch.hpp"

namespace imgproc {

client_watch& client_watch::process() {
  static client_watch registry;
  return registry;
}

client_flag client_watch::track(const endpoint& peer) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto& entry = flags_[peer];
  if (auto flag = entry.lock())
    return flag;
  auto flag = std::make_shared<std::atomic<bool>>(false);
  entry = flag;
  return flag;
}

void client_watch::forget(const endpoint& peer, const client_flag& flag) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto entry = flags_.find(peer);
  if (entry == flags_.end())
    return;
  auto current = entry->second.lock();
  if (!current || current == flag)
    flags_.erase(entry);
}

std::shared_ptr<const std::atomic<bool>> client_watch::find(const endpoint& peer) const {
  std::lock_guard<std::mutex> lock{mutex_};
  auto entry = flags_.find(peer);
  return entry == flags_.end() ? nullptr : entry->second.lock();
}

} // namespace imgproc
