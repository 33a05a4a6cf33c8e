#pragma once

// A fixed set of worker actors of one kind, shared by every pipeline actor of the process.
// `pick()` chooses the worker with the fewest jobs in flight, so a worker stuck on a slow call
// (a slow ML answer, a slow database) stops collecting work; CAF's actor_pool has no such policy.
// The counts are "sent minus finished": the sender increments, the worker decrements when done.
// pick() is always followed by a send, so it also stamps the send on the workers' meter.

#include "metrics/metrics.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <vector>

namespace imgproc {

/// Counts one worker's jobs in flight. The worker holds one of these for each job it runs.
class load_counter {
public:
  void add() { jobs_.fetch_add(1, std::memory_order_relaxed); }
  void done() { jobs_.fetch_sub(1, std::memory_order_relaxed); }
  int jobs() const { return jobs_.load(std::memory_order_relaxed); }

private:
  std::atomic<int> jobs_{0};
};

using load_ptr = std::shared_ptr<load_counter>;

/// Marks a job done when the worker's handler leaves, whatever way it leaves.
class job_scope {
public:
  explicit job_scope(load_counter& load) : load_(load) {}
  ~job_scope() { load_.done(); }
  job_scope(const job_scope&) = delete;
  job_scope& operator=(const job_scope&) = delete;

private:
  load_counter& load_;
};

template <class Handle> class worker_pool {
public:
  /// Told of every pick(): the workers' meter stamps the send for their mailbox metrics.
  void set_meter(std::shared_ptr<metrics::actor_meter> meter) { meter_ = std::move(meter); }

  void add(Handle worker, load_ptr load) {
    workers_.push_back(std::move(worker));
    loads_.push_back(std::move(load));
  }

  std::size_t size() const { return workers_.size(); }

  /// The least-loaded worker, its count already incremented. Ties rotate so that idle workers
  /// share the work evenly.
  const Handle& pick() {
    if (workers_.empty())
      throw std::logic_error("worker_pool::pick on an empty pool");
    std::size_t n = workers_.size();
    std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
    std::size_t best = start;
    for (std::size_t i = 1; i < n; ++i) {
      std::size_t k = (start + i) % n;
      if (loads_[k]->jobs() < loads_[best]->jobs())
        best = k;
    }
    loads_[best]->add();
    if (meter_)
      meter_->sent();
    return workers_[best];
  }

  /// Jobs in flight over all workers.
  int in_flight() const {
    int total = 0;
    for (const auto& load : loads_)
      total += load->jobs();
    return total;
  }

  const std::vector<Handle>& workers() const { return workers_; }

private:
  std::vector<Handle> workers_;
  std::vector<load_ptr> loads_;
  std::atomic<std::size_t> next_{0};
  std::shared_ptr<metrics::actor_meter> meter_;
};

} // namespace imgproc
