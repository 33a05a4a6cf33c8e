#pragma once

// Opening connections and working out which database to open.
//
// The service takes either a DATABASE_URL or the original service's POSTGRES_SERVER, _USER,
// _PASSWORD, _DB and _PORT parts; resolve_dsn() turns whichever was given into one libpq DSN so
// the rest of the code only ever sees a DSN.

#include <chrono>
#include <memory>
#include <pqxx/connection>
#include <string>

namespace imgproc::db {

/// Opens a connection. Adds `connect_timeout=5` unless the DSN sets one, so an unreachable host
/// fails in seconds instead of hanging on the kernel's TCP timeout.
/// Throws pqxx::broken_connection if the server cannot be reached or refuses the login (also for
/// a malformed DSN: libpq reports both the same way).
std::unique_ptr<pqxx::connection> connect(const std::string& dsn);

/// Bounds how long one statement may run and wait for locks on this connection, so a stuck
/// database fails a request instead of holding a thread (and shutdown) indefinitely.
void set_session_timeouts(pqxx::connection& conn, std::chrono::milliseconds statement,
                          std::chrono::milliseconds lock);

// --- Instance identity -------------------------------------------------------------------------
// Each running service instance names its sessions "imgproc:<instance id>" (PostgreSQL's
// application_name). Task rows record the name of the session that created them (tasks.owner),
// and fail_abandoned_tasks() treats a row as abandoned once no session of that name is connected.

/// A fresh random instance id: 16 lowercase hex digits (64 bits from std::random_device).
/// Throws whatever std::random_device throws if no entropy source is available.
std::string new_instance_id();

/// "imgproc:" + `instance_id`, in the form PostgreSQL stores an application_name: bytes outside
/// printable ASCII become '?' (as the server would turn them) and the result is cut to 63 bytes
/// (NAMEDATALEN - 1, where pg_stat_activity cuts it). The value is therefore exactly what the
/// server reports for a session that sets it, and what ends up in tasks.owner.
std::string instance_application_name(const std::string& instance_id);

/// Sets this session's application_name to `name` (as a parameter of
/// `SELECT set_config('application_name', $1, false)`, never as SQL text). Lasts until the
/// session ends, and only for it: call it on every freshly opened connection, e.g. from a
/// db::session prepare hook, before creating tasks. (libpqxx 6 may silently reopen a broken
/// pqxx::connection that is used again, and such a new session has lost the name; db::session
/// never reuses a broken connection.)
/// Must not be called inside a transaction on `conn`. Throws std::invalid_argument if `name`
/// holds a NUL byte, pqxx exceptions from the database.
void set_application_name(pqxx::connection& conn, const std::string& name);

/// Returns `dsn` with `application_name=<name>` appended (percent-encoded in a URI). libpq takes
/// the last value of a repeated parameter, so this overrides one the DSN may already set: every
/// connection the DSN opens, including libpq's silent reconnects, carries the name that marks
/// the instance owning its task rows.
std::string with_application_name(const std::string& dsn, const std::string& name);

/// Returns `dsn` with `connect_timeout=<seconds>` added unless it already has one. Understands
/// both URI (`postgresql://...`) and key=value DSNs. Never throws except std::bad_alloc.
std::string with_connect_timeout(const std::string& dsn, int seconds = 5);

/// The DSN to use: `database_url` if not empty; otherwise a `postgresql://` URI built from the
/// parts (user, password and database percent-encoded; a server starting with '/' is taken as a
/// Unix socket directory; an empty port is left to libpq's default). Returns "" if both
/// `database_url` and `postgres_server` are empty, meaning "no database configured".
std::string resolve_dsn(const std::string& database_url, const std::string& postgres_server,
                        const std::string& postgres_user, const std::string& postgres_password,
                        const std::string& postgres_db, const std::string& postgres_port);

/// The DSN with any password replaced by `***`, for logs and error messages. Handles the URI
/// userinfo (`user:secret@`), a `password=` URI query parameter and a `password=` key=value pair.
std::string redact_dsn(const std::string& dsn);

/// A libpq error message on one line: its lines joined with "; ", runs of spaces collapsed,
/// trimmed ("connection to server ... failed: FATAL:  password authentication failed ..." stays
/// readable in a one-line log or a JSON detail).
std::string one_line(const std::string& message);

/// Whether a connection error is one that waiting does not cure: the credentials, the role or the
/// database name are wrong, or the server's rules refuse this client. Such an error ends the
/// start-up wait for the database at once; an unreachable server does not.
bool is_configuration_error(const std::string& message);

/// Percent-encodes everything except RFC 3986 unreserved characters.
std::string percent_encode(const std::string& text);

} // namespace imgproc::db
