// The browser pages `tessera serve` carries: web/*.html|css|js compiled into the binary by
// cmake/EmbedWebAssets.cmake (no files are read at run time, nothing is fetched from a CDN).
#pragma once

#include <span>
#include <string_view>

namespace tessera::serve {

struct WebAsset {
  std::string_view path;          // "/web/chat.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

// Every embedded file (defined in the generated web_assets_data.cpp).
std::span<const WebAsset> web_assets();
// The asset a GET of `path` answers with: "/" is the chat page, "/dashboard" the engine view,
// "/web/<file>" any embedded file; nullptr for anything else.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace tessera::serve
