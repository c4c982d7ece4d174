// collect_importance: runs calibration text through a model (in llama.cpp's imatrix chunks) and
// accumulates, for every weight matmul, the squared activation of each input channel.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "quantize/importance_matrix.h"

namespace tessera::quantize {

struct ImportanceOptions {
  int32_t context = 512;    // tokens per chunk
  int32_t max_chunks = -1;  // -1: every whole chunk
  int32_t bos_id = -1;      // replaces each chunk's first token; -1: none
};

// Needs at least one whole chunk. `on_chunk(chunk, running_perplexity)` reports progress (the
// perplexity of the calibration text, scored as `tessera perplexity` does).
Expected<ImportanceMatrix> collect_importance(Model& model, std::span<const int32_t> tokens,
                                              const ImportanceOptions& options, ThreadPool& pool,
                                              const std::function<void(int32_t chunk, double running)>& on_chunk);

}  // namespace tessera::quantize
