#pragma once

// A choice list's names and values in one table. The step registry offers the names as a
// parameter's choices, the step parses the chosen one, and an output names a value back, all
// from the same table: a name added or renamed in one place is right everywhere.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

template <class Enum> struct named_value {
  const char* name;
  Enum value;
};

template <class Enum, std::size_t N> using name_table = std::array<named_value<Enum>, N>;

template <class Enum, std::size_t N>
std::vector<std::string> names_of(const name_table<Enum, N>& table) {
  std::vector<std::string> names;
  for (const auto& entry : table)
    names.emplace_back(entry.name);
  return names;
}

template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const name_table<Enum, N>& table, std::string_view name) {
  for (const auto& entry : table)
    if (name == entry.name)
      return entry.value;
  return std::nullopt;
}

template <class Enum, std::size_t N>
const char* name_of(const name_table<Enum, N>& table, Enum value) {
  for (const auto& entry : table)
    if (entry.value == value)
      return entry.name;
  return "?";
}

} // namespace imgproc
