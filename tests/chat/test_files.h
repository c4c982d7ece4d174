// Small file helpers shared by the chat tests: a whole file as text, the shared template folder.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tessera::test {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::filesystem::path chat_template_dir() { return std::filesystem::path(TESSERA_SHARED_DIR) / "chat-templates"; }

}  // namespace tessera::test
