// The rank-0 / worker protocol: commands, the worker loop, the agreed load and the ForwardBatch
// codec. Everything a worker learns comes from rank 0's commands; a worker never reads flags.
#include "model/distributed.h"

#include <algorithm>
#include <cstring>

#include "model/arch/architecture.h"
#include "model/decoder_model.h"
#include "model/shard.h"

namespace tessera {
namespace {

// Appends a string as its length and its bytes packed into int64 words.
void put_string(std::vector<int64_t>& words, const std::string& text) {
  words.push_back(static_cast<int64_t>(text.size()));
  const size_t first = words.size();
  words.resize(first + (text.size() + 7) / 8, 0);
  std::memcpy(words.data() + first, text.data(), text.size());
}

// Reads int64 words front to back; running past the end makes ok() false and returns zeros.
class WordReader {
 public:
  explicit WordReader(const std::vector<int64_t>& words) : words_(words) {}
  int64_t next() {
    if (pos_ >= words_.size()) {
      ok_ = false;
      return 0;
    }
    return words_[pos_++];
  }
  // A count that must fit in what is left (each item at least `words_per_item` words).
  int64_t count(int64_t words_per_item = 1) {
    const int64_t n = next();
    if (n < 0 || static_cast<uint64_t>(n) * words_per_item > words_.size() - std::min(pos_, words_.size())) {
      ok_ = false;
      return 0;
    }
    return n;
  }
  std::string string() {
    const int64_t length = next();
    const size_t num_words = (static_cast<size_t>(std::max<int64_t>(length, 0)) + 7) / 8;
    if (length < 0 || pos_ + num_words > words_.size()) {
      ok_ = false;
      return "";
    }
    std::string text(static_cast<size_t>(length), '\0');
    std::memcpy(text.data(), words_.data() + pos_, text.size());
    pos_ += num_words;
    return text;
  }
  template <typename T>
  void fill(std::vector<T>& out, int64_t n) {
    out.resize(static_cast<size_t>(n));
    for (T& v : out) v = static_cast<T>(next());
  }
  bool ok() const { return ok_ && pos_ == words_.size(); }

 private:
  const std::vector<int64_t>& words_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Every rank's load result reaches rank 0, which broadcasts the verdict: the first failure, named
// by rank, or "" for success. Returns that verdict on every rank.
Status agree_on_load(const Status& own, dist::Communicator& world) {
  std::vector<int64_t> words = {own.ok() ? 0 : 1};
  put_string(words, own.message());
  std::string verdict;
  if (world.rank() == 0) {
    if (!own.ok()) verdict = "rank 0: " + own.message();
    for (int r = 1; r < world.size(); ++r) {
      int64_t num_words = 0;
      TS_RETURN_IF_ERROR(world.recv(&num_words, sizeof(num_words), r, kLoadTag));
      std::vector<int64_t> theirs(static_cast<size_t>(std::clamp<int64_t>(num_words, 0, 1 << 20)));
      TS_RETURN_IF_ERROR(world.recv(theirs.data(), theirs.size() * sizeof(int64_t), r, kLoadTag));
      WordReader reader(theirs);
      const bool failed = reader.next() != 0;
      const std::string message = reader.string();
      if (failed && verdict.empty()) verdict = "rank " + std::to_string(r) + ": " + message;
    }
  } else {
    const int64_t num_words = static_cast<int64_t>(words.size());
    TS_RETURN_IF_ERROR(world.send(&num_words, sizeof(num_words), 0, kLoadTag));
    TS_RETURN_IF_ERROR(world.send(words.data(), words.size() * sizeof(int64_t), 0, kLoadTag));
    TS_RETURN_IF_ERROR(world.flush());
  }
  std::vector<int64_t> verdict_words;
  put_string(verdict_words, verdict);
  int64_t num_words = static_cast<int64_t>(verdict_words.size());
  TS_RETURN_IF_ERROR(world.broadcast(&num_words, sizeof(num_words), 0));
  verdict_words.resize(static_cast<size_t>(num_words));
  TS_RETURN_IF_ERROR(world.broadcast(verdict_words.data(), verdict_words.size() * sizeof(int64_t), 0));
  WordReader reader(verdict_words);
  verdict = reader.string();
  if (verdict.empty()) return Status();
  return Status(own.ok() ? StatusCode::kInternal : own.code(), verdict);
}

// The worker's copy of rank 0's KV cache shape; remade when rank 0 starts using another one.
bool same_kv_shape(const KvStorage& kv, const DecodedForward& f) {
  return kv.num_blocks() == f.kv_num_blocks && kv.block_size() == f.kv_block_size && kv.types().k == f.kv_type.k && kv.types().v == f.kv_type.v &&
         kv.layout().layers_per_block == f.kv_layout.layers_per_block &&
         kv.layout().group_of_layer == f.kv_layout.group_of_layer &&
         kv.layout().slot_of_layer == f.kv_layout.slot_of_layer &&
         kv.layout().group_windows == f.kv_layout.group_windows;
}

struct Worker {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvStorage> kv;
  std::unique_ptr<kernels::ExecutionContext> context;

