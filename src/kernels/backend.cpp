#include "kernels/backend.h"

#include <cstring>
#include <vector>

#include "base/progress.h"
#include "kernels/kernels.h"

namespace tessera::kernels {
namespace {

class CpuBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kCpu; }

  HugePageBuffer allocate(size_t num_bytes) const override { return HugePageBuffer(num_bytes); }

  HugePageBuffer prepare_weights(std::span<MatrixView* const> matrices) const override {
    constexpr size_t kAlignment = 64;
    auto padded_bytes = [](const MatrixView& m) {
      return (static_cast<size_t>(m.num_rows) * row_bytes(m.type, m.num_cols) + kAlignment - 1) / kAlignment *
             kAlignment;
    };
    size_t total = 0;
    for (const MatrixView* m : matrices) total += padded_bytes(*m);
    HugePageBuffer buffer = allocate(total);
    size_t offset = 0;
    // Repacking reads every weight byte off the mapped file: the long part of loading a model.
    ProgressBar progress("loading weights", static_cast<int64_t>(matrices.size()), "tensors");
    std::vector<uint8_t> compact;  // a column slice's rows, made dense (tensor parallelism)
    for (MatrixView* m : matrices) {
      uint8_t* dst = buffer.data() + offset;
      offset += padded_bytes(*m);
      const size_t dense_stride = row_bytes(m->type, m->num_cols);
      if (m->row_stride_bytes != dense_stride) {
        compact.resize(static_cast<size_t>(m->num_rows) * dense_stride);
        for (int64_t r = 0; r < m->num_rows; ++r) {
          std::memcpy(compact.data() + static_cast<size_t>(r) * dense_stride, m->row(r), dense_stride);
        }
        m->data = compact.data();
        m->row_stride_bytes = dense_stride;
      }
      if (prefers_repacked(*m)) {
        *m = repack_weight(*m, dst);
      } else {
        std::memcpy(dst, m->data, static_cast<size_t>(m->num_rows) * m->row_stride_bytes);
        m->data = dst;
      }
      progress.add();
    }
    return buffer;
  }
};

}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

ExecutionContext::ExecutionContext(int num_threads, const Backend& backend)
    : backend_(&backend), owned_pool_(std::make_unique<ThreadPool>(num_threads)), pool_(owned_pool_.get()) {}

ExecutionContext::ExecutionContext(ThreadPool& pool, const Backend& backend)
    : backend_(&backend), pool_(&pool) {}

}  // namespace tessera::kernels
