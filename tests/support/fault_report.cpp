#include "tests/support/fault_report.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace imgproc::testing {
namespace {

using json = nlohmann::json;

struct stored_row {
  std::int64_t id = 0;
  std::string status;
  json data; ///< null when the column is NULL
};

/// The scenario's rows, by filename.
std::map<std::string, std::vector<stored_row>> read_rows(const std::string& dsn,
                                                         const std::string& prefix) {
  std::map<std::string, std::vector<stored_row>> out;
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  auto rows = txn.exec_params(
      "SELECT id, filename, status, data::text FROM tasks WHERE starts_with(filename, $1) "
      "ORDER BY id",
      prefix);
  for (const auto& r : rows) {
    stored_row row;
    row.id = r[0].as<std::int64_t>();
    row.status = r[2].as<std::string>();
    row.data = r[3].is_null() ? json{} : json::parse(r[3].as<std::string>(), nullptr, false);
    out[r[1].as<std::string>()].push_back(std::move(row));
  }
  return out;
}

/// 'processing', or 'queued' (an asynchronous task not yet claimed): not finished.
bool unfinished(const std::string& status) {
  return status == "processing" || status == "queued";
}

long unfinished_rows(const std::string& dsn, const std::string& prefix) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  return txn
      .exec_params1("SELECT count(*) FROM tasks WHERE starts_with(filename, $1) AND "
                    "status IN ('processing', 'queued')",
                    prefix)[0]
      .as<long>();
}

/// Whether the stored row is what the 200 answer said; otherwise why not.
std::string compare_with_answer(const sent_request& request, const stored_row& row) {
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object())
    return "the 200 answer is not a JSON object: " + request.body.substr(0, 200);
  if (!body.contains("id") || body["id"] != row.id)
    return "answered task id " + body.value("id", json{}).dump() + ", stored row id " +
           std::to_string(row.id);
  if (request.status == 202)
    return "";
  if (body.value("status", json{}) != row.status)
    return "answered status " + body.value("status", json{}).dump() + ", stored '" + row.status +
           "'";
  if (body.value("data", json{}) != row.data)
    return "answered data " + body.value("data", json{}).dump() + ", stored " + row.data.dump();
  return "";
}

std::string join_counts(const std::map<int, int>& counts) {
  std::string out;
  for (const auto& [key, value] : counts)
    out += (out.empty() ? "" : ",") + std::to_string(key) + ":" + std::to_string(value);
  return out.empty() ? "-" : out;
}

std::string join_counts(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [key, value] : counts)
    out += (out.empty() ? "" : ",") + key + ":" + std::to_string(value);
  return out.empty() ? "-" : out;
}

/// Markdown table cells must not contain '|' or line breaks.
std::string cell(std::string text) {
  for (auto& c : text)
    if (c == '|' || c == '\n' || c == '\r')
      c = c == '|' ? '/' : ' ';
  return text;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

bool write_all(int fd, const std::string& text) {
  return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

/// Creates `path` holding `header` unless it exists: written to a temporary file first and then
/// linked into place, so no other process ever sees the file without its header.
void create_with_header(const std::string& path, const std::string& header) {
  if (::access(path.c_str(), F_OK) == 0)
    return;
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  bool ok = write_all(fd, header);
  ::close(fd);
  if (ok && ::link(temporary.c_str(), path.c_str()) != 0 && errno != EEXIST)
    std::fprintf(stderr, "fault-report: cannot create %s: %s\n", path.c_str(),
                 std::strerror(errno));
  ::unlink(temporary.c_str());
}

} // namespace

std::string fault_filename(const std::string& scenario, int n) {
  return scenario + "-" + std::to_string(n) + ".jpg";
}

void request_log::add(sent_request request) {
  std::lock_guard<std::mutex> lock{mutex_};
  requests_.push_back(std::move(request));
}

std::vector<sent_request> request_log::all() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return requests_;
}

std::size_t request_log::size() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return requests_.size();
}

