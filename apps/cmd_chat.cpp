// `tessera chat`: a conversation in the terminal, like `ollama run`. The engine runs in this
// process; each turn renders the whole conversation with the model's chat template, so the
// prefix cache finds the earlier turns' KV blocks and only the new text is computed.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "base/timer.h"
#include "commands.h"
#include "serve/model_chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tessera::app {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

struct ChatFlags {
  std::string model_path;
  std::string system;
  std::string chat_template_path;
  int32_t max_tokens = 512;
  int32_t context_size = 0;
  int32_t num_threads = 0;
  float temperature = 0.8f;
  int64_t seed = -1;
};

struct TurnStats {
  size_t prompt_tokens = 0;
  size_t output_tokens = 0;
  double first_token_s = 0.0;  // from submitting to the first token
  double generate_s = 0.0;     // from the first token to the last
};

// One line from stdin without its newline; false at end of input. Ctrl-C while waiting for input
// interrupts the read (SIGINT is installed without SA_RESTART): *interrupted says so.
bool read_line(std::string* line, bool* interrupted) {
  line->clear();
  *interrupted = false;
  char buffer[4096];
  for (;;) {
    if (std::fgets(buffer, sizeof(buffer), stdin) == nullptr) {
      if (g_interrupted.exchange(false)) {
        std::clearerr(stdin);
        *interrupted = true;
        return true;
      }
      return !line->empty();
    }
    *line += buffer;
    if (!line->empty() && line->back() == '\n') {
      line->pop_back();
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
  }
}

class ChatSession {
 public:
  ChatSession(const ChatFlags& flags, std::unique_ptr<gguf::GgufFile> file, std::unique_ptr<Tokenizer> tokenizer,
              ChatTemplate chat_template, std::unique_ptr<Engine> engine)
      : flags_(flags), file_(std::move(file)), tokenizer_(std::move(tokenizer)),
        template_(std::move(chat_template)), engine_(std::move(engine)) {
    temperature_ = flags.temperature;
    max_tokens_ = flags.max_tokens;
    system_ = flags.system;
  }

  int run() {
    const bool tty = isatty(fileno(stdin)) != 0;
    if (tty) std::printf("Type a message; a line ending in \\ continues it. /? for help, /bye or Ctrl-D to leave.\n");
    for (;;) {
      std::string text;
      bool continued = false;
      for (;;) {
        std::printf("%s", continued ? "... " : ">>> ");
        std::fflush(stdout);
        std::string line;
        bool interrupted = false;
        if (!read_line(&line, &interrupted)) {
          std::printf("\n");
          return 0;
        }
        if (interrupted) {
          std::printf("\nUse Ctrl-D or /bye to leave.\n");
          text.clear();
          continued = false;
          continue;
        }
        if (!line.empty() && line.back() == '\\') {
          text += line.substr(0, line.size() - 1) + "\n";
          continued = true;
          continue;
        }
        text += line;
        break;
      }
      if (text.empty()) continue;
      if (text[0] == '/' && !continued) {
        if (!command(text)) return 0;
        continue;
      }
      turn(text);
    }
  }

 private:
  // A slash command; false when it ends the chat.
  bool command(const std::string& text) {
    auto starts = [&](const char* prefix) { return text.rfind(prefix, 0) == 0; };
    if (text == "/bye" || text == "/exit" || text == "/quit") return false;
    if (text == "/clear") {
      history_.clear();
      std::printf("Cleared the conversation.\n");
    } else if (starts("/set temperature ")) {
      char* end = nullptr;
      const float value = std::strtof(text.c_str() + 17, &end);
      if (end == text.c_str() + 17 || !(value >= 0.0f && value <= 100.0f)) {
        std::printf("Usage: /set temperature 0.7 (>= 0; 0 = greedy)\n");
      } else {
        temperature_ = value;
        std::printf("Set temperature to %g.\n", value);
      }
    } else if (starts("/set max_tokens ")) {
      const long value = std::strtol(text.c_str() + 16, nullptr, 10);
      if (value < 1) {
        std::printf("Usage: /set max_tokens 256\n");
      } else {
        max_tokens_ = static_cast<int32_t>(value);
        std::printf("Set max_tokens to %ld.\n", value);
      }
    } else if (starts("/set system ")) {
      system_ = text.substr(12);
      std::printf("Set the system prompt.\n");
    } else if (text == "/stats") {
      print_stats();
    } else if (text == "/?" || text == "/help") {
      std::printf("/set temperature T   sampling temperature (now %g)\n"
                  "/set max_tokens N    reply length at most (now %d)\n"
                  "/set system TEXT     system prompt\n"
                  "/clear               forget the conversation\n"
                  "/stats               the last reply's and the engine's numbers\n"
                  "/bye                 leave (or Ctrl-D)\n"
                  "A line ending in \\ continues the message; Ctrl-C stops a reply.\n",
                  temperature_, max_tokens_);
    } else {
      std::printf("Unknown command '%s' (/? for help).\n", text.c_str());
    }
    return true;
  }

  void turn(const std::string& text) {
    history_.push_back({"user", text});
    std::vector<ChatMessage> messages;
    if (!system_.empty()) messages.push_back({"system", system_});
    messages.insert(messages.end(), history_.begin(), history_.end());
    Expected<std::string> rendered = template_.render(messages, /*add_generation_prompt=*/true);
    if (!rendered.ok()) {
      std::printf("error: %s\n", rendered.status().message().c_str());
      history_.pop_back();
      return;
    }
    const std::vector<int32_t> prompt = tokenizer_->encode(*rendered, /*add_special=*/false, /*parse_special=*/true);
    const int32_t room = engine_->max_model_len() - static_cast<int32_t>(prompt.size());
    if (room < 1) {
      std::printf("error: the conversation (%zu tokens) fills the context of %d: /clear it\n", prompt.size(),
                  engine_->max_model_len());
      history_.pop_back();
      return;
    }
    GenerationParams params;
    params.temperature = temperature_;
    params.max_tokens = std::min(max_tokens_, room);
    params.seed = flags_.seed < 0 ? 0xFFFFFFFFu : static_cast<uint64_t>(flags_.seed);
    Expected<EngineRequestId> id = engine_->add_request(prompt, params);
    if (!id.ok()) {
      std::printf("error: %s\n", id.status().message().c_str());
      history_.pop_back();
      return;
    }
    g_interrupted.store(false);
    StreamingDetokenizer detokenizer(*tokenizer_);
    std::string reply;
    TurnStats stats;
    stats.prompt_tokens = prompt.size();
    const int64_t start_us = now_us();
    int64_t first_us = 0;
    bool stopped = false;
    while (engine_->has_unfinished_requests()) {
      if (g_interrupted.exchange(false) && !stopped) {
        (void)engine_->abort(*id);
        stopped = true;
      }
      for (const RequestOutput& out : engine_->step()) {
        for (int32_t token : out.new_token_ids) {
          if (first_us == 0) first_us = now_us();
          ++stats.output_tokens;
          if (tokenizer_->is_eog(token)) continue;
          const std::string piece = detokenizer.push(token);
          reply += piece;
          std::fputs(piece.c_str(), stdout);
        }
        std::fflush(stdout);
      }
    }
    const std::string tail = detokenizer.flush();
    reply += tail;
    std::printf("%s\n", tail.c_str());
    if (stopped) std::printf("[stopped]\n");
    const int64_t end_us = now_us();
    stats.first_token_s = first_us > 0 ? static_cast<double>(first_us - start_us) / 1e6 : 0.0;
    stats.generate_s = first_us > 0 ? static_cast<double>(end_us - first_us) / 1e6 : 0.0;
    last_ = stats;
    history_.push_back({"assistant", reply});
  }

  void print_stats() const {
    const double rate = last_.generate_s > 0 && last_.output_tokens > 1
                            ? static_cast<double>(last_.output_tokens - 1) / last_.generate_s
                            : 0.0;
    std::printf("last reply: %zu prompt tokens, %zu output tokens, first token after %.3f s, %.1f tokens/s\n",
                last_.prompt_tokens, last_.output_tokens, last_.first_token_s, rate);
    const EngineStats s = engine_->stats();
    std::printf("engine: %lld prompt tokens, %lld computed, %lld output; prefix cache hit rate %.1f%%; "
                "KV blocks %d free of %d\n",
                static_cast<long long>(s.num_prompt_tokens), static_cast<long long>(s.num_computed_tokens),
                static_cast<long long>(s.num_output_tokens), 100.0 * s.prefix_cache_hit_rate, s.num_free_kv_blocks,
                s.num_kv_blocks - 1);
    std::printf("conversation: %zu messages; temperature %g, max_tokens %d\n", history_.size(), temperature_, max_tokens_);
  }

  ChatFlags flags_;
  std::unique_ptr<gguf::GgufFile> file_;  // keeps the tokenizer's source mapped
  std::unique_ptr<Tokenizer> tokenizer_;
  ChatTemplate template_;
  std::unique_ptr<Engine> engine_;
  std::vector<ChatMessage> history_;
  std::string system_;
  float temperature_ = 0.8f;
  int32_t max_tokens_ = 512;
  TurnStats last_;
};

int run_chat(ChatFlags f) {
  if (f.model_path.empty()) f.model_path = default_model_path();
  if (!(f.temperature >= 0.0f)) return fail("--temp must be >= 0");
  if (f.max_tokens < 1) return fail("--max-tokens must be >= 1");
  auto file = gguf::GgufFile::open(f.model_path);
  if (!file.ok()) return fail(file.status().message());
  auto tokenizer = Tokenizer::from_gguf(**file);
  if (!tokenizer.ok()) return fail(tokenizer.status().message());
  Expected<ChatTemplate> chat = serve::load_model_chat_template(**file, **tokenizer, f.chat_template_path, "tessera chat");
  if (!chat.ok()) return fail(chat.status().message());
  EngineConfig config;
  config.model_path = f.model_path;
  config.max_model_len = f.context_size;
  config.max_num_seqs = 1;
  const unsigned cores = std::thread::hardware_concurrency();
  config.num_threads = f.num_threads > 0 ? f.num_threads : (cores == 0 ? 1 : static_cast<int32_t>(cores));
  auto engine = Engine::create(config);
  if (!engine.ok()) return fail(engine.status().message());

  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: Ctrl-C interrupts a read of the next message
  sigaction(SIGINT, &action, nullptr);
  ChatSession session(f, std::move(file).value(), std::move(tokenizer).value(), std::move(chat).value(),
                      std::move(engine).value());
  return session.run();
}

}  // namespace

Command add_chat_command(CLI::App& app) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (the model's chat template, streamed replies)");
  cmd->add_option("-m,--model", flags->model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("-s,--system", flags->system, "System prompt");
  cmd->add_option("--chat-template", flags->chat_template_path, "Jinja chat template file (default: the model's)");
  cmd->add_option("--temp", flags->temperature, "Temperature (0: greedy; /set temperature changes it)")->capture_default_str();
  cmd->add_option("-n,--max-tokens", flags->max_tokens, "Reply length at most, in tokens")->capture_default_str();
  cmd->add_option("-c,--ctx-size", flags->context_size, "Context size in tokens (0: the model's)")->capture_default_str();
  cmd->add_option("-t,--threads", flags->num_threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "RNG seed (-1: random)")->capture_default_str();
  return {cmd, [flags] { return run_chat(*flags); }};
}

}  // namespace tessera::app
