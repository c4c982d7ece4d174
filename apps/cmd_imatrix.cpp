// `tessera imatrix -m MODEL -f CALIB_TEXT -o FILE`: activation statistics for `quantize --imatrix`.
#include <cstdio>

#include "base/progress.h"
#include "commands.h"
#include "eval_text.h"
#include "quantize/importance_collector.h"

namespace tessera::app {
namespace {

struct ImatrixFlags {
  ChunkedTextFlags text;
  std::string output_path = "imatrix.gguf";
};

int run_imatrix(const ImatrixFlags& f) {
  auto input = load_chunked_text(f.text);
  if (!input.ok()) return fail(input.status().message());
  ThreadPool pool(input->num_threads);
  const quantize::ImportanceOptions options{input->context, f.text.max_chunks, input->bos_id};
  ProgressBar progress("imatrix", input->num_chunks, "chunks");
  auto matrix = quantize::collect_importance(*input->loaded.model, input->tokens, options, pool,
                                             [&](int32_t chunk, double ppl) {
                                               // On a terminal the bar carries the running perplexity.
                                               if (progress.active()) {
                                                 progress.set_note("ppl " + std::to_string(ppl));
                                                 progress.set(chunk + 1);
                                               } else {
                                                 std::fprintf(stderr, "[%d]%.4f,", chunk + 1, ppl);
                                               }
                                             });
  progress.finish();
  if (!matrix.ok()) return fail(f.text.text_path + ": " + matrix.status().message());
  matrix->datasets = {f.text.text_path};
  if (Status s = matrix->save(f.output_path); !s.ok()) return fail(s.message());
  std::printf("\n%s: %zu matrices from %d chunks of %d tokens of %s\n", f.output_path.c_str(),
              matrix->entries().size(), matrix->num_chunks, matrix->chunk_size, f.text.text_path.c_str());
  return 0;
}

}  // namespace

Command add_imatrix_command(CLI::App& app) {
  auto flags = std::make_shared<ImatrixFlags>();
  CLI::App* cmd = app.add_subcommand("imatrix", "Collect activation statistics (importance matrix) for quantize --imatrix");
  add_chunked_text_options(cmd, flags->text, "Calibration text file");
  cmd->add_option("-o,--output", flags->output_path, "Output file (GGUF, llama.cpp's imatrix layout)")->capture_default_str();
  return {cmd, [flags] { return run_imatrix(*flags); }};
}

}  // namespace tessera::app
