// Dispatch layer of the op surface: splits work across the thread pool and calls the kernel.
// NOTE: the function of the active ISA comes from its KernelTable; a null entry falls back to
// the scalar reference in kernels/ref/.
#include "kernels/kernels.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/repack.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {

namespace {

constexpr size_t kScratchAlign = 64;

// Scratch layout for Q8_0 activations: the quantized rows, then, from the next 64-byte
// boundary, the repacked kernels' block summaries ([num_tokens, num_cols / 32]). Other
// activation types (Q8_K) have no summaries: the rows only.
size_t summaries_offset(size_t x_row_bytes, int64_t num_tokens) {
  const size_t rows_bytes = x_row_bytes * static_cast<size_t>(num_tokens);
  return (rows_bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
}

}  // namespace

size_t matmul_scratch_bytes(DType weight_type, int64_t num_cols, int64_t num_tokens) {
  const DType act_type = vec_dot_type(weight_type);
  if (act_type == DType::kF32) return 0;
  const size_t x_row_bytes = row_bytes(act_type, num_cols);
  if (act_type != DType::kQ8_0) return x_row_bytes * static_cast<size_t>(num_tokens);
  return summaries_offset(x_row_bytes, num_tokens) + sizeof(RepackedActivationBlock) *
                                                         static_cast<size_t>(num_tokens) *
                                                         static_cast<size_t>(num_cols / kLegacyBlockSize);
}

namespace {

constexpr int64_t kRowsPerUnit = 16;  // work unit of the thread split: one repacked tile
constexpr size_t kMaxSharedOutputs = 4;

// Smallest chunk for parallel_for_dynamic over n items: about 16 chunks per thread at the end
// of the guided split, so the shared counter is touched tens of times per loop, not per item.
int64_t min_dynamic_chunk(int64_t n, const ThreadPool& pool) {
  return std::max<int64_t>(1, n / (16 * static_cast<int64_t>(pool.num_threads())));
}

// The kernel of one weight: row-major (plain) or repacked, the other null.
struct RowsKernel {
  MatmulRowsFn plain = nullptr;
  RepackedMatmulRowsFn repacked = nullptr;
};

RowsKernel rows_kernel(const KernelTable& table, const MatrixView& weight) {
  const size_t type = static_cast<size_t>(weight.type);
  if (weight.interleaved_rows > 0) {
    TS_CHECK(weight.interleaved_rows == kRowsPerUnit, "unexpected repacked tile of %d rows", weight.interleaved_rows);
    return {nullptr, table.matmul_rows_repacked[type] != nullptr ? table.matmul_rows_repacked[type]
                                                                 : &repacked_matmul_rows_portable};
  }
  return {table.matmul_rows[type] != nullptr ? table.matmul_rows[type] : &ref::matmul_rows, nullptr};
}

}  // namespace

void matmul(const MatrixView& weight, const float* x, int64_t num_tokens, float* out, void* scratch,
            ThreadPool& pool) {
  const MatmulOutput output{&weight, out};
  matmul_shared_input(std::span<const MatmulOutput>(&output, 1), x, num_tokens, scratch, pool);
}

void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t num_tokens, void* scratch,
                         ThreadPool& pool) {
  TS_CHECK(!outputs.empty() && outputs.size() <= kMaxSharedOutputs, "matmul_shared_input of %zu outputs",
           outputs.size());
  const KernelTable& table = kernel_table(active_isa());
  const MatrixView& first = *outputs[0].weight;
  const int64_t num_cols = first.num_cols;
  const DType act_type = vec_dot_type(first.type);
  for (const MatmulOutput& o : outputs) {
    if (o.weight->num_cols != num_cols || vec_dot_type(o.weight->type) != act_type) {
      // Mixed activation types (a k-quant next to a legacy quant): convert x once per weight.
      for (const MatmulOutput& single : outputs) matmul(*single.weight, x, num_tokens, single.out, scratch, pool);
      return;
    }
  }
  int64_t first_unit[kMaxSharedOutputs + 1] = {0};
  RowsKernel kernels[kMaxSharedOutputs] = {};
  bool any_repacked = false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    first_unit[i + 1] = first_unit[i] + (outputs[i].weight->num_rows + kRowsPerUnit - 1) / kRowsPerUnit;
    kernels[i] = rows_kernel(table, *outputs[i].weight);
    any_repacked = any_repacked || kernels[i].repacked != nullptr;
  }
  const uint8_t* x_converted = reinterpret_cast<const uint8_t*>(x);
  size_t x_row_bytes = static_cast<size_t>(num_cols) * sizeof(float);
  RepackedActivationBlock* summaries = nullptr;
  if (act_type != DType::kF32) {
    TS_CHECK(scratch != nullptr, "matmul of %s weights needs scratch", std::string(dtype_name(first.type)).c_str());
    x_row_bytes = row_bytes(act_type, num_cols);
    auto* dst = static_cast<uint8_t*>(scratch);
    // NOTE: the repacked kernels' block summaries are made here once per matmul (beside the
    // quantization, by the thread that wrote the row), not per call of a kernel: so every
    // matmul can split its rows dynamically at no repeated cost.
    if (any_repacked && act_type == DType::kQ8_0) {
      summaries = reinterpret_cast<RepackedActivationBlock*>(dst + summaries_offset(x_row_bytes, num_tokens));
    }
    const int64_t num_blocks = num_cols / kLegacyBlockSize;
    const QuantizeActivationFn quantize =
        table.quantize_activation != nullptr ? table.quantize_activation : &quantize_activation_row;
    const SummarizeActivationFn summarize =
        table.summarize_activation != nullptr ? table.summarize_activation : &summarize_activation_row;
    pool.parallel_for(num_tokens, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        uint8_t* row = dst + static_cast<size_t>(t) * x_row_bytes;
        quantize(act_type, x + t * num_cols, row, num_cols);
        if (summaries != nullptr) summarize(row, num_blocks, summaries + t * num_blocks);
      }
    });
    x_converted = dst;
  }
  const RepackedActivation repacked_x{x_converted, x_row_bytes, num_tokens, summaries};
  // NOTE: one parallel loop over the 16-row units of all outputs in turn (same columns, so the
  // same cost per unit): one wake-up and one barrier instead of one per weight.
  const int64_t num_units = first_unit[outputs.size()];
  auto rows = [&](int64_t begin, int64_t end, int) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      const int64_t unit_begin = std::max(begin, first_unit[i]) - first_unit[i];
      const int64_t unit_end = std::min(end, first_unit[i + 1]) - first_unit[i];
      if (unit_begin >= unit_end) continue;
      const MatrixView& w = *outputs[i].weight;
      const int64_t row_begin = unit_begin * kRowsPerUnit, row_end = std::min(unit_end * kRowsPerUnit, w.num_rows);
      if (kernels[i].repacked != nullptr) {
        kernels[i].repacked(w, repacked_x, row_begin, row_end, outputs[i].out);
      } else {
        kernels[i].plain(w, x_converted, x_row_bytes, num_tokens, row_begin, row_end, outputs[i].out);
      }
    }
  };
  // NOTE: units are shared dynamically (guided chunks): a static half per thread left the faster
  // thread waiting (the worker starts later, and the host slows either core): ~7% of a TinyLlama
  // Q4_0 token went to waits.
  pool.parallel_for_dynamic(num_units, min_dynamic_chunk(num_units, pool), rows);
}

