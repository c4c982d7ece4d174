// `tessera quantize IN.gguf OUT.gguf TYPE`: a quantized copy of a model, llama-quantize style.
#include <cstdio>
#include <thread>

#include "commands.h"
#include "quantize/model_quantizer.h"

namespace tessera::app {
namespace {

struct QuantizeFlags {
  std::string input_path;
  std::string output_path;
  std::string type_name;
  std::string imatrix_path;
  bool leave_output_tensor = false;
  bool pure = false;
  int32_t num_threads = 0;  // 0: all cores
};

int run_quantize(const QuantizeFlags& f) {
  const auto file_type = quantize::file_type_from_name(f.type_name);
  if (!file_type) {
    return fail("unsupported quantization type '" + f.type_name + "'; supported: " +
                quantize::supported_file_type_names());
  }
  if (f.num_threads < 0 || f.num_threads > 1024) return fail("-t must be between 1 and 1024");
  if (f.input_path == f.output_path) return fail(f.output_path + ": the output must not overwrite the input");
  auto input = gguf::GgufFile::open(f.input_path);
  if (!input.ok()) return fail(input.status().message());
  std::unique_ptr<quantize::ImportanceMatrix> importance;
  if (!f.imatrix_path.empty()) {
    auto loaded = quantize::ImportanceMatrix::load(f.imatrix_path);
    if (!loaded.ok()) return fail(loaded.status().message());
    importance = std::make_unique<quantize::ImportanceMatrix>(std::move(loaded).value());
  }
  const unsigned cores = std::thread::hardware_concurrency();
  ThreadPool pool(f.num_threads > 0 ? f.num_threads : static_cast<int>(cores == 0 ? 1 : cores));
  const quantize::QuantizeOptions options{*file_type, f.pure, f.leave_output_tensor};
  auto report = quantize::quantize_model(**input, f.output_path, options, importance.get(), pool);
  if (!report.ok()) return fail(f.imatrix_path.empty() ? report.status().message()
                                                      : f.imatrix_path + ": " + report.status().message());

  uint64_t bytes_in = 0, bytes_out = 0;
  int num_fallbacks = 0;
  for (const quantize::TensorReport& t : report->tensors) {
    std::fprintf(stderr, "%-32s %6s -> %-6s %10.3f KiB -> %10.3f KiB%s%s%s\n", t.name.c_str(),
                 std::string(dtype_name(t.from)).c_str(), std::string(dtype_name(t.to)).c_str(),
                 static_cast<double>(t.bytes_in) / 1024.0, static_cast<double>(t.bytes_out) / 1024.0,
                 t.used_importance ? "  (imatrix)" : "", t.fallback.empty() ? "" : "  fallback: ", t.fallback.c_str());
    bytes_in += t.bytes_in;
    bytes_out += t.bytes_out;
    num_fallbacks += !t.fallback.empty();
  }
  std::printf("%s: %s, tensors %.3f MiB -> %.3f MiB, file %.3f MiB, %d fallback(s)%s\n", f.output_path.c_str(),
              std::string(quantize::file_type_name(*file_type)).c_str(), static_cast<double>(bytes_in) / 1048576.0,
              static_cast<double>(bytes_out) / 1048576.0, static_cast<double>(report->output_file_bytes) / 1048576.0,
              num_fallbacks, importance ? ", importance-weighted" : "");
  return 0;
}

}  // namespace

Command add_quantize_command(CLI::App& app) {
  auto flags = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "Write a quantized copy of an F32/F16/BF16 GGUF model");
  cmd->add_option("input", flags->input_path, "Input GGUF (F32, F16 or BF16 weights)")->required();
  cmd->add_option("output", flags->output_path, "Output GGUF (written atomically)")->required();
  cmd->add_option("type", flags->type_name,
                  "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M (=Q3_K), Q3_K_L, Q4_K_S, Q4_K_M (=Q4_K), "
                  "Q5_K_S, Q5_K_M (=Q5_K), Q6_K, F16, BF16, F32")
      ->required();
  cmd->add_option("--imatrix", flags->imatrix_path, "Importance matrix from `tessera imatrix`");
  cmd->add_flag("--leave-output-tensor", flags->leave_output_tensor, "Keep output.weight unquantized");
  cmd->add_flag("--pure", flags->pure, "Every tensor in TYPE: no mix, and no fallback for too-narrow rows");
  cmd->add_option("-t,--threads", flags->num_threads, "Threads (0: all cores)")->capture_default_str();
  return {cmd, [flags] { return run_quantize(*flags); }};
}

}  // namespace tessera::app
