#include "common/base64.hpp"

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace imgproc {
namespace {

TEST(base64, encodes_rfc4648_vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(base64, round_trips_binary_data) {
  std::mt19937 rng{42};
  for (int size : {0, 1, 2, 3, 4, 255, 1000, 65537}) {
    std::string data(static_cast<std::size_t>(size), '\0');
    for (auto& c : data)
      c = static_cast<char>(rng());
    auto decoded = base64_decode(base64_encode(data));
    ASSERT_TRUE(decoded) << size;
    EXPECT_EQ(*decoded, data) << size;
  }
}

TEST(base64, decoding_skips_line_breaks) {
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy\n"), std::optional<std::string>{"foobar"});
}

TEST(base64, rejects_what_is_not_base64) {
  EXPECT_FALSE(base64_decode("Zm9"));        // length not a multiple of 4
  EXPECT_FALSE(base64_decode("Zm9v!mFy"));   // outside the alphabet
  EXPECT_FALSE(base64_decode("Zg==Zm9v"));   // data after padding
  EXPECT_FALSE(base64_decode("Z==="));       // too much padding
  EXPECT_FALSE(base64_decode("not base64")); // space is skipped, but '=' rules and length fail
}

TEST(base64, checking_agrees_with_decoding_without_decoding) {
  std::vector<std::string> inputs = {"",    "Zm9v",      "Zm9vYg==", "Zm9vYmE=", "Zm9v\r\nYmFy\n",
                                     "Zm9", "Zm9v!mFy",  "Zg==Zm9v", "Z===",     "not base64",
                                     "Zg=", "Zm9vYmFy=", "=Zm9",     "Zg==\n",   " \r\n"};
  for (int length = 0; length < 40; ++length) {
    std::string bytes;
    for (int i = 0; i < length; ++i)
      bytes += static_cast<char>((i * 37 + length) & 0xFF);
    inputs.push_back(base64_encode(bytes));
  }
  for (const auto& text : inputs) {
    auto decoded = base64_decode(text);
    std::string head(8, '\0');
    auto size = base64_check(text, head);
    ASSERT_EQ(size.has_value(), decoded.has_value()) << "'" << text << "'";
    if (!decoded)
      continue;
    EXPECT_EQ(*size, decoded->size()) << text;
    EXPECT_EQ(head, decoded->substr(0, 8)) << text;
  }
}

} // namespace
} // namespace imgproc
