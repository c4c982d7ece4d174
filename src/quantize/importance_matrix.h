// ImportanceMatrix: per weight matrix, the sum over calibration tokens of the square of each input
// channel's activation (and the token count) — the "imatrix" of llama.cpp. For a 3-D expert
// tensor, one such sum and count per expert (over the tokens routed to it). Collected by
// `tessera imatrix`, read by `tessera quantize --imatrix`. Stored as a GGUF file in llama.cpp's
// current imatrix layout: tensors "<weight>.in_sum2" (ggml [num_cols, num_mats] f32) and
// "<weight>.counts" ([1, num_mats] f32), metadata general.type = "imatrix", imatrix.datasets,
// imatrix.chunk_count/chunk_size, plus our own "<weight>.in_gram" ([num_cols, num_cols] f32, 2-D
// weights only) that llama.cpp does not read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace tessera::quantize {

struct ImportanceEntry {
  std::vector<double> sum_squares;  // [num_mats, num_cols] sum over tokens of activation^2 of each input channel
  std::vector<int64_t> counts;      // [num_mats] rows accumulated into each matrix's sums
  std::vector<double> gram;         // [num_cols, num_cols] sum over tokens of a a^T; empty when
                                    // num_cols > kMaxGramColumns (a tessera extension of the format)
};

// Widest input for which the full Gram matrix is kept (its size grows with the square).
inline constexpr int64_t kMaxGramColumns = 1024;

class ImportanceMatrix {
 public:
  // Adds `num_rows` activation rows ([num_rows, num_cols] row-major f32) seen by matrix `mat` of
  // the `num_mats` of weight `name` (experts; 0 of 1 for a 2-D weight). TS_CHECKs that num_cols
  // and num_mats match earlier calls for the same name.
  void accumulate(const std::string& name, const float* input, int32_t num_rows, int64_t num_cols, int32_t mat = 0,
                  int32_t num_mats = 1);

  // Mean square activation of each column of `name`, per matrix ([num_mats, num_cols]:
  // sum_squares / count; 1 for a matrix no token reached, as llama-quantize); empty if unknown.
  std::vector<float> mean_squares(const std::string& name) const;
  // E[a a^T] of `name` ([num_cols, num_cols] row-major); empty if unknown or not kept.
  std::vector<float> mean_gram(const std::string& name) const;
  const std::map<std::string, ImportanceEntry>& entries() const { return entries_; }

  // Checks that this matrix was made for `model`: every entry names a 2-D tensor of the model
  // with as many columns, and at least one entry exists. Errors name the first mismatch.
  Status check_matches(const gguf::GgufFile& model) const;

  Status save(const std::string& path) const;  // atomic (temporary file + rename)
  static Expected<ImportanceMatrix> load(const std::string& path);

  std::vector<std::string> datasets;  // calibration text files it was collected from
  int32_t num_chunks = 0;             // chunks of calibration text run
  int32_t chunk_size = 0;             // tokens per chunk

 private:
  std::map<std::string, ImportanceEntry> entries_;
};

}  // namespace tessera::quantize
