// Slicing DecoderWeights to the part one process of a tensor- and pipeline-parallel job holds
// (ShardSpec, docs/distributed.md). Tensor parallelism is
// Megatron's: a rank keeps its attention heads (rows of Q/K/V, the matching input columns of the
// attention output) and its share of the FFN (rows of gate/up, input columns of down), so each
// block's output is a partial sum that the ranks all-reduce. Pipeline parallelism gives each stage
// a consecutive run of layers. Only views change here: the backend later copies just the slices.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "model/decoder_model.h"
#include "model/model_config.h"
#include "model/parallel.h"

namespace tessera {

// [begin, end) of `count` items split into `parts` consecutive parts as evenly as possible (the
// first count % parts parts get one more): part `index`.
struct IndexRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
IndexRange split_evenly(int64_t count, int32_t parts, int32_t index);

// The layers of pipeline stage `shard.pp_rank`.
IndexRange stage_layers(int32_t num_layers, const ShardSpec& shard);

// Checks that `config` can be split `shard.tp_size` ways (heads, KV heads, quantization blocks of
// the column-sliced weights) and narrows every layer of `weights` to the rank's slices. MoE
// layers cannot be split yet (unsupported). A single shard leaves everything as it is.
Status shard_decoder_weights(const ModelConfig& config, const ShardSpec& shard, DecoderWeights& weights);

}  // namespace tessera
