// The rank-0 / worker protocol of a tensor- or pipeline-parallel model (docs/distributed.md).
// Rank 0 runs everything a single process does (tokenizer, scheduler, sampler, server) and, at
// each Model::load, forward and unload, sends one command to every other rank; they run
// run_worker(), which loads their shard, runs their part of each forward pass and answers
// statistics, until stop_workers(). Commands are a header {command, payload words} and a payload,
// sent point to point on one tag (kCommandTag), so a worker takes them in the order sent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/model.h"

namespace tessera {

enum class WorkerCommand : int64_t { kLoad = 1, kForward = 2, kUnload = 3, kStats = 4, kStop = 5 };

// Point-to-point message tags.
inline constexpr int kActivationTag = 1;  // residual rows, stage to stage
inline constexpr int kFinalRowsTag = 2;   // the last stage's final hidden rows to rank 0 (output head)
inline constexpr int kStatsTag = 3;       // a worker's Model::RankStats to rank 0
inline constexpr int kLoadTag = 4;        // a worker's load result to rank 0
inline constexpr int kCommandTag = 5;     // rank 0's commands (header, then payload) to every worker

// Rank 0: sends a command to every other rank (a no-op in a group of one). Returns once the
// command is copied for sending, before any worker takes it: with pipeline parallelism rank 0
// sends the next forward while the workers still run the previous ones.
Status send_worker_command(WorkerCommand command, const std::vector<int64_t>& payload);

// A worker's main loop (every rank but 0): returns the process exit code at kStop.
int run_worker();

// Rank 0, before MPI_Finalize: ends every worker's loop. Safe to call in a group of one.
void stop_workers();

// Model::load of a parallel model on any rank (rank 0 first tells the workers to load the same):
// every rank loads its shard, then all agree: one rank's failure is every rank's error, which
// names the rank.
Expected<std::unique_ptr<Model>> load_parallel_model(std::shared_ptr<const gguf::GgufFile> file,
                                                     const ModelOptions& options);

// A ForwardBatch and the shape of the KV cache it runs on, as int64 words (the kForward payload).
// The last word is the thread count the workers run with (rank 0's).
std::vector<int64_t> encode_forward(const ForwardBatch& batch, const KvStorage& kv, int32_t num_threads);

struct DecodedForward {
  ForwardBatch batch;                         // block_tables point into `tables`
  std::vector<std::vector<int32_t>> tables;
  KvLayout kv_layout;
  int32_t kv_num_blocks = 0, kv_block_size = 0;
  KvTypes kv_type = DType::kF32;              // K and V element types
};
// The inverse of encode_forward; a payload that does not add up is corrupt_data, never a crash.
Expected<std::unique_ptr<DecodedForward>> decode_forward(const std::vector<int64_t>& words);

}  // namespace tessera
