#include "eval_text.h"

#include "commands.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <thread>

namespace tessera::app {
namespace {

Expected<std::vector<int32_t>> read_and_tokenize(const std::string& path, const Tokenizer& tokenizer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open the text file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return io_error(path + ": read error");
  const std::string body = text.str();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return invalid_argument(path + ": the text file is empty");
  return tokenizer.encode(body, /*add_special=*/true, /*parse_special=*/false);
}

}  // namespace

void add_chunked_text_options(CLI::App* cmd, ChunkedTextFlags& flags, const std::string& text_help) {
  cmd->add_option("-m,--model", flags.model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("-f,--file", flags.text_path, text_help);
  cmd->add_option("-c,--ctx", flags.context, "Tokens per chunk (0: min(512, the model's context))")->capture_default_str();
  cmd->add_option("--chunks", flags.max_chunks, "Most chunks to run (-1: all)")->capture_default_str();
  cmd->add_option("-t,--threads", flags.num_threads, "Threads (0: all cores)")->capture_default_str();
}

Expected<ChunkedText> load_chunked_text(ChunkedTextFlags f) {
  if (f.text_path.empty()) return invalid_argument("-f TEXT_FILE is required");
  if (f.context < 0 || f.context == 1 || f.context > 1 << 20) return invalid_argument("--ctx must be 0 (model default) or >= 2");
  if (f.max_chunks == 0 || f.max_chunks < -1) return invalid_argument("--chunks must be -1 (all) or >= 1");
  if (f.num_threads < 0 || f.num_threads > 1024) return invalid_argument("-t must be between 1 and 1024");
  if (f.model_path.empty()) f.model_path = default_model_path();
  TS_ASSIGN_OR_RETURN(LoadedModel tokenizer_only, load_model(f.model_path, /*with_weights=*/false));
  TS_ASSIGN_OR_RETURN(const ModelConfig config, read_model_config(*tokenizer_only.file));
  ChunkedText out;
  out.context = f.context > 0 ? f.context : std::min(512, config.context_length);
  ModelOptions options;
  options.max_context = out.context;
  TS_ASSIGN_OR_RETURN(out.loaded, load_model(f.model_path, /*with_weights=*/true, options));
  TS_ASSIGN_OR_RETURN(out.tokens, read_and_tokenize(f.text_path, *out.loaded.tokenizer));
  out.bos_id = out.loaded.tokenizer->add_bos() ? out.loaded.tokenizer->bos_id() : -1;
  const auto whole = static_cast<int32_t>(std::min<int64_t>(static_cast<int64_t>(out.tokens.size()) / out.context, INT32_MAX));
  out.num_chunks = f.max_chunks > 0 ? std::min(whole, f.max_chunks) : whole;
  const unsigned cores = std::thread::hardware_concurrency();
  out.num_threads = f.num_threads > 0 ? f.num_threads : static_cast<int>(cores == 0 ? 1 : cores);
  return out;
}

}  // namespace tessera::app