  void load(WordReader& reader) {
    ModelOptions options;
    const std::string path = reader.string();
    options.max_batch_tokens = static_cast<int32_t>(reader.next());
    options.max_context = static_cast<int32_t>(reader.next());
    options.parallel.tensor_parallel_size = static_cast<int32_t>(reader.next());
    options.parallel.pipeline_parallel_size = static_cast<int32_t>(reader.next());
    if (!reader.ok()) dist::abort_job("worker: malformed load command");
    kv.reset();
    model.reset();
    auto loaded = Model::load(path, options);  // reports to rank 0 itself (agree_on_load)
    if (loaded.ok()) model = std::move(loaded).value();
  }

  void forward(const std::vector<int64_t>& payload) {
    auto decoded = decode_forward(payload);
    if (!decoded.ok()) dist::abort_job("worker: " + decoded.status().message());
    if (model == nullptr) dist::abort_job("worker: forward without a model");
    DecodedForward& f = **decoded;
    const int32_t threads = static_cast<int32_t>(payload.back());
    if (context == nullptr || context->num_threads() != threads) {
      context = std::make_unique<kernels::ExecutionContext>(threads);
    }
    if (kv == nullptr || !same_kv_shape(*kv, f)) {
      kv.reset();
      kv = std::make_unique<KvStorage>(f.kv_layout, f.kv_num_blocks, f.kv_block_size, model->kv_cache_heads(),
                                       model->config().head_dim, f.kv_type);
    }
    model->forward(f.batch, *kv, /*logits=*/nullptr, *context);  // rank 0 alone runs the output head
  }