namespace {

// One distinct input of matmul_tasks: where its converted rows go and what they are.
struct TaskInput {
  const float* x;
  int64_t num_tokens, num_cols;
  DType act_type;
  bool summaries;              // the repacked Q8_0 kernels need block summaries
  size_t offset;               // of its converted rows in the scratch
  RepackedActivation converted;
};

size_t aligned_scratch(size_t bytes) { return (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// The distinct inputs of `tasks` (task i uses inputs[input_of[i]]), their scratch laid out.
size_t plan_task_inputs(std::span<const MatmulTask> tasks, const KernelTable& table, std::vector<TaskInput>& inputs,
                        std::vector<size_t>& input_of) {
  inputs.clear();
  input_of.clear();
  size_t offset = 0;
  for (const MatmulTask& t : tasks) {
    const DType act_type = vec_dot_type(t.weight->type);
    const bool summaries = act_type == DType::kQ8_0 && rows_kernel(table, *t.weight).repacked != nullptr;
    size_t i = 0;
    while (i < inputs.size() && !(inputs[i].x == t.x && inputs[i].num_tokens == t.num_tokens &&
                                  inputs[i].act_type == act_type && inputs[i].num_cols == t.weight->num_cols)) {
      ++i;
    }
    if (i == inputs.size()) {
      inputs.push_back({t.x, t.num_tokens, t.weight->num_cols, act_type, summaries, offset, {}});
      offset += aligned_scratch(matmul_scratch_bytes(t.weight->type, t.weight->num_cols, t.num_tokens));
    }
    inputs[i].summaries = inputs[i].summaries || summaries;
    input_of.push_back(i);
  }
  return offset;
}

}  // namespace

size_t matmul_tasks_scratch_bytes(std::span<const MatmulTask> tasks) {
  std::vector<TaskInput> inputs;
  std::vector<size_t> input_of;
  return plan_task_inputs(tasks, kernel_table(active_isa()), inputs, input_of);
}

size_t matmul_tasks_scratch_bound(DType weight_type, int64_t num_cols, int64_t total_tokens, int64_t num_inputs) {
  // Each input's rows and summaries are padded to 64 bytes twice at most.
  return matmul_scratch_bytes(weight_type, num_cols, total_tokens) +
         2 * kScratchAlign * static_cast<size_t>(std::max<int64_t>(num_inputs, 1));
}

void matmul_tasks(std::span<const MatmulTask> tasks, void* scratch, ThreadPool& pool) {
  if (tasks.empty()) return;
  const KernelTable& table = kernel_table(active_isa());
  // NOTE: the caller's buffers, reused across calls; the loops below must reach them through
  // these references (a thread_local named inside a lambda is the running thread's own).
  thread_local std::vector<TaskInput> inputs_buffer;
  thread_local std::vector<size_t> input_of_buffer;
  thread_local std::vector<int64_t> first_row_buffer, first_unit_buffer;
  std::vector<TaskInput>& inputs = inputs_buffer;
  std::vector<size_t>& input_of = input_of_buffer;
  std::vector<int64_t>& first_row = first_row_buffer;
  std::vector<int64_t>& first_unit = first_unit_buffer;
  plan_task_inputs(tasks, table, inputs, input_of);
  // Every row of every input converted in one loop (first_row: prefix sums of their rows).
  first_row.assign(inputs.size() + 1, 0);
  for (size_t i = 0; i < inputs.size(); ++i) first_row[i + 1] = first_row[i] + inputs[i].num_tokens;
  auto* base = static_cast<uint8_t*>(scratch);
  for (TaskInput& in : inputs) {
    if (in.act_type == DType::kF32) {
      in.converted = {reinterpret_cast<const uint8_t*>(in.x), static_cast<size_t>(in.num_cols) * sizeof(float),
                      in.num_tokens, nullptr};
      continue;
    }
    TS_CHECK(scratch != nullptr, "matmul_tasks of quantized weights needs scratch");
    const size_t row = row_bytes(in.act_type, in.num_cols);
    uint8_t* rows = base + in.offset;
    in.converted = {rows, row, in.num_tokens,
                    in.summaries ? reinterpret_cast<const RepackedActivationBlock*>(rows + summaries_offset(row, in.num_tokens))
                                 : nullptr};
  }
  const QuantizeActivationFn quantize =
      table.quantize_activation != nullptr ? table.quantize_activation : &quantize_activation_row;
  const SummarizeActivationFn summarize =
      table.summarize_activation != nullptr ? table.summarize_activation : &summarize_activation_row;
  const int64_t* firsts = first_row.data();
  auto convert_rows = [&](int64_t begin, int64_t end, int) {
    size_t i = static_cast<size_t>(std::upper_bound(firsts, firsts + inputs.size() + 1, begin) - firsts) - 1;
    for (int64_t r = begin; r < end; ++r) {
      while (r >= firsts[i + 1]) ++i;
      const TaskInput& in = inputs[i];
      if (in.act_type == DType::kF32) continue;
      const int64_t t = r - firsts[i];
      uint8_t* row = const_cast<uint8_t*>(in.converted.rows) + static_cast<size_t>(t) * in.converted.row_bytes;
      quantize(in.act_type, in.x + t * in.num_cols, row, in.num_cols);
      if (in.converted.blocks != nullptr) {
        const int64_t num_blocks = in.num_cols / kLegacyBlockSize;
        summarize(row, num_blocks, const_cast<RepackedActivationBlock*>(in.converted.blocks) + t * num_blocks);
      }
    }
  };
  // NOTE: a decode step's few rows (one per chosen expert) convert in less time than a wake-up
  // of the pool costs: below kMinElementsToSplit activations, the caller converts them alone.
  constexpr int64_t kMinElementsToSplit = 1 << 16;
  int64_t num_elements = 0;
  for (const TaskInput& in : inputs) num_elements += in.num_tokens * in.num_cols;
  if (num_elements < kMinElementsToSplit) {
    convert_rows(0, first_row.back(), 0);
  } else {
    pool.parallel_for(first_row.back(), convert_rows);
  }
  // One dynamic loop over the 16-row units of every task.
  first_unit.assign(tasks.size() + 1, 0);
  for (size_t i = 0; i < tasks.size(); ++i) {
    first_unit[i + 1] = first_unit[i] + (tasks[i].weight->num_rows + kRowsPerUnit - 1) / kRowsPerUnit;
  }
  const int64_t* units = first_unit.data();
  const int64_t num_units = first_unit.back();
  pool.parallel_for_dynamic(num_units, min_dynamic_chunk(num_units, pool), [&](int64_t begin, int64_t end, int) {
    size_t i = static_cast<size_t>(std::upper_bound(units, units + tasks.size() + 1, begin) - units) - 1;
    while (begin < end) {
      while (begin >= units[i + 1]) ++i;
      const int64_t stop = std::min(end, units[i + 1]);
      const MatmulTask& task = tasks[i];
      const MatrixView& w = *task.weight;
      const int64_t row_begin = (begin - units[i]) * kRowsPerUnit;
      const int64_t row_end = std::min((stop - units[i]) * kRowsPerUnit, w.num_rows);
      const RepackedActivation& x = inputs[input_of[i]].converted;
      const RowsKernel kernel = rows_kernel(table, w);
      if (kernel.repacked != nullptr) {
        kernel.repacked(w, x, row_begin, row_end, task.out);
      } else {
        kernel.plain(w, x.rows, x.row_bytes, x.num_tokens, row_begin, row_end, task.out);
      }
      begin = stop;
    }
  });
}

bool prefers_repacked(const MatrixView& weight) {
  return repackable(weight) && kernel_table(active_isa()).matmul_rows_repacked[static_cast<size_t>(weight.type)] != nullptr;
}

MatrixView repack_weight(const MatrixView& weight, uint8_t* dst) { return repack(weight, dst); }

void get_rows(const MatrixView& table, std::span<const int32_t> ids, float* out) { ref::get_rows(table, ids, out); }

namespace {

// Runs fn(begin, end) over [0, num_items) split across the pool when there are at least
// min_items_to_split items, else on the calling thread in one piece.
template <typename F>
void maybe_parallel(ThreadPool* pool, int64_t num_items, int64_t min_items_to_split, F&& fn) {
  if (pool == nullptr || pool->num_threads() == 1 || num_items < min_items_to_split) {
    if (num_items > 0) fn(int64_t{0}, num_items);
    return;
  }
  pool->parallel_for(num_items, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

constexpr int64_t kMinTokensToSplit = 8;
constexpr int64_t kElementsPerUnit = 4096;  // elementwise ops split in units of this many floats

}  // namespace

void rms_norm(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out,
              ThreadPool* pool) {
  RmsNormFn fn = kernel_table(active_isa()).rms_norm;
  if (fn == nullptr) fn = &ref::rms_norm;
  maybe_parallel(pool, num_tokens, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    fn(x + begin * dim, weight, end - begin, dim, eps, out + begin * dim);
  });
}

void rope(float* x, std::span<const int32_t> positions, int64_t num_heads, int64_t head_dim,
          const RopeParams& params, ThreadPool* pool) {
  maybe_parallel(pool, static_cast<int64_t>(positions.size()), kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    ref::rope(x + begin * num_heads * head_dim, positions.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin)),
              num_heads, head_dim, params);
  });
}

