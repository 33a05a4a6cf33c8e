#pragma once

// Learning of pipeline changes as they commit, from PostgreSQL's LISTEN/NOTIFY.
//
// Every committed change of a pipeline sends NOTIFY pipeline_changed, '<id>' (database triggers,
// see db/migrations/0003_pipeline_versions.sql). A pipeline_change_listener keeps one connection
// of its own LISTENing on that channel, on its own thread, and calls back with the id, so caches
// of pipelines can drop exactly what changed instead of expiring on a timer.
//
// Notifications sent while no connection is listening are lost for good. So after every
// (re)connect, once LISTEN is in place, the callback gets nullopt: "anything may have changed,
// drop everything". A listener that lost its connection reconnects by itself, with a backoff
// from 100 ms doubling up to 2 s.
//
// No CAF here: the callback is a plain function, so an actor can wrap it (e.g. send itself a
// message from it) and the class is tested on its own.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace imgproc::db {

/// The NOTIFY channel the triggers send on; the payload is the pipeline id in decimal.
inline constexpr const char* pipeline_changed_channel = "pipeline_changed";

class pipeline_change_listener {
public:
  /// Called on the listener's thread with the id of a pipeline whose change just committed, or
  /// with nullopt after every (re)connect (and for a payload that is not an id) to say "drop
  /// all caches". Keep it short and thread-safe; it must not call stop() or destroy the
  /// listener. An exception it throws is logged and otherwise ignored.
  using callback = std::function<void(std::optional<int> pipeline_id)>;

  /// Does not connect: start() does. start() and stop() are meant to be called from one thread
  /// (the owner's).
  pipeline_change_listener(std::string dsn, callback on_change);
  /// Calls stop().
  ~pipeline_change_listener();
  pipeline_change_listener(const pipeline_change_listener&) = delete;
  pipeline_change_listener& operator=(const pipeline_change_listener&) = delete;

  /// Starts the listening thread; does nothing if it is already running. Connection problems
  /// never reach the caller: the thread logs them and retries until stop().
  /// Throws std::system_error if no thread can be started.
  void start();

  /// Stops the thread and closes its connection. Returns within about 0.3 s (the listener waits
  /// for notifications in 200 ms slices); if the thread is in the middle of connecting it first
  /// finishes that attempt, which an unreachable TCP host bounds by connect_timeout=2 unless the
  /// DSN sets its own. No callback runs after stop() returns. Never throws.
  void stop() noexcept;

private:
  void run() noexcept;
  /// One connection's life: connect, LISTEN (then sets `connected`), announce nullopt, dispatch
  /// notifications until stop() (returns) or the connection fails (throws).
  void listen(bool& connected);
  void deliver(std::optional<int> pipeline_id) noexcept;
  bool stopping();
  /// Sleeps `delay` unless stop() comes first.
  void pause(std::chrono::milliseconds delay);

  std::string dsn_;
  callback on_change_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false; // guarded by mutex_
  std::thread thread_;
};

} // namespace imgproc::db
