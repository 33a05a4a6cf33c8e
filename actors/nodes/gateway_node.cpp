#include "actors/nodes/gateway_node.hpp"

#include "actors/cluster/dispatcher_actor.hpp"
#include "actors/cluster/membership_actor.hpp"
#include "actors/cluster/node_actor.hpp"
#include "actors/messages.hpp"
#include "actors/metered.hpp"
#include "actors/request/dry_run_actor.hpp"
#include "actors/request/pipeline_actor.hpp"
#include "actors/storage/persistence_actor.hpp"
#include "actors/storage/pipeline_admin_actor.hpp"
#include "actors/storage/pipeline_catalog_actor.hpp"
#include "actors/storage/task_sweeper_actor.hpp"
#include "core/pipeline_plan.hpp"
#include "core/step_catalogue.hpp"
#include "db/change_listener.hpp"

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <mutex>
#include <thread>

namespace imgproc {
namespace {

caf::actor_system_config& configure(caf::actor_system_config& cfg, const gateway_settings& s) {
  configure_node_basics(cfg, s.scheduler_threads, s.scheduler);
  if (s.cluster.listen)
    configure_cluster(cfg, s.cluster);
  else
    register_cluster_types(cfg);
  return cfg;
}

failure shutting_down() {
  return make_failure(error_code::shutting_down,
                      "the service is shutting down; retry on another instance");
}

} // namespace

struct gateway_node::impl {
  gateway_settings settings;
  std::shared_ptr<const step_registry> registry;
  /// Dry runs running now (bounded by settings.dry_run_limit).
  std::shared_ptr<std::atomic<int>> dry_runs = std::make_shared<std::atomic<int>>(0);
  std::atomic<bool> stopping{false};
  std::mutex startup_mutex;
  std::string startup_problem; ///< guarded by startup_mutex; empty once start-up is done
  bool actors_stopped = false;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  services_ptr services;
  pipeline_admin_actor admin;
  std::unique_ptr<db::pipeline_change_listener> listener;
  pools_ptr pools;       ///< this process's stage actors, when it runs jobs itself
  node_actor local_node; ///< this process as a node, when capacity > 0
  membership_actor membership;
  caf::actor sweeper;
  async_runner_actor async_runner;
  std::optional<std::uint16_t> cluster_port;

  impl(gateway_settings s, std::shared_ptr<const step_registry> reg)
      : settings(std::move(s)), registry(std::move(reg)) {
    configure(config, settings);
    system = std::make_unique<caf::actor_system>(config);
    services = std::make_shared<pipeline_services>();
    // A row write is waited for past the deadline if need be, but no longer than the server
    // allows the statement to run, plus the round trip.
    services->db_timeout = settings.db_statement_timeout + std::chrono::milliseconds(1000);
    services->catalog = spawn_pipeline_catalog(
        *system, {settings.dsn, settings.pipeline_cache_ttl, settings.db_statement_timeout},
        registry);
    admin = spawn_pipeline_admin(*system, settings.dsn, settings.db_statement_timeout);
    // Changes committed by any process (API or plain SQL) reach this catalogue at once.
    listener = std::make_unique<db::pipeline_change_listener>(
        settings.dsn, [catalog = services->catalog](std::optional<int> id) {
          caf::anon_send(catalog, invalidate_atom::value, id.value_or(0));
        });
    listener->start();
    services->persistence.set_meter(actor_meter_for("persistence"));
    services->dispatcher_meter = actor_meter_for("dispatcher");
    services->pipeline_meter = actor_meter_for("pipeline");
    for (std::size_t i = 0; i < settings.db_connections; ++i) {
      auto load = std::make_shared<load_counter>();
      services->persistence.add(spawn_persistence(*system, settings.dsn,
                                                  settings.db_statement_timeout,
                                                  settings.db_write_group, load),
                                load);
    }
    // A local node joins at once (its join message is ahead of any request): accept from the
    // start. Without one, nothing runs until a worker joins.
    services->admission = std::make_shared<std::atomic<admission_state>>(
        settings.capacity > 0 ? admission_state::accepting : admission_state::no_nodes);
    // The sweeper gets only the persistence pool; the aliasing pointer keeps the services alive.
    sweeper = spawn_task_sweeper(*system, persistence_pool_ptr(services, &services->persistence),
                                 settings.sweep);
    services->async_queue_limit = settings.async_queue_limit;
    services->budget = settings.stages.budget;
    services->dispatcher = spawn_dispatcher(*system, {settings.node_name, settings.queue_limit, 3,
                                                      services->admission, services->refused});
    if (settings.capacity > 0) {
      pools = spawn_stage_pools(*system, settings.stages);
      local_node = spawn_node(*system, pools, registry, settings.node_name,
                              std::make_shared<load_counter>());
      node_info info{settings.node_name, "in-process", settings.capacity, true};
      caf::anon_send(services->dispatcher, join_atom::value,
                     caf::actor_cast<caf::actor>(local_node), std::move(info));
    }
    if (settings.cluster.listen) {
      membership = spawn_membership(*system, services->dispatcher);
      auto port = publish_membership(*system, caf::actor_cast<caf::strong_actor_ptr>(membership),
                                     settings.cluster);
      if (!port)
        throw std::runtime_error("cannot listen for worker nodes on " + settings.cluster.host +
                                 ":" + std::to_string(settings.cluster.port) + ": " +
                                 system->render(port.error()));
      cluster_port = *port;
    }
    // Last: queued tasks are claimed only once everything they run through exists.
    async_runner = spawn_async_runner(*system, services, settings.async);
    services->async_runner = async_runner;
  }