void rope_table(std::span<const int32_t> positions, const RopeParams& params, float* table) {
  for (size_t t = 0; t < positions.size(); ++t) ref::rope_angles(positions[t], params, table + t * params.rot_dims);
}

void rope_from_table(float* x, int64_t num_tokens, int64_t num_heads, int64_t head_dim, const float* table,
                     const RopeParams& params, ThreadPool* pool) {
  maybe_parallel(pool, num_tokens, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      ref::rope_rotate(x + t * num_heads * head_dim, num_heads, head_dim, table + t * params.rot_dims, params);
    }
  });
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
  SiluMulFn fn = kernel_table(active_isa()).silu_mul;
  if (fn == nullptr) fn = &ref::silu_mul;
  const int64_t num_units = (n + kElementsPerUnit - 1) / kElementsPerUnit;
  maybe_parallel(pool, num_units, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * kElementsPerUnit, last = std::min(n, end * kElementsPerUnit);
    fn(gate + first, up + first, last - first, out + first);
  });
}

namespace {

// ref::gelu_tanh_of_half of every f16 bit pattern, as f32 (256 KiB, built on first use): ggml's
// table, so the fast path is one SIMD f16 conversion and one lookup per element.
const float* gelu_tanh_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(size_t{1} << 16);
    for (size_t h = 0; h < t.size(); ++h) t[h] = ref::gelu_tanh_of_half(f16_to_f32(static_cast<uint16_t>(h)));
    return t;
  }();
  return table.data();
}

}  // namespace

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
  const float* table = gelu_tanh_table();
  const int64_t num_units = (n + kElementsPerUnit - 1) / kElementsPerUnit;
  maybe_parallel(pool, num_units, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * kElementsPerUnit, last = std::min(n, end * kElementsPerUnit);
    constexpr int64_t kChunk = 256;
    uint16_t halves[kChunk];
    for (int64_t i = first; i < last; i += kChunk) {
      const int64_t count = std::min(kChunk, last - i);
      to_f16(gate + i, count, halves);
      for (int64_t j = 0; j < count; ++j) {
        const float g = gate[i + j];
        const float gelu = g <= -10.0f ? 0.0f : g >= 10.0f ? g : table[halves[j]];
        out[i + j] = gelu * up[i + j];
      }
    }
  });
}

