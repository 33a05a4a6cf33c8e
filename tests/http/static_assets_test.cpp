// The dashboard files compiled into the binary (http/static_assets.hpp, generated from
// dashboard/ by cmake/embed_assets.cmake).

#include "http/static_assets.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <regex>
#include <string>

namespace imgproc {
namespace {

TEST(static_assets, serves_the_dashboard_files_with_their_content_types) {
  struct expected {
    const char* name;
    const char* content_type;
    const char* starts_with;
  };
  for (const auto& e :
       {expected{"index.html", "text/html; charset=utf-8", "<!doctype html>"},
        expected{"app.js", "text/javascript", "//"}, expected{"style.css", "text/css", "/*"},
        expected{"favicon.svg", "image/svg+xml", "<svg"}}) {
    SCOPED_TRACE(e.name);
    const auto* asset = find_static_asset(e.name);
    ASSERT_NE(asset, nullptr);
    EXPECT_EQ(asset->content_type, e.content_type);
    EXPECT_EQ(asset->body.substr(0, std::string_view{e.starts_with}.size()), e.starts_with);
    // The whole file, not cut at the first NUL or line: it ends as the source does.
    EXPECT_GT(asset->body.size(), 100u);
    EXPECT_EQ(asset->body.back(), '\n');
  }
}

TEST(static_assets, the_bodies_are_the_files_byte_for_byte) {
  const auto* view = find_static_asset("view.js");
  const auto* parser = find_static_asset("prometheus.js");
  ASSERT_NE(view, nullptr);
  ASSERT_NE(parser, nullptr);
  // Non-ASCII text (UTF-8 bytes above 0x7f) and backslashes survive the embedding.
  EXPECT_NE(view->body.find("\xc2\xb5s"), std::string_view::npos) << "the 'µs' unit";
  EXPECT_NE(parser->body.find("'\\\\'"), std::string_view::npos) << "the parser's backslash";
  EXPECT_EQ(view->body.find('\0'), std::string_view::npos);
  EXPECT_EQ(parser->body.find('\0'), std::string_view::npos);
  const auto* html = find_static_asset("index.html");
  ASSERT_NE(html, nullptr);
  EXPECT_NE(html->body.find("</html>"), std::string_view::npos);
}

TEST(static_assets, everything_the_page_links_is_embedded) {
  const auto* html = find_static_asset("index.html");
  ASSERT_NE(html, nullptr);
  std::string page{html->body};
  std::regex link{R"re((?:src|href)="/dashboard/([^"]+)")re"};
  int links = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), link); it != std::sregex_iterator();
       ++it, ++links) {
    SCOPED_TRACE((*it)[1].str());
    EXPECT_NE(find_static_asset((*it)[1].str()), nullptr);
  }
  EXPECT_GE(links, 3); // the stylesheet, the script, the icon
}

TEST(static_assets, only_exact_file_names_match) {
  for (const char* path :
       {"", "index", "index.htm", "INDEX.HTML", "/index.html", "index.html/", "./index.html",
        "../index.html", "dashboard/index.html", "..", "nope.js"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(find_static_asset(path), nullptr);
  }
  EXPECT_EQ(find_static_asset(std::string_view{"app.js\0", 7}), nullptr);
}

TEST(static_assets, names_are_sorted_and_each_resolves) {
  auto names = static_asset_names();
  ASSERT_GE(names.size(), 4u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (auto name : names) {
    SCOPED_TRACE(std::string{name});
    const auto* asset = find_static_asset(name);
    ASSERT_NE(asset, nullptr);
    EXPECT_FALSE(asset->body.empty());
    EXPECT_FALSE(asset->content_type.empty());
  }
}

} // namespace
} // namespace imgproc
