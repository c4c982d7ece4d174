// `tessera perplexity -m MODEL -f TEXT`: llama-perplexity's number for a model on a text.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/progress.h"
#include "commands.h"
#include "eval_text.h"
#include "model/kv_storage.h"
#include "quantize/perplexity.h"

namespace tessera::app {
namespace {

struct PerplexityFlags {
  ChunkedTextFlags text;
  std::string output = "text";  // text or json
  KvCacheType kv_cache_type = KvCacheType::kF32;  // exact K/V unless asked (llama.cpp's default is f16)
  std::optional<KvCacheType> kv_cache_type_k, kv_cache_type_v;  // --kv-cache-dtype-k / -v
};

int run_perplexity(const PerplexityFlags& f) {
  if (f.output != "text" && f.output != "json") return fail("-o must be text or json");
  auto input = load_chunked_text(f.text);
  if (!input.ok()) return fail(input.status().message());
  if (Status s = check_kv_cache_type(kv_cache_dtypes(f.kv_cache_type, f.kv_cache_type_k, f.kv_cache_type_v),
                                     input->loaded.model->config().head_dim); !s.ok()) {
    return fail(s.message());
  }
  ThreadPool pool(input->num_threads);
  const bool json = f.output == "json";
  if (!json) {
    std::fprintf(stderr, "perplexity: %zu tokens, chunks of %d, scoring the second half of each\n",
                 input->tokens.size(), input->context);
  }
  const quantize::PerplexityOptions options{input->context, f.text.max_chunks, input->bos_id,
                                            kv_cache_dtypes(f.kv_cache_type, f.kv_cache_type_k, f.kv_cache_type_v)};
  // Text output on a terminal is its own progress ("[1]8.1234,[2]..." on the line a bar would
  // redraw); the bar runs when that output goes elsewhere (a file, a pipe) or is JSON.
  std::unique_ptr<ProgressBar> progress;
  if (json || isatty(STDOUT_FILENO) != 1) progress = std::make_unique<ProgressBar>("perplexity", input->num_chunks, "chunks");
  auto result = quantize::compute_perplexity(*input->loaded.model, input->tokens, options, pool,
                                             [&](int32_t chunk, double ppl) {
                                               if (progress) progress->set(chunk + 1);
                                               if (json) return;
                                               std::printf("[%d]%.4f,", chunk + 1, ppl);
                                               std::fflush(stdout);
                                             });
  progress.reset();
  if (!result.ok()) return fail(f.text.text_path + ": " + result.status().message());
  if (json) {
    nlohmann::json out;
    out["model"] = input->loaded.file->path();
    out["text"] = f.text.text_path;
    out["ctx"] = input->context;
    out["chunks"] = result->num_chunks;
    out["text_tokens"] = input->tokens.size();
    out["scored_tokens"] = result->num_scored_tokens;
    out["ppl"] = result->perplexity;
    out["ppl_error"] = result->error;
    out["running_ppl"] = result->running_perplexity;
    out["file_bytes"] = input->loaded.file->file_bytes();
    std::puts(out.dump().c_str());
  } else {
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", result->perplexity, result->error);
  }
  return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text, as llama-perplexity computes it");
  add_chunked_text_options(cmd, flags->text, "Text file to score");
  cmd->add_option("-o,--output", flags->output, "text or json")->capture_default_str();
  add_kv_cache_dtype_option(cmd, &flags->kv_cache_type, &flags->kv_cache_type_k, &flags->kv_cache_type_v, "f32");
  return {cmd, [flags] { return run_perplexity(*flags); }};
}

}  // namespace tessera::app