void add_bias(float* x, const float* bias, int64_t num_tokens, int64_t dim, ThreadPool* pool) {
  maybe_parallel(pool, num_tokens, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float* row = x + t * dim;
      for (int64_t i = 0; i < dim; ++i) row[i] += bias[i];
    }
  });
}

void scale_inplace(float* x, int64_t n, float factor, ThreadPool* pool) {
  const int64_t num_units = (n + kElementsPerUnit - 1) / kElementsPerUnit;
  maybe_parallel(pool, num_units, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    const int64_t last = std::min(n, end * kElementsPerUnit);
    for (int64_t i = begin * kElementsPerUnit; i < last; ++i) x[i] *= factor;
  });
}

void softcap_inplace(float* x, int64_t n, float cap) { ref::softcap(x, n, cap); }

void softmax(float* x, int64_t n) {
  const SoftmaxFn fn = kernel_table(active_isa()).softmax;
  (fn != nullptr ? fn : &ref::softmax)(x, n);
}

void to_f16(const float* x, int64_t n, uint16_t* out) {
  const ToF16Fn fn = kernel_table(active_isa()).to_f16;
  if (fn != nullptr) {
    fn(x, n, out);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

void add_inplace(float* out, const float* x, int64_t n, ThreadPool* pool) {
  const int64_t num_units = (n + kElementsPerUnit - 1) / kElementsPerUnit;
  maybe_parallel(pool, num_units, kMinTokensToSplit, [&](int64_t begin, int64_t end) {
    const int64_t last = std::min(n, end * kElementsPerUnit);
    for (int64_t i = begin * kElementsPerUnit; i < last; ++i) out[i] += x[i];
  });
}

size_t kv_row_bytes(DType type, int64_t head_dim) {
  TS_CHECK(type == DType::kF32 || type == DType::kF16 || quantized_kv(type), "KV cache of type %s (f32, f16, q8_0 or q4_0)",
           std::string(dtype_name(type)).c_str());
  TS_CHECK(!quantized_kv(type) || head_dim % kLegacyBlockSize == 0,
           "a %s KV cache needs a head size that is a multiple of %d, not %lld", std::string(dtype_name(type)).c_str(),
           static_cast<int>(kLegacyBlockSize), static_cast<long long>(head_dim));
  return row_bytes(type, head_dim);
}

namespace {

// Where block b's scale and value group i of K slot `slot` of `kv_head` live (PagedKvLayer's
// quantized K layout): byte offsets in kv.k, and the groups per block (8 for Q8_0, 4 for Q4_0).
struct QuantizedKPlace {
  int64_t block_bytes, groups, region, position, block_size;
  int64_t scale(int64_t b) const { return region + b * block_size * block_bytes + 2 * position; }
  int64_t group(int64_t b, int64_t i) const {
    return region + b * block_size * block_bytes + 2 * block_size + (i * block_size + position) * 4;
  }
};
QuantizedKPlace quantized_k_place(const PagedKvLayer& kv, int64_t slot, int64_t kv_head) {
  TS_CHECK(quantized_kv(kv.type), "K of type %s is not quantized", std::string(dtype_name(kv.type)).c_str());
  const int64_t block_bytes = static_cast<int64_t>(row_bytes(kv.type, kLegacyBlockSize));
  return {block_bytes, (block_bytes - 2) / 4, quantized_k_region_offset(kv, slot / kv.block_size, kv_head),
          slot % kv.block_size, kv.block_size};
}

}  // namespace

void write_quantized_k_row(const PagedKvLayer& kv, void* k, int64_t slot, int64_t kv_head, const void* row) {
  const QuantizedKPlace place = quantized_k_place(kv, slot, kv_head);
  auto* dst = static_cast<uint8_t*>(k);
  const auto* src = static_cast<const uint8_t*>(row);
  for (int64_t b = 0; b < kv.head_dim / kLegacyBlockSize; ++b, src += place.block_bytes) {
    std::memcpy(dst + place.scale(b), src, 2);
    for (int64_t i = 0; i < place.groups; ++i) std::memcpy(dst + place.group(b, i), src + 2 + 4 * i, 4);
  }
}

void read_quantized_k_row(const PagedKvLayer& kv, int64_t slot, int64_t kv_head, void* row) {
  const QuantizedKPlace place = quantized_k_place(kv, slot, kv_head);
  const auto* src = static_cast<const uint8_t*>(kv.k);
  auto* dst = static_cast<uint8_t*>(row);
  for (int64_t b = 0; b < kv.head_dim / kLegacyBlockSize; ++b, dst += place.block_bytes) {
    std::memcpy(dst, src + place.scale(b), 2);
    for (int64_t i = 0; i < place.groups; ++i) std::memcpy(dst + 2 + 4 * i, src + place.group(b, i), 4);
  }
}

size_t attention_scratch_floats(int64_t max_context, int64_t heads_per_kv_head, const ThreadPool& pool) {
  return static_cast<size_t>(max_context) * static_cast<size_t>(std::max<int64_t>(1, heads_per_kv_head)) *
         static_cast<size_t>(pool.num_threads());
}

void paged_attention(const float* q, int64_t num_tokens, int64_t num_heads, std::span<const int32_t> positions,
                     const PagedKvLayer& kv, std::span<const int32_t> block_table, const AttentionParams& params,
                     float* out, float* scratch, ThreadPool& pool) {
  TS_CHECK(static_cast<int64_t>(positions.size()) >= num_tokens, "%zu positions for %lld tokens", positions.size(),
           static_cast<long long>(num_tokens));
  const AttentionSequence sequence{q, positions.first(static_cast<size_t>(num_tokens)), block_table, out};
  paged_attention_batch(std::span<const AttentionSequence>(&sequence, 1), num_heads, kv, params, scratch, pool);
}

void paged_attention_batch(std::span<const AttentionSequence> sequences, int64_t num_heads, const PagedKvLayer& kv,
                           const AttentionParams& params, float* scratch, ThreadPool& pool) {
  TS_CHECK(num_heads % kv.num_kv_heads == 0, "heads %lld not a multiple of kv heads %d",
           static_cast<long long>(num_heads), kv.num_kv_heads);
  if (sequences.empty()) return;
  const int64_t head_dim = kv.head_dim;
  const int64_t group = num_heads / kv.num_kv_heads;
  int64_t num_tokens = 0;
  int32_t max_position = 0;
  for (const AttentionSequence& seq : sequences) {
    num_tokens += static_cast<int64_t>(seq.positions.size());
    for (int32_t p : seq.positions) max_position = std::max(max_position, p);
  }
  // One work item = one query token x the heads of one kv head, which then share each K/V load.
  // NOTE: with fewer such items than 4 per thread (one decoding sequence), whole groups are
  // kept only where the threads split them evenly or the context is long; otherwise items are
  // single heads, which balance better but re-read their group's K once per head. Measured on 2
  // threads, tg64 tokens/s: TinyLlama (4 kv heads, even) groups 77.6 / 82.4 against single heads
  // 73.7 / 79.7 at depth 0 and 54.6-65.7 against 44.1-57.5 at depth 1984; SmolLM (3 kv heads,
  // uneven) groups 274-309 against 287-315 at depth 0, but 330 / 343 against 298 / 300 at depth
  // 128 and 204-245 against 167-217 at depth 1024.
  constexpr int32_t kLongContext = 128;
  const int64_t group_items = num_tokens * kv.num_kv_heads, threads = pool.num_threads();
  const bool whole_groups = group_items >= 4 * threads || group_items % threads == 0 ||
                            (group_items >= threads && max_position >= kLongContext);
  const int64_t heads_per_item = whole_groups ? group : 1;
  const int64_t items_per_token = num_heads / heads_per_item;
  // first_item[s]: index of sequence s's first item in the flat loop.
  thread_local std::vector<int64_t> first_item;
  first_item.assign(sequences.size() + 1, 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    first_item[s + 1] = first_item[s] + static_cast<int64_t>(sequences[s].positions.size()) * items_per_token;
  }
  AttentionHeadsFn heads_fn = kernel_table(active_isa()).attention_heads;
  if (heads_fn == nullptr) heads_fn = &ref::attention_heads;
  const int64_t* items = first_item.data();
  const size_t scores_per_thread = static_cast<size_t>(max_position + 1) * static_cast<size_t>(heads_per_item);
  // Dynamic: items differ in cost (context lengths) and the host slows either core.
  pool.parallel_for_dynamic(first_item.back(), min_dynamic_chunk(first_item.back(), pool),
                            [&](int64_t begin, int64_t end, int thread_id) {
    float* scores = scratch + static_cast<size_t>(thread_id) * scores_per_thread;
    // The sequence holding item `begin`; later items walk forward from it.
    size_t s = static_cast<size_t>(std::upper_bound(items, items + sequences.size() + 1, begin) - items) - 1;
    for (int64_t item = begin; item < end; ++item) {
      while (item >= items[s + 1]) ++s;
      const AttentionSequence& seq = sequences[s];
      const int64_t local = item - items[s];
      const int64_t t = local / items_per_token, first_head = (local % items_per_token) * heads_per_item;
      const size_t offset = static_cast<size_t>((t * num_heads + first_head) * head_dim);
      // NOTE: a sliding window starts the kernel at the block holding the window's first
      // position (earlier blocks are never read: they may have been released); the positions of
      // that block before the window are masked inside the kernel.
      const int32_t position = seq.positions[static_cast<size_t>(t)];
      const int32_t skipped_blocks = first_visible_position(position, params) / kv.block_size;
      const int32_t shift = skipped_blocks * kv.block_size;
      heads_fn(seq.q + offset, position - shift, first_visible_position(position, params) - shift, params.scale,
               params.softcap, first_head, heads_per_item, num_heads, kv,
               seq.block_table.subspan(static_cast<size_t>(skipped_blocks)), scores, seq.out + offset);
    }
  });
}

}  // namespace tessera::kernels