void check_stored(fault_tally& tally, const std::string& dsn,
                  const std::vector<sent_request>& requests, std::chrono::milliseconds settle) {
  const std::string prefix = tally.scenario + "-";
  tally.sent = static_cast<int>(requests.size());
  tally.answered.clear();
  for (const auto& request : requests)
    ++tally.answered[static_cast<int>(request.status)];

  // Rows are closed right after (for some failures, just after) the answer: poll, bounded.
  auto give_up = std::chrono::steady_clock::now() + settle;
  while (unfinished_rows(dsn, prefix) > 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // between polls

  auto rows = read_rows(dsn, prefix);
  tally.stored.clear();
  tally.lost = 0;
  tally.duplicated = 0;
  tally.problems.clear();
  for (const auto& [filename, list] : rows) {
    for (const auto& row : list) {
      ++tally.stored[row.status];
      if (unfinished(row.status)) {
        ++tally.lost;
        tally.problems.push_back("lost: " + filename + " (row " + std::to_string(row.id) +
                                 ") still " + row.status + " " + std::to_string(settle.count()) +
                                 " ms after the scenario");
      }
    }
    if (list.size() > 1) {
      tally.duplicated += static_cast<int>(list.size()) - 1;
      tally.problems.push_back("duplicated: " + filename + " has " + std::to_string(list.size()) +
                               " rows");
    }
  }

  std::set<std::string> seen;
  for (const auto& request : requests) {
    if (request.filename.empty())
      continue;
    if (!seen.insert(request.filename).second)
      tally.problems.push_back("note: filename " + request.filename +
                               " was sent twice by the test; names must be unique");
    if (request.status != 200 && request.status != 202)
      continue;
    auto it = rows.find(request.filename);
    std::string why;
    if (it == rows.end() || it->second.empty())
      why = "answered " + std::to_string(request.status) + " but no row is stored";
    else
      why = compare_with_answer(request, it->second.front());
    if (!why.empty()) {
      ++tally.lost;
      tally.problems.push_back("lost: " + request.filename + ": " + why);
    }
  }
}

void report(const fault_tally& tally) {
  std::ostringstream line;
  line << "fault-report: scenario=" << tally.scenario << " sent=" << tally.sent
       << " answered=" << join_counts(tally.answered) << " stored=" << join_counts(tally.stored)
       << " lost=" << tally.lost << " duplicated=" << tally.duplicated;
  if (!tally.note.empty())
    line << " note=\"" << tally.note << "\"";
  std::printf("%s\n", line.str().c_str());
  std::fflush(stdout);
  for (const auto& problem : tally.problems)
    std::fprintf(stderr, "fault-report: %s: %s\n", tally.scenario.c_str(), problem.c_str());

  try {
    auto path = test_artifacts_dir() + "/fault-report.md";
    create_with_header(path,
                       "# Fault suite report\n\n"
                       "Rows appended by the fault suite, tests/e2e/faults/ (docs/faults.md), one "
                       "per scenario run. `answered` is HTTP status:count (0 = no HTTP answer); "
                       "`stored` is task status:rows.\n\n"
                       "| when (UTC) | scenario | sent | answered | stored | lost | duplicated | "
                       "seconds | note |\n"
                       "|---|---|---|---|---|---|---|---|---|\n");
    std::ostringstream row;
    row.setf(std::ios::fixed);
    row.precision(1);
    row << "| " << utc_now() << " | " << cell(tally.scenario) << " | " << tally.sent << " | "
        << join_counts(tally.answered) << " | " << join_counts(tally.stored) << " | " << tally.lost
        << " | " << tally.duplicated << " | " << tally.seconds << " | " << cell(tally.note)
        << " |\n";
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all(fd, row.str()))
      std::fprintf(stderr, "fault-report: cannot append to %s: %s\n", path.c_str(),
                   std::strerror(errno));
    if (fd >= 0)
      ::close(fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fault-report: %s\n", e.what());
  }
}

std::string problems_text(const fault_tally& tally) {
  std::string out;
  for (const auto& problem : tally.problems)
    out += problem + "\n";
  return out;
}

std::string test_artifacts_dir() {
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    throw std::runtime_error("cannot read /proc/self/exe");
  std::filesystem::path exe{std::string{self, static_cast<std::size_t>(n)}};
  auto dir = exe.parent_path().parent_path() / "test-artifacts";
  std::filesystem::create_directories(dir);
  return dir.string();
}

long resident_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  throw std::runtime_error("no VmRSS in /proc/" + std::to_string(pid) + "/status");
}

} // namespace imgproc::testing
