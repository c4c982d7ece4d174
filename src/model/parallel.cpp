// make_parallel_groups: the job's shape checked against the flags, and the world split into stages.
#include "model/parallel.h"

#include <string>

namespace tessera {

Expected<ParallelGroups> make_parallel_groups(const ParallelConfig& config) {
  const int32_t t = config.tensor_parallel_size, p = config.pipeline_parallel_size;
  if (t < 1 || p < 1) return invalid_argument("--tensor-parallel-size and --pipeline-parallel-size must be >= 1");
  dist::Communicator& world = dist::world();
  if (!config.single() && !dist::built_with_mpi()) {
    return unsupported("tensor/pipeline parallelism needs a build with MPI (cmake -DTESSERA_MPI=ON, libopenmpi-dev)");
  }
  if (world.size() != t * p) {
    return invalid_argument("--tensor-parallel-size " + std::to_string(t) + " x --pipeline-parallel-size " +
                            std::to_string(p) + " needs " + std::to_string(t * p) + " processes, but this job has " +
                            std::to_string(world.size()) + " (start it with mpirun -np " + std::to_string(t * p) + ")");
  }
  ParallelGroups groups;
  groups.world = &world;
  groups.shard.tp_size = t;
  groups.shard.pp_size = p;
  groups.shard.pp_rank = world.rank() / t;
  groups.shard.tp_rank = world.rank() % t;
  TS_ASSIGN_OR_RETURN(groups.tensor, world.split(groups.shard.pp_rank, groups.shard.tp_rank));
  return groups;
}

}  // namespace tessera
