// The single-process side of tensor/pipeline parallelism (docs/distributed.md): the even splits,
// the ForwardBatch codec rank 0 sends to the workers (round trip, and every malformed payload an
// error, never a crash), the group of one process, and a parallel load outside mpirun refused
// with a clear error. The multi-rank checks run under mpirun in tests/dist.
#include <gtest/gtest.h>

#include <numeric>

#include "dist/communicator.h"
#include "model/distributed.h"
#include "model/model.h"
#include "model/shard.h"

namespace tessera {
namespace {

TEST(Shard, SplitEvenlyCoversEveryItemOnce) {
  for (int64_t count : {0, 1, 5, 7, 32, 100}) {
    for (int32_t parts : {1, 2, 3, 4, 8}) {
      int64_t next = 0;
      for (int32_t i = 0; i < parts; ++i) {
        const IndexRange r = split_evenly(count, parts, i);
        EXPECT_EQ(r.begin, next);
        EXPECT_LE(r.size(), count / parts + 1);
        EXPECT_GE(r.size(), count / parts);
        next = r.end;
      }
      EXPECT_EQ(next, count);
    }
  }
  const ShardSpec stage1{.tp_rank = 0, .tp_size = 1, .pp_rank = 1, .pp_size = 2};
  EXPECT_EQ(stage_layers(5, stage1).begin, 3);
  EXPECT_EQ(stage_layers(5, stage1).end, 5);
}

ForwardBatch two_sequence_batch(std::vector<std::vector<int32_t>>& tables) {
  ForwardBatch batch;
  batch.num_kv_groups = 2;
  tables = {{3, 4}, {5}, {6, 7, 8}, {9, 10}};
  const std::span<const int32_t> first[] = {tables[0], tables[1]};
  const std::span<const int32_t> second[] = {tables[2], tables[3]};
  const std::vector<int32_t> a = {11, 12, 13}, b = {21};
  batch.add_sequence(a, 0, first, 16, 1);
  batch.add_sequence(b, 20, second, 16, 1);
  return batch;
}

TEST(DistributedCodec, ForwardBatchRoundTrips) {
  std::vector<std::vector<int32_t>> tables;
  const ForwardBatch batch = two_sequence_batch(tables);
  KvLayout layout = KvLayout::single_group(3);
  layout.group_of_layer = {0, 1, 0};
  layout.slot_of_layer = {0, 0, 1};
  layout.layers_per_block = 2;
  layout.group_windows = {0, 16};
  KvStorage kv(layout, 12, 16, 2, 8, DType::kF16);
  const std::vector<int64_t> words = encode_forward(batch, kv, 3);
  EXPECT_EQ(words.back(), 3);
  auto decoded = decode_forward(words);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const ForwardBatch& b = (*decoded)->batch;
  EXPECT_EQ(b.num_kv_groups, 2);
  EXPECT_EQ(b.token_ids, batch.token_ids);
  EXPECT_EQ(b.positions, batch.positions);
  EXPECT_EQ(b.slot_mapping, batch.slot_mapping);
  EXPECT_EQ(b.logit_rows, batch.logit_rows);
  ASSERT_EQ(b.sequences.size(), 2u);
  EXPECT_EQ(b.sequences[1].first_token, 3);
  EXPECT_EQ(b.sequences[1].first_block_table, 2);
  ASSERT_EQ(b.block_tables.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(std::vector<int32_t>(b.block_tables[i].begin(), b.block_tables[i].end()), tables[i]);
  }
  EXPECT_EQ((*decoded)->kv_num_blocks, 12);
  EXPECT_EQ((*decoded)->kv_block_size, 16);
  EXPECT_EQ((*decoded)->kv_type, DType::kF16);
  EXPECT_EQ((*decoded)->kv_layout.group_of_layer, layout.group_of_layer);
  EXPECT_EQ((*decoded)->kv_layout.slot_of_layer, layout.slot_of_layer);
  EXPECT_EQ((*decoded)->kv_layout.group_windows, layout.group_windows);
}

TEST(DistributedCodec, MalformedPayloadsAreErrors) {
  std::vector<std::vector<int32_t>> tables;
  const ForwardBatch batch = two_sequence_batch(tables);
  KvStorage kv(2, 12, 16, 2, 8, DType::kF32);
  const std::vector<int64_t> words = encode_forward(batch, kv, 1);
  for (size_t length = 0; length < words.size(); ++length) {
    const std::vector<int64_t> truncated(words.begin(), words.begin() + static_cast<long>(length));
    EXPECT_FALSE(decode_forward(truncated).ok()) << "length " << length;
  }
  std::vector<int64_t> longer = words;
  longer.push_back(0);
  EXPECT_FALSE(decode_forward(longer).ok());
  // A count far beyond the payload, a sequence running past the batch, a logit row outside it.
  std::vector<int64_t> huge = words;
  huge[1] = int64_t{1} << 40;
  EXPECT_FALSE(decode_forward(huge).ok());
  ForwardBatch past_end = batch;
  past_end.sequences[1].num_tokens = 5;
  EXPECT_FALSE(decode_forward(encode_forward(past_end, kv, 1)).ok());
  ForwardBatch bad_row = batch;
  bad_row.logit_rows.back() = 99;
  EXPECT_FALSE(decode_forward(encode_forward(bad_row, kv, 1)).ok());
}

TEST(DistributedCodec, GroupOfOneProcess) {
  dist::Communicator& world = dist::world();
  EXPECT_EQ(world.size(), 1);  // this binary is not started by mpirun
  float values[3] = {1, 2, 3}, gathered[3] = {};
  EXPECT_TRUE(world.all_reduce_sum(values, 3).ok());
  EXPECT_EQ(values[2], 3.0f);
  EXPECT_TRUE(world.all_gather(values, 3, gathered).ok());
  EXPECT_EQ(gathered[1], 2.0f);
  EXPECT_FALSE(world.send(values, sizeof(values), 1, 0).ok());
  EXPECT_TRUE(send_worker_command(WorkerCommand::kStop, {}).ok());  // nobody to tell
}

TEST(DistributedCodec, ParallelLoadOutsideMpirunIsAClearError) {
  ModelOptions options;
  options.parallel = {2, 1};
  auto model = Model::load(std::string(TESSERA_SHARED_DIR) + "/models/stories260K-f32.gguf", options);
  ASSERT_FALSE(model.ok());
  const std::string& message = model.status().message();
  EXPECT_TRUE(message.find("mpirun -np 2") != std::string::npos || message.find("build with MPI") != std::string::npos)
      << message;
}

}  // namespace
}  // namespace tessera
