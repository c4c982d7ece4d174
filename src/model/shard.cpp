// Slicing DecoderWeights to one tensor-parallel rank: rows of Q/K/V and gate/up (cheap: a row
// range of any dtype), input columns of the attention output and of down (a column range must
// start and end on a quantization block).
#include "model/shard.h"

#include <string>

namespace tessera {
namespace {

Linear slice_rows(const Linear& full, IndexRange rows) {
  Linear slice = full;
  slice.weight.data = full.weight.row(rows.begin);
  slice.weight.num_rows = rows.size();
  if (!full.bias.empty()) slice.bias.assign(full.bias.begin() + rows.begin, full.bias.begin() + rows.end);
  return slice;
}

// Columns [begin, end) of every row (unsupported unless both are on a quantization block); the row stride stays the full row's (the backend makes the
// slice dense when it copies it).
Expected<Linear> slice_columns(const Linear& full, IndexRange cols) {
  const int64_t block = dtype_block_size(full.weight.type);
  if (cols.begin % block != 0 || cols.end % block != 0) {
    return unsupported("tensor parallelism: '" + full.observed_name + "' (" +
                       std::string(dtype_name(full.weight.type)) + ", blocks of " + std::to_string(block) +
                       ") cannot be split at columns " + std::to_string(cols.begin) + ".." +
                       std::to_string(cols.end) + "; use a --tensor-parallel-size that divides it in whole blocks");
  }
  Linear slice = full;
  slice.weight.data = full.weight.data + static_cast<size_t>(cols.begin / block) * traits(full.weight.type).block_bytes;
  slice.weight.num_cols = cols.size();
  return slice;
}

IndexRange scaled(IndexRange r, int64_t factor) { return {r.begin * factor, r.end * factor}; }

// The rank's query heads and KV heads. KV heads are split when there are at least as many as
// ranks; otherwise each is replicated on the tp_size / num_kv_heads ranks that share its queries.
Status head_ranges(const ModelConfig& c, const ShardSpec& s, IndexRange& q_heads, IndexRange& kv_heads) {
  const int32_t t = s.tp_size;
  const int32_t group = c.num_heads / c.num_kv_heads;
  if (c.num_kv_heads >= t) {
    if (c.num_kv_heads % t != 0) {
      return unsupported("tensor parallelism: " + std::to_string(c.num_kv_heads) + " KV heads cannot be split " +
                         std::to_string(t) + " ways");
    }
    kv_heads = split_evenly(c.num_kv_heads, t, s.tp_rank);
    q_heads = scaled(kv_heads, group);
    return Status();
  }
  if (t % c.num_kv_heads != 0 || c.num_heads % t != 0) {
    return unsupported("tensor parallelism: " + std::to_string(c.num_heads) + " heads and " +
                       std::to_string(c.num_kv_heads) + " KV heads cannot be split " + std::to_string(t) + " ways");
  }
  q_heads = split_evenly(c.num_heads, t, s.tp_rank);
  const int64_t kv = q_heads.begin / group;
  kv_heads = {kv, kv + 1};
  return Status();
}

}  // namespace

IndexRange split_evenly(int64_t count, int32_t parts, int32_t index) {
  const int64_t base = count / parts, extra = count % parts;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

IndexRange stage_layers(int32_t num_layers, const ShardSpec& shard) {
  return split_evenly(num_layers, shard.pp_size, shard.pp_rank);
}

Status shard_decoder_weights(const ModelConfig& c, const ShardSpec& s, DecoderWeights& w) {
  if (s.pp_size > c.num_layers) {
    return invalid_argument("pipeline parallelism: " + std::to_string(s.pp_size) + " stages for a model of " +
                            std::to_string(c.num_layers) + " layers");
  }
  if (s.tp_size == 1) return Status();
  if (c.is_moe()) return unsupported("tensor parallelism of mixture-of-experts models is not supported (use pipeline parallelism)");
  IndexRange q_heads, kv_heads;
  TS_RETURN_IF_ERROR(head_ranges(c, s, q_heads, kv_heads));
  for (DecoderLayer& l : w.layers) {
    AttentionLayer& a = l.attention;
    const int64_t d = a.head_dim;
    a.q = slice_rows(a.q, scaled(q_heads, d));
    a.k = slice_rows(a.k, scaled(kv_heads, d));
    a.v = slice_rows(a.v, scaled(kv_heads, d));
    // An output projection whose quantization blocks straddle the rank's heads (K-quants' 256
    // values with small heads) stays whole on every rank: the ranks gather all heads first
    // (DecoderModel::attention_block) and need no all-reduce after it.
    if (auto output = slice_columns(a.output, scaled(q_heads, d)); output.ok()) a.output = std::move(output).value();
    a.num_heads = static_cast<int32_t>(q_heads.size());
    a.num_kv_heads = static_cast<int32_t>(kv_heads.size());

    GatedFfn& f = l.ffn;
    // The FFN is split in whole blocks of down's input columns; one with fewer blocks than ranks
    // (K-quants' 256 values in a small model) stays whole on every rank, which then need no
    // all-reduce after it (DecoderModel::ffn_block).
    const int64_t block = dtype_block_size(f.down.weight.type);
    if (f.ffn_dim() / block < s.tp_size) continue;
    const IndexRange ffn = scaled(split_evenly(f.ffn_dim() / block, s.tp_size, s.tp_rank), block);
    f.gate = slice_rows(f.gate, ffn);
    f.up = slice_rows(f.up, ffn);
    TS_ASSIGN_OR_RETURN(f.down, slice_columns(f.down, ffn));
  }
  return Status();
}

}  // namespace tessera