  bool drain(std::chrono::milliseconds grace) {
    stopping = true;
    if (!services)
      return true;
    // No new claims; runs already claimed finish like requests (what is left when the grace
    // period ends is requeued by the next process, its owner being gone).
    if (async_runner)
      caf::anon_send_exit(async_runner, caf::exit_reason::user_shutdown);
    auto give_up = std::chrono::steady_clock::now() + grace;
    // Pipeline actors end by their own deadlines, so this wait is bounded anyway; polling a
    // counter during shutdown is simpler than a condition variable shared with every actor.
    while (services->running_pipelines.load() > 0) {
      if (std::chrono::steady_clock::now() >= give_up)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  void stop_actors() {
    stopping = true;
    if (listener) {
      listener->stop();
      listener.reset();
    }
    if (actors_stopped || !system || !services)
      return;
    actors_stopped = true;
    auto stop = [](const auto& handle) {
      if (handle)
        caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    };
    stop(services->catalog);
    stop(admin);
    stop(services->dispatcher);
    stop(sweeper);
    stop(async_runner);
    stop(membership);
    stop(local_node);
    for (const auto& w : services->persistence.workers())
      stop(w);
    if (pools)
      stop_stage_pools(*pools);
    // Waits for termination, which does not need the handles gone; they are dropped in
    // release(), once the HTTP server (whose threads still read them) has stopped.
    system->await_all_actors_done();
  }

  /// Spawns a short-lived actor that sends `args` to `dest` and passes its answer (a T or a
  /// failure) on: the HTTP thread never blocks on the database.
  template <class T, class Handle, class... Ts>
  void ask(const Handle& dest, answer_ptr<T> answer, Ts... args) {
    if (stopping)
      return answer->send(shutting_down());
    try {
      system->spawn([=, timeout = settings.task_read_timeout](caf::event_based_actor* self) {
        self->request(dest, timeout, args...)
            .then([answer](T& value) { answer->send(std::move(value)); },
                  [answer](caf::error& err) { answer->send(from_caf_error(err)); });
      });
    } catch (const std::exception& e) {
      answer->send(
          make_failure(error_code::internal, std::string{"cannot start the call: "} + e.what()));
    }
  }

  /// The dispatcher's refusal of a new job (counted as rejected), or nullopt when it accepts.
  std::optional<failure> admission_refusal() {
    auto refuse = [&](const char* reason, const char* detail) {
      services->refused->fetch_add(1);
      services->dispatcher_meter->rejected();
      if (auto* metrics = process_metrics())
        metrics->dispatch_rejected(reason);
      return make_failure(error_code::overloaded, detail);
    };
    switch (services->admission->load()) {
      case admission_state::accepting:
        return std::nullopt;
      case admission_state::no_nodes:
        return refuse("no_nodes", "no worker node is available to run the request");
      case admission_state::full:
        return refuse("queue_full", "every node is busy and the queue is full; retry shortly");
    }
    return std::nullopt;
  }

  /// As ask(), to the least-loaded persistence actor (picked only when the call goes out).
  template <class T, class... Ts> void ask_persistence(answer_ptr<T> answer, Ts... args) {
    if (stopping)
      return answer->send(shutting_down());
    ask(services->persistence.pick(), std::move(answer), std::move(args)...);
  }

  /// As ask(), to the administration actor, with a pipeline definition checked here first.
  template <class... Ts>
  void ask_with_definition(const std::string& body, answer_ptr<pipeline_record> answer,
                           Ts... head) {
    auto def = parse_pipeline_definition(*registry, body);
    if (!def)
      return answer->send(def.error());
    ask(admin, std::move(answer), head..., std::move(def.value()));
  }

  void release() {
    stop_actors();
    // A detached actor's thread ends only once nobody holds the actor: drop every handle.
    admin = nullptr;
    membership = nullptr;
    local_node = nullptr;
    sweeper = nullptr;
    async_runner = nullptr;
    if (services)
      services->async_runner = nullptr; // the runner's state holds services: break the cycle
    pools.reset();
    services.reset();
    // ~actor_system also waits for CAF's logger, which every thread that ever spawned an actor
    // (RESTinio's I/O threads do) keeps alive through a thread-local reference: stop the HTTP
    // server before this, or it never returns.
    system.reset();
  }
};

gateway_node::gateway_node(gateway_settings settings, std::shared_ptr<const step_registry> registry)
    : impl_(std::make_unique<impl>(std::move(settings), std::move(registry))) {}

gateway_node::~gateway_node() {
  shutdown();
}

void gateway_node::stop_actors() {
  impl_->stop_actors();
}

void gateway_node::shutdown() {
  impl_->release();
}

bool gateway_node::drain(std::chrono::milliseconds grace) {
  return impl_->drain(grace);
}

void gateway_node::process(process_request request, answer_ptr<task_answer> answer) {
  if (impl_->stopping)
    return answer->send(shutting_down());
  // Refused before any row or actor exists: overload costs the database nothing. A task to
  // queue needs no node now: the queue has its own bound.
  if (!request.async)
    if (auto refused = impl_->admission_refusal())
      return answer->send(std::move(*refused));
  try {
    auto running = std::make_unique<running_pipeline>(impl_->services);
    spawn_pipeline(*impl_->system, impl_->services, std::move(request), answer, std::move(running));
  } catch (const std::exception& e) {
    answer->send(
        make_failure(error_code::internal, std::string{"cannot start the pipeline: "} + e.what()));
  }
}

void gateway_node::dry_run(dry_run_request request, answer_ptr<dry_run_answer> answer) {
  if (impl_->stopping)
    return answer->send(shutting_down());
  plan_ptr plan; // an unsaved definition is checked and planned here, as POST /pipelines is
  if (request.pipeline_id == 0) {
    auto def = parse_pipeline_definition(*impl_->registry, request.definition);
    if (!def)
      return answer->send(def.error());
    auto planned = plan_pipeline(*impl_->registry, 0, def->title, def->steps);
    if (!planned)
      return answer->send(planned.error());
    plan = std::make_shared<const pipeline_plan>(std::move(planned.value()));
  }
  if (auto refused = impl_->admission_refusal())
    return answer->send(std::move(*refused));
  // Previews make a dry run dearer than a request: at most dry_run_limit run at once.
  auto running_dry_runs = impl_->dry_runs;
  if (running_dry_runs->fetch_add(1) >= impl_->settings.dry_run_limit) {
    running_dry_runs->fetch_sub(1);
    return answer->send(
        make_failure(error_code::overloaded, "too many dry runs at once (at most " +
                                                 std::to_string(impl_->settings.dry_run_limit) +
                                                 ", --dry-run-limit); retry shortly"));
  }
  std::shared_ptr<void> slot{nullptr,
                             [running_dry_runs](void*) { running_dry_runs->fetch_sub(1); }};
  try {
    auto running = std::make_unique<running_pipeline>(impl_->services);
    spawn_dry_run(*impl_->system, impl_->services, std::move(request), std::move(plan), answer,
                  std::move(running), std::move(slot));
  } catch (const std::exception& e) {
    answer->send(
        make_failure(error_code::internal, std::string{"cannot start the dry run: "} + e.what()));
  }
}

void gateway_node::list_tasks(task_filter filter, answer_ptr<task_page> answer) {
  impl_->ask_persistence(std::move(answer), list_atom::value, std::move(filter));
}

void gateway_node::get_task(std::int64_t id, answer_ptr<task_record> answer) {
  impl_->ask_persistence(std::move(answer), get_atom::value, id);
}

void gateway_node::list_steps(answer_ptr<step_list> answer) {
  answer->send(step_list{describe_steps(*impl_->registry)});
}

void gateway_node::list_pipelines(answer_ptr<pipeline_list> answer) {
  impl_->ask(impl_->admin, std::move(answer), list_atom::value);
}

void gateway_node::get_pipeline(int id, std::optional<int> version,
                                answer_ptr<pipeline_record> answer) {
  impl_->ask(impl_->admin, std::move(answer), get_atom::value, id, version.value_or(0));
}

void gateway_node::create_pipeline(std::string body, answer_ptr<pipeline_record> answer) {
  impl_->ask_with_definition(body, std::move(answer), create_atom::value);
}

void gateway_node::replace_pipeline(int id, std::string body, answer_ptr<pipeline_record> answer) {
  impl_->ask_with_definition(body, std::move(answer), put_atom::value, id);
}

void gateway_node::delete_pipeline(int id, answer_ptr<pipeline_removal> answer) {
  impl_->ask(impl_->admin, std::move(answer), delete_atom::value, id);
}

void gateway_node::set_startup_problem(std::string problem) {
  std::lock_guard<std::mutex> lock(impl_->startup_mutex);
  impl_->startup_problem = std::move(problem);
}

void gateway_node::check_ready(answer_ptr<service_ready> answer) {
  if (impl_->stopping)
    return answer->send(shutting_down());
  {
    std::lock_guard<std::mutex> lock(impl_->startup_mutex);
    if (!impl_->startup_problem.empty())
      return answer->send(make_failure(error_code::starting_up, "database start-up not done yet: " +
                                                                    impl_->startup_problem));
  }
  auto services = impl_->services;
  auto dispatcher = services->dispatcher;
  try {
    impl_->system->spawn([services, dispatcher, answer](caf::event_based_actor* self) {
      self->request(dispatcher, std::chrono::seconds(2), ping_atom::value)
          .then(
              [self, services, answer](bool has_nodes) {
                if (!has_nodes)
                  return answer->send(make_failure(error_code::overloaded,
                                                   "no node can run jobs: no worker node has "
                                                   "joined and this gateway runs none itself"));
                // Picked only now: pick() counts and stamps a message, which must then be sent.
                self->request(services->persistence.pick(), std::chrono::seconds(2),
                              ping_atom::value)
                    .then(
                        [answer](const std::string& problem) {
                          if (problem.empty())
                            answer->send(service_ready{});
                          else
                            answer->send(make_failure(error_code::database_unavailable,
                                                      "the database does not answer: " + problem));
                        },
                        [answer](caf::error&) {
                          answer->send(make_failure(error_code::database_unavailable,
                                                    "the database does not answer in time"));
                        });
              },
              [answer](caf::error& err) { answer->send(from_caf_error(err)); });
    });
  } catch (const std::exception& e) {
    answer->send(make_failure(error_code::internal, e.what()));
  }
}

void gateway_node::cluster_status(answer_ptr<cluster_view> answer) {
  impl_->ask(impl_->services->dispatcher, std::move(answer), status_atom::value);
}

std::optional<std::uint16_t> gateway_node::cluster_port() const {
  return impl_->cluster_port;
}

} // namespace imgproc
