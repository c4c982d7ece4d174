#include "serve/web_assets.h"

namespace tessera::serve {

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/web/chat.html";
  if (path == "/dashboard") path = "/web/dashboard.html";
  for (const WebAsset& asset : web_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace tessera::serve