  void stats() {
    if (model == nullptr) dist::abort_job("worker: statistics without a model");
    const Model::RankStats own = model->rank_stats().front();
    dist::Communicator& world = dist::world();
    Status s = world.send(&own, sizeof(own), 0, kStatsTag);
    if (s.ok()) s = world.flush();
    if (!s.ok()) dist::abort_job(s.message());
  }
};

}  // namespace

Status send_worker_command(WorkerCommand command, const std::vector<int64_t>& payload) {
  dist::Communicator& world = dist::world();
  if (world.size() == 1) return Status();
  const int64_t header[2] = {static_cast<int64_t>(command), static_cast<int64_t>(payload.size())};
  // NOTE: point to point, not a broadcast: a broadcast over the transport's eager limit (~4 KB on
  // shared memory) completes only once every worker has entered it, i.e. finished its previous
  // forward, so rank 0 could never run ahead of the last stage. Sends are copies and return at
  // once; MPI keeps their order per (source, tag), so every command travels on the one tag.
  for (int rank = 1; rank < world.size(); ++rank) {
    TS_RETURN_IF_ERROR(world.send(header, sizeof(header), rank, kCommandTag));
    if (!payload.empty()) {
      TS_RETURN_IF_ERROR(world.send(payload.data(), payload.size() * sizeof(int64_t), rank, kCommandTag));
    }
  }
  return Status();
}

void stop_workers() {
  if (dist::world().size() == 1 || dist::world().rank() != 0) return;
  Status s = send_worker_command(WorkerCommand::kStop, {});
  if (s.ok()) s = dist::world().flush();  // before MPI_Finalize: no send may be left pending
  if (!s.ok()) dist::abort_job(s.message());
}

int run_worker() {
  dist::Communicator& world = dist::world();
  Worker worker;
  std::vector<int64_t> payload;
  for (;;) {
    int64_t header[2] = {0, 0};
    // An idle server sends nothing for hours: this wait has no deadline (a dead rank 0 ends the
    // job through mpirun).
    if (Status s = world.recv(header, sizeof(header), 0, kCommandTag, dist::Communicator::kNoDeadline); !s.ok()) {
      dist::abort_job(s.message());
    }
    if (header[1] < 0 || header[1] > (int64_t{1} << 32)) dist::abort_job("worker: malformed command header");
    payload.resize(static_cast<size_t>(header[1]));
    if (!payload.empty()) {
      if (Status s = world.recv(payload.data(), payload.size() * sizeof(int64_t), 0, kCommandTag); !s.ok()) {
        dist::abort_job(s.message());
      }
    }
    WordReader reader(payload);
    switch (static_cast<WorkerCommand>(header[0])) {
      case WorkerCommand::kLoad: worker.load(reader); break;
      case WorkerCommand::kForward: worker.forward(payload); break;
      case WorkerCommand::kUnload:
        worker.kv.reset();
        worker.model.reset();
        break;
      case WorkerCommand::kStats: worker.stats(); break;
      case WorkerCommand::kStop: return 0;
      default: dist::abort_job("worker: unknown command " + std::to_string(header[0]));
    }
  }
}

Expected<std::unique_ptr<Model>> load_parallel_model(std::shared_ptr<const gguf::GgufFile> file,
                                                     const ModelOptions& options) {
  dist::Communicator& world = dist::world();
  const ParallelConfig& p = options.parallel;
  if (world.rank() == 0) {
    // Checked before any worker is involved: a job of the wrong size cannot agree on anything.
    if (!dist::built_with_mpi() || world.size() != p.num_ranks() || p.tensor_parallel_size < 1 ||
        p.pipeline_parallel_size < 1) {
      return make_parallel_groups(p).status();
    }
    std::vector<int64_t> words;
    put_string(words, file->path());
    words.insert(words.end(), {options.max_batch_tokens, options.max_context, p.tensor_parallel_size,
                               p.pipeline_parallel_size});
    TS_RETURN_IF_ERROR(send_worker_command(WorkerCommand::kLoad, words));
  }
  auto groups = make_parallel_groups(p);
  if (!groups.ok()) return groups.status();
  auto parallel = std::make_unique<ParallelGroups>(std::move(groups).value());
  // The loading itself; its Status is agreed on below, so every rank fails together.
  auto load_shard = [&]() -> Expected<std::unique_ptr<Model>> {
    TS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
    const Architecture* arch = find_architecture(config.architecture);
    TS_ASSIGN_OR_RETURN(DecoderWeights weights, load_decoder_weights(*file, config, *arch));
    TS_RETURN_IF_ERROR(shard_decoder_weights(config, parallel->shard, weights));
    TS_ASSIGN_OR_RETURN(std::unique_ptr<DecoderModel> model,
                        DecoderModel::create_shard(file, std::move(config), std::move(weights), options,
                                                   std::move(parallel)));
    return std::unique_ptr<Model>(std::move(model));
  };
  auto loaded = load_shard();
  const Status agreed = agree_on_load(loaded.status(), world);
  if (!agreed.ok()) return agreed;
  return loaded;
}

std::vector<int64_t> encode_forward(const ForwardBatch& b, const KvStorage& kv, int32_t num_threads) {
  std::vector<int64_t> w;
  w.push_back(b.num_kv_groups);
  w.push_back(b.num_tokens());
  w.insert(w.end(), b.token_ids.begin(), b.token_ids.end());
  w.insert(w.end(), b.positions.begin(), b.positions.end());
  w.insert(w.end(), b.slot_mapping.begin(), b.slot_mapping.end());
  w.push_back(static_cast<int64_t>(b.sequences.size()));
  for (const SequenceInBatch& s : b.sequences) w.insert(w.end(), {s.first_token, s.num_tokens, s.first_block_table});
  w.push_back(static_cast<int64_t>(b.block_tables.size()));
  for (const std::span<const int32_t> table : b.block_tables) {
    w.push_back(static_cast<int64_t>(table.size()));
    w.insert(w.end(), table.begin(), table.end());
  }
  w.push_back(static_cast<int64_t>(b.logit_rows.size()));
  w.insert(w.end(), b.logit_rows.begin(), b.logit_rows.end());
  const KvLayout& l = kv.layout();
  w.insert(w.end(), {int64_t{kv.num_blocks()}, int64_t{kv.block_size()}, static_cast<int64_t>(kv.types().k),
                     static_cast<int64_t>(kv.types().v), int64_t{l.layers_per_block}, int64_t{l.num_layers()}});
  w.insert(w.end(), l.group_of_layer.begin(), l.group_of_layer.end());
  w.insert(w.end(), l.slot_of_layer.begin(), l.slot_of_layer.end());
  w.push_back(l.num_groups());
  w.insert(w.end(), l.group_windows.begin(), l.group_windows.end());
  w.push_back(num_threads);  // last: the worker's thread count follows rank 0's
  return w;
}

Expected<std::unique_ptr<DecodedForward>> decode_forward(const std::vector<int64_t>& words) {
  auto f = std::make_unique<DecodedForward>();
  WordReader r(words);
  ForwardBatch& b = f->batch;
  b.num_kv_groups = static_cast<int32_t>(r.next());
  const int64_t num_tokens = r.count(2);
  if (b.num_kv_groups < 1 || b.num_kv_groups > 1024) return corrupt_data("forward command: bad KV group count");
  r.fill(b.token_ids, num_tokens);
  r.fill(b.positions, num_tokens);
  r.fill(b.slot_mapping, num_tokens * b.num_kv_groups);
  const int64_t num_sequences = r.count(3);
  b.sequences.resize(static_cast<size_t>(num_sequences));
  for (SequenceInBatch& s : b.sequences) {
    s.first_token = static_cast<int32_t>(r.next());
    s.num_tokens = static_cast<int32_t>(r.next());
    s.first_block_table = static_cast<int32_t>(r.next());
  }
  f->tables.resize(static_cast<size_t>(r.count()));
  for (std::vector<int32_t>& table : f->tables) r.fill(table, r.count());
  for (const std::vector<int32_t>& table : f->tables) b.block_tables.emplace_back(table);
  r.fill(b.logit_rows, r.count());
  f->kv_num_blocks = static_cast<int32_t>(r.next());
  f->kv_block_size = static_cast<int32_t>(r.next());
  f->kv_type.k = static_cast<DType>(r.next());
  f->kv_type.v = static_cast<DType>(r.next());
  f->kv_layout.layers_per_block = static_cast<int32_t>(r.next());
  const int64_t num_layers = r.count(2);
  r.fill(f->kv_layout.group_of_layer, num_layers);
  r.fill(f->kv_layout.slot_of_layer, num_layers);
  r.fill(f->kv_layout.group_windows, r.count());
  r.next();  // the thread count (read by the worker)
  if (!r.ok()) return corrupt_data("forward command: the payload does not add up");
  // Indices the model trusts: every sequence's tokens and tables inside the batch.
  for (const SequenceInBatch& s : b.sequences) {
    if (s.first_token < 0 || s.num_tokens < 0 || s.first_token + s.num_tokens > num_tokens ||
        s.first_block_table < 0 || s.first_block_table + b.num_kv_groups > static_cast<int64_t>(f->tables.size())) {
      return corrupt_data("forward command: a sequence outside the batch");
    }
  }
  for (int32_t row : b.logit_rows) {
    if (row < 0 || row >= num_tokens) return corrupt_data("forward command: a logit row outside the batch");
  }
  return f;
}

}  // namespace tessera
