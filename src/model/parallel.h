// ShardSpec, ParallelConfig and ParallelGroups: which part of a model this process holds, how
// many ways a model is split across the processes of an MPI job (docs/distributed.md), and the
// communicators one rank of it talks through.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "dist/communicator.h"

namespace tessera {

struct ShardSpec {
  int32_t tp_rank = 0, tp_size = 1;  // tensor-parallel rank inside the stage, and ranks per stage
  int32_t pp_rank = 0, pp_size = 1;  // pipeline stage, and stages

  bool single() const { return tp_size == 1 && pp_size == 1; }
  // World rank of (stage, tensor rank): stages are consecutive runs of tp_size ranks.
  int32_t world_rank(int32_t stage, int32_t tp) const { return stage * tp_size + tp; }
};

struct ParallelConfig {
  int32_t tensor_parallel_size = 1;    // ranks that split each layer (Megatron)
  int32_t pipeline_parallel_size = 1;  // stages of consecutive layers

  bool single() const { return tensor_parallel_size == 1 && pipeline_parallel_size == 1; }
  int32_t num_ranks() const { return tensor_parallel_size * pipeline_parallel_size; }
};

struct ParallelGroups {
  ShardSpec shard;
  dist::Communicator* world = nullptr;  // every rank (dist::world())
  dist::Communicator tensor;            // the tp_size ranks of this stage: the all-reduces
};

// Checks `config` against the job (T x P must equal the ranks mpirun started; a build without MPI
// refuses anything but 1 x 1) and splits the world into stages. Collective over every rank.
Expected<ParallelGroups> make_parallel_groups(const ParallelConfig& config);

}  // namespace tessera
