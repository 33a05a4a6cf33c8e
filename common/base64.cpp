#include "common/base64.hpp"

#include <array>
#include <cstdint>

namespace imgproc {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}

constexpr auto decode_table = make_decode_table();

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

} // namespace

void base64_encode(std::string_view in, std::string& out) {
  const auto* data = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  std::size_t start = out.size();
  out.resize(start + (n + 2) / 3 * 4);
  char* dst = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = alphabet[v & 63];
  }
  if (i < n) {
    std::uint32_t v = data[i] << 16;
    if (i + 1 < n)
      v |= data[i + 1] << 8;
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    *dst++ = '=';
  }
}

std::string base64_encode(std::string_view in) {
  std::string out;
  base64_encode(in, out);
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int count = 0;   // symbols in the current quantum
  int padding = 0; // '=' seen
  for (char c : in) {
    if (is_space(c))
      continue;
    if (c == '=') {
      if (count < 2)
        return std::nullopt;
      ++padding;
      ++count;
      acc <<= 6;
    } else {
      if (padding > 0)
        return std::nullopt; // data after padding
      auto v = decode_table[static_cast<unsigned char>(c)];
      if (v < 0)
        return std::nullopt;
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      ++count;
    }
    if (count == 4) {
      out.push_back(static_cast<char>((acc >> 16) & 0xFF));
      if (padding < 2)
        out.push_back(static_cast<char>((acc >> 8) & 0xFF));
      if (padding < 1)
        out.push_back(static_cast<char>(acc & 0xFF));
      acc = 0;
      count = 0;
      if (padding > 0)
        padding = 3; // nothing may follow a padded quantum
    }
  }
  if (count != 0)
    return std::nullopt;
  return out;
}

std::optional<std::size_t> base64_check(std::string_view in, std::string& head) {
  std::size_t wanted = head.size();
  head.clear();
  std::size_t symbols = 0; // non-space characters
  std::size_t padding = 0;
  std::string first; // the symbols that decode to `head`
  for (char c : in) {
    if (is_space(c))
      continue;
    if (c == '=') {
      if (symbols % 4 < 2)
        return std::nullopt;
      ++padding;
    } else if (padding > 0 || decode_table[static_cast<unsigned char>(c)] < 0) {
      return std::nullopt; // data after padding, or not in the alphabet
    }
    if (first.size() < (wanted + 2) / 3 * 4)
      first += c;
    ++symbols;
  }
  if (symbols % 4 != 0 || padding > 2)
    return std::nullopt;
  if (auto decoded = base64_decode(first))
    head = decoded->substr(0, wanted);
  return symbols / 4 * 3 - padding;
}

} // namespace imgproc
