#include "engine/engine.h"

#include "grammar/compiled_grammar.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "base/check.h"
#include "base/timer.h"
#include "grammar/compiled_grammar.h"
#include "spec/draft_model_proposer.h"
#include "spec/ngram_proposer.h"
#include "tokenizer/tokenizer.h"

namespace tessera {

DType kv_cache_dtype(KvCacheType type) {
  switch (type) {
    case KvCacheType::kF32: return DType::kF32;
    case KvCacheType::kQ8_0: return DType::kQ8_0;
    case KvCacheType::kQ4_0: return DType::kQ4_0;
    case KvCacheType::kF16: break;
  }
  return DType::kF16;
}

KvTypes kv_cache_dtypes(KvCacheType type, const std::optional<KvCacheType>& k, const std::optional<KvCacheType>& v) {
  return {kv_cache_dtype(k.value_or(type)), kv_cache_dtype(v.value_or(type))};
}

namespace {

constexpr int32_t kMaxCompletionsPerRequest = 256;

// MemAvailable from /proc/meminfo in bytes; 0 when unknown.
int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

FinishReason finish_reason_of(RequestStatus status) {
  switch (status) {
    case RequestStatus::kFinishedStopped: return FinishReason::kStop;
    case RequestStatus::kFinishedLength: return FinishReason::kLength;
    case RequestStatus::kFinishedAborted: return FinishReason::kAbort;
    default: return FinishReason::kNone;
  }
}

SamplingParams to_sampling_params(const GenerationParams& p, int32_t index) {
  SamplingParams s = p;  // the sampling part, sliced off
  if (p.seed != 0xFFFFFFFFu) s.seed = p.seed + static_cast<uint64_t>(index);
  return s;
}

// The runner's half of speculative decoding: the proposer and how many drafts to ask for.
// A draft must speak the target's vocabulary token for token, and be cheaper to run: its weights
// (the bytes a decode step streams) must be fewer than the target's.
Status check_draft_model(const Model& draft, const Model& target) {
  auto draft_vocab = Tokenizer::from_gguf(draft.file());
  auto target_vocab = Tokenizer::from_gguf(target.file());
  if (!draft_vocab.ok() || !target_vocab.ok()) {
    return invalid_argument("draft model: both models need a vocabulary (tokenizer.ggml.*) to compare");
  }
  const Tokenizer& d = **draft_vocab;
  const Tokenizer& t = **target_vocab;
  if (d.vocab_size() != t.vocab_size() || draft.config().vocab_size != target.config().vocab_size) {
    return invalid_argument("draft model has another vocabulary: " + std::to_string(d.vocab_size()) +
                            " tokens, the target has " + std::to_string(t.vocab_size()));
  }
  for (int32_t id = 0; id < t.vocab_size(); ++id) {
    if (d.token_text(id) != t.token_text(id)) {
      return invalid_argument("draft model has another vocabulary: token " + std::to_string(id) + " is '" +
                              d.token_text(id) + "', the target's is '" + t.token_text(id) + "'");
    }
  }
  if (draft.file().file_bytes() >= target.file().file_bytes()) {
    return invalid_argument("draft model (" + std::to_string(draft.file().file_bytes() >> 20) +
                            " MiB) is not smaller than the target (" + std::to_string(target.file().file_bytes() >> 20) +
                            " MiB): it would cost more than it saves");
  }
  return Status();
}

Expected<RunnerSpecConfig> make_runner_spec_config(const SpeculativeConfig& c, const Model& target,
                                                   int32_t num_kv_blocks, int32_t block_size) {
  RunnerSpecConfig spec;
  if (c.method == SpecMethod::kNone) return spec;
  spec.adaptive = c.num_spec_tokens == kAdaptiveSpecTokens;
  spec.max_spec_tokens = spec.adaptive ? c.max_adaptive_spec_tokens : c.num_spec_tokens;
  if (c.method == SpecMethod::kNgram) {
    spec.proposer = std::make_unique<NgramProposer>(c.ngram_min, c.ngram_max);
    return spec;
  }
  ModelOptions options;
  options.max_batch_tokens = 512;
  options.max_context = target.max_context();
  auto draft = Model::load(c.draft_model_path, options);
  if (!draft.ok()) return Status(draft.status().code(), "draft model: " + draft.status().message());
  TS_RETURN_IF_ERROR(check_draft_model(**draft, target));
  spec.proposer = std::make_unique<DraftModelProposer>(std::move(*draft), num_kv_blocks, block_size);
  return spec;
}

}  // namespace

const char* to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kTimeout: return "timeout";
    case FinishReason::kError: return "error";
  }
  return "?";
}

Expected<int32_t> compute_num_kv_blocks(const EngineConfig& config, size_t bytes_per_block, int64_t blocks_per_seq) {
  int64_t budget = config.kv_cache_memory_bytes;
  if (budget <= 0) {
    if (!(config.kv_cache_memory_fraction > 0.0 && config.kv_cache_memory_fraction <= 1.0)) {
      return invalid_argument("kv_cache_memory_fraction must be in (0, 1]");
    }
    budget = static_cast<int64_t>(static_cast<double>(available_memory_bytes()) * config.kv_cache_memory_fraction);
  }
  const int64_t most_useful = static_cast<int64_t>(config.max_num_seqs) * blocks_per_seq + 1;
  const int64_t num_blocks = std::min(budget / static_cast<int64_t>(bytes_per_block), most_useful);
  if (num_blocks < 2) {
    return Status(StatusCode::kResourceExhausted, "KV cache budget of " + std::to_string(budget) +
                                                      " bytes holds fewer than 2 blocks of " +
                                                      std::to_string(bytes_per_block) + " bytes");
  }
  return static_cast<int32_t>(std::min<int64_t>(num_blocks, INT32_MAX));
}

Status validate_speculative_config(const SpeculativeConfig& c) {
  if (c.method == SpecMethod::kNone) return Status();
  const bool adaptive = c.num_spec_tokens == kAdaptiveSpecTokens;
  if (!adaptive && (c.num_spec_tokens < 1 || c.num_spec_tokens > kMaxSpecTokens)) {
    return invalid_argument("num_spec_tokens must be 1.." + std::to_string(kMaxSpecTokens) + " or auto, got " +
                            std::to_string(c.num_spec_tokens));
  }
  if (adaptive && (c.max_adaptive_spec_tokens < 1 || c.max_adaptive_spec_tokens > kMaxSpecTokens)) {
    return invalid_argument("max_adaptive_spec_tokens must be 1.." + std::to_string(kMaxSpecTokens));
  }
  if (c.method == SpecMethod::kNgram && !(c.ngram_min >= 1 && c.ngram_min <= c.ngram_max && c.ngram_max <= 1024)) {
    return invalid_argument("n-gram sizes must satisfy 1 <= ngram_min <= ngram_max <= 1024, got " +
                            std::to_string(c.ngram_min) + ".." + std::to_string(c.ngram_max));
  }
  if (c.method == SpecMethod::kDraft && c.draft_model_path.empty()) {
    return invalid_argument("speculative method 'draft' needs a draft model path");
  }
  return Status();
}

Expected<std::unique_ptr<EngineCore>> EngineCore::create(const EngineConfig& config) {
  if (config.num_threads < 1) return invalid_argument("num_threads must be >= 1");
  TS_RETURN_IF_ERROR(validate_speculative_config(config.speculative));
  if (config.block_size < 1) return invalid_argument("block_size must be >= 1");
  if (config.max_waiting_requests < 0) return invalid_argument("max_waiting_requests must be >= 0 (0 = no limit)");
  if (config.max_model_len < 0) return invalid_argument("max_model_len must be >= 0 (0 = the model's context)");
  auto core = std::unique_ptr<EngineCore>(new EngineCore());
  ModelOptions options;
  options.max_batch_tokens = std::clamp(config.max_num_batched_tokens, 1, 512);
  options.max_context = config.max_model_len;
  options.parallel = {config.tensor_parallel_size, config.pipeline_parallel_size};
  TS_ASSIGN_OR_RETURN(core->model_, Model::load(config.model_path, options));
  const ModelConfig& mc = core->model_->config();
  if (auto tokenizer = Tokenizer::from_gguf(core->model_->file()); tokenizer.ok()) {
    core->eos_token_id_ = (*tokenizer)->eos_id();
    core->eog_token_ids_ = (*tokenizer)->eog_ids();
  }
  const int32_t max_model_len = core->model_->max_context();
  const KvTypes kv_type = kv_cache_dtypes(config);
  TS_RETURN_IF_ERROR(check_kv_cache_type(kv_type, mc.head_dim));
  KvLayout kv_layout = make_kv_layout(mc, config.release_sliding_window_blocks);
  const size_t bytes_per_block = KvStorage::bytes_per_block(kv_layout.layers_per_block, config.block_size,
                                                            core->model_->kv_cache_heads(), mc.head_dim, kv_type);
  // The most one sequence can hold, by the same rule the scheduler admits with.
  const int64_t blocks_per_seq =
      KvCacheManager(config.block_size, 2, false, kv_layout.group_windows)
          .max_blocks_needed(max_model_len, std::max(config.max_num_batched_tokens, 1));
  // Pipeline parallelism: one virtual engine per stage, each scheduling an equal share of the
  // pool and of max_num_seqs (the token budget stays per step): a share is sized like a pool of
  // its own (its part of the budget, capped at its sequences' most, plus its own null block).
  const int32_t num_virtual_engines = std::max(config.pipeline_parallel_size, 1);
  if (num_virtual_engines > 1) {
    // The whole budget's checks (a share's could pass where the whole is wrong: a fraction over 1).
    TS_RETURN_IF_ERROR(compute_num_kv_blocks(config, bytes_per_block, blocks_per_seq).status());
  }
  EngineConfig share_config = config;
  share_config.max_num_seqs = (config.max_num_seqs + num_virtual_engines - 1) / num_virtual_engines;
  share_config.kv_cache_memory_bytes = config.kv_cache_memory_bytes / num_virtual_engines;
  share_config.kv_cache_memory_fraction = config.kv_cache_memory_fraction / num_virtual_engines;
  TS_ASSIGN_OR_RETURN(const int32_t share, compute_num_kv_blocks(share_config, bytes_per_block, blocks_per_seq));
  const int32_t num_blocks = share * num_virtual_engines;

  SchedulerConfig sc;
  sc.kv_group_windows = kv_layout.group_windows;
  sc.max_num_batched_tokens = config.max_num_batched_tokens;
  sc.max_num_seqs = share_config.max_num_seqs;
  sc.block_size = config.block_size;
  sc.num_blocks = share;
  sc.max_model_len = max_model_len;
  sc.enable_prefix_caching = config.enable_prefix_caching;
  TS_RETURN_IF_ERROR(validate_scheduler_config(sc));

  core->kv_storage_ = std::make_unique<KvStorage>(std::move(kv_layout), num_blocks, config.block_size,
                                                  core->model_->kv_cache_heads(), mc.head_dim, kv_type);
  core->pool_ = std::make_unique<ThreadPool>(config.num_threads);
  for (int32_t v = 0; v < num_virtual_engines; ++v) {
    core->virtual_engines_.push_back({std::make_unique<Scheduler>(sc), v * share, std::nullopt});
  }
  // NOTE: the draft's pool has as many blocks as the target's (its blocks are smaller), which is
  // enough unless prefix caching lets the target share blocks the draft cannot; a request that
  // finds no draft blocks just gets no drafts.
  TS_ASSIGN_OR_RETURN(RunnerSpecConfig spec,
                      make_runner_spec_config(config.speculative, *core->model_, num_blocks, config.block_size));
  core->runner_ = std::make_unique<ModelRunner>(*core->model_, *core->kv_storage_, *core->pool_, std::move(spec),
                                                num_virtual_engines);
  core->stats_.num_kv_blocks = num_blocks;
  core->stats_.kv_block_bytes = static_cast<int64_t>(bytes_per_block);
  core->stats_.num_kv_cache_groups = static_cast<int32_t>(sc.kv_group_windows.size());
  core->max_waiting_requests_ = config.max_waiting_requests;
  return core;
}

Expected<EngineRequestId> EngineCore::add_request(std::span<const int32_t> prompt_token_ids,
                                                  const GenerationParams& params) {
  if (!std::isfinite(params.presence_penalty) || !std::isfinite(params.frequency_penalty)) {
    return invalid_argument("presence_penalty and frequency_penalty must be finite");
  }
  // The sampler TS_CHECKs this (a broken invariant there); here it is a caller's bad value.
  if (!(params.repetition_penalty > 0.0f) || !std::isfinite(params.repetition_penalty)) {
    return invalid_argument("repetition_penalty must be positive and finite");
  }
  if (params.n < 1 || params.n > kMaxCompletionsPerRequest) {
    return invalid_argument("n must be between 1 and " + std::to_string(kMaxCompletionsPerRequest));
  }
  if (params.timeout_ms < 0) return invalid_argument("timeout_ms must be >= 0 (0 = no timeout)");
  for (const auto& [id, bias] : params.logit_bias) {
    if (id < 0 || id >= model_->config().vocab_size) {
      return invalid_argument("logit_bias token id " + std::to_string(id) + " is outside the vocabulary");
    }
    if (!(bias >= -100.0f && bias <= 100.0f)) return invalid_argument("logit_bias values must be in [-100, 100]");
  }
  if (params.grammar && params.grammar->vocab().size() > model_->config().vocab_size) {
    return invalid_argument("the grammar was compiled for a vocabulary of " + std::to_string(params.grammar->vocab().size()) +
                            " tokens; this model has " + std::to_string(model_->config().vocab_size));
  }
  // NOTE: checked before anything is queued, so a full queue rejects the whole request, never part
  // of its n completions. The server maps kResourceExhausted to 503.
  const int32_t num_waiting = num_waiting_requests();
  if (max_waiting_requests_ > 0 && num_waiting + params.n > max_waiting_requests_) {
    return Status(StatusCode::kResourceExhausted,
                  "waiting queue is full: " + std::to_string(num_waiting) + " completions wait, " +
                      std::to_string(params.n) + " more would pass max_waiting_requests = " +
                      std::to_string(max_waiting_requests_) + "; retry later");
  }
  const int32_t vocab = model_->config().vocab_size;
  for (int32_t id : prompt_token_ids) {
    if (id < 0 || id >= vocab) return invalid_argument("prompt token id " + std::to_string(id) + " is outside the vocabulary");
  }
  const EngineRequestId parent_id = next_request_id_++;
  std::vector<RequestId>& children = children_[parent_id];
  // All n completions in one virtual engine: the later ones find the first's prompt blocks in its
  // prefix cache (each virtual engine caches only its own blocks).
  const size_t v = least_loaded_virtual_engine();
  Scheduler& scheduler = *virtual_engines_[v].scheduler;
  // One copy for all n completions (the request's stop ids can be long).
  auto stop_token_ids = params.stop_token_ids.empty()
                            ? nullptr
                            : std::make_shared<const std::vector<int32_t>>(params.stop_token_ids);
  for (int32_t index = 0; index < params.n; ++index) {
    RequestParams rp;
    rp.request_id = next_completion_id_++;
    rp.prompt_token_ids.assign(prompt_token_ids.begin(), prompt_token_ids.end());
    rp.max_tokens = params.max_tokens;
    rp.stop_token_ids = stop_token_ids;
    rp.eog_token_ids = eog_token_ids_;
    rp.ignore_eos = params.ignore_eos;
    rp.sampling_params = to_sampling_params(params, index);
    if (Status s = scheduler.add_request(std::move(rp)); !s.ok()) {
      for (RequestId child : children) {
        (void)scheduler.abort_request(child);
        completions_.erase(child);
      }
      children_.erase(parent_id);
      return s;
    }
    children.push_back(next_completion_id_ - 1);
    completions_[next_completion_id_ - 1] = {parent_id, index, v};
  }
  stats_.num_prompt_tokens += static_cast<int64_t>(prompt_token_ids.size()) * params.n;
  if (params.timeout_ms > 0) {
    // Saturated at ~100 years so that no timeout, however large, overflows the clock arithmetic.
    constexpr int64_t kMaxTimeoutMs = int64_t{100} * 365 * 24 * 3600 * 1000;
    deadlines_us_[parent_id] = now_us() + std::min(params.timeout_ms, kMaxTimeoutMs) * 1000;
  }
  return parent_id;
}

Status EngineCore::abort(EngineRequestId request_id) {
  if (children_.count(request_id) == 0) {
    return not_found("request " + std::to_string(request_id) + " is unknown or finished");
  }
  abort_with_reason(request_id, FinishReason::kAbort);
  return Status();
}

void EngineCore::abort_with_reason(EngineRequestId request_id, FinishReason reason) {
  auto it = children_.find(request_id);
  TS_CHECK(it != children_.end(), "abort of unknown request %lld", static_cast<long long>(request_id));
  for (RequestId child : it->second) {
    auto completion = completions_.find(child);
    if (completion == completions_.end()) continue;  // that completion already finished
    // NOTE: safe while the completion's step is in flight: its blocks go back to its virtual
    // engine's pool, whose next step that hands them out runs after it on every stage (each stage
    // runs the batches in the order sent), and update_from_output skips a request its scheduler
    // no longer has.
    (void)virtual_engines_[completion->second.virtual_engine].scheduler->abort_request(child);
    RequestOutput output;
    output.request_id = request_id;
    output.index = completion->second.index;
    output.finish_reason = reason;
    pending_outputs_.push_back(std::move(output));
    completions_.erase(completion);
  }
  children_.erase(it);
  deadlines_us_.erase(request_id);
}

void EngineCore::expire_deadlines() {
  if (deadlines_us_.empty()) return;
  const int64_t now = now_us();
  std::vector<EngineRequestId> expired;
  for (const auto& [request_id, deadline_us] : deadlines_us_) {
    if (now >= deadline_us) expired.push_back(request_id);
  }
  for (EngineRequestId request_id : expired) abort_with_reason(request_id, FinishReason::kTimeout);
}

EngineCore::~EngineCore() {
  // The workers run every forward they were sent, and the last stage waits for rank 0 to take
  // each one's final rows: collect them all before the model goes (it tells the workers to unload).
  if (runner_ != nullptr) collect_all_steps();
}

bool EngineCore::has_unfinished_requests() const {
  if (!pending_outputs_.empty()) return true;
  return std::any_of(virtual_engines_.begin(), virtual_engines_.end(), [](const VirtualEngine& ve) {
    return ve.in_flight.has_value() || ve.scheduler->has_unfinished_requests();
  });
}

size_t EngineCore::least_loaded_virtual_engine() const {
  size_t best = 0;
  int32_t best_load = INT32_MAX;
  for (size_t v = 0; v < virtual_engines_.size(); ++v) {
    const Scheduler& scheduler = *virtual_engines_[v].scheduler;
    const int32_t load = scheduler.num_waiting_requests() + scheduler.num_running_requests();
    if (load < best_load) {
      best = v;
      best_load = load;
    }
  }
  return best;
}

int32_t EngineCore::num_waiting_requests() const {
  int32_t num = 0;
  for (const VirtualEngine& ve : virtual_engines_) num += ve.scheduler->num_waiting_requests();
  return num;
}

std::vector<RequestOutput> EngineCore::step() {
  expire_deadlines();
  std::vector<RequestOutput> outputs = std::move(pending_outputs_);
  pending_outputs_.clear();
  const size_t v = next_virtual_engine_;
  next_virtual_engine_ = (v + 1) % virtual_engines_.size();
  // NOTE: with P virtual engines, v's last step was launched P steps ago and every step launched
  // since belongs to another one: collecting it here keeps the others' steps in flight while v
  // updates and schedules (its scheduler must see that step's tokens first).
  collect_step(v, outputs);
  launch_step(v);
  // Nothing to overlap with (one virtual engine, or nothing scheduled): collect at once. Runs
  // even when nothing is scheduled, so the runner drops finished requests' state.
  const bool launched_a_batch = !virtual_engines_[v].in_flight->empty();
  if (virtual_engines_.size() == 1 || !launched_a_batch) collect_step(v, outputs);
  return outputs;
}

void EngineCore::launch_step(size_t v) {
  VirtualEngine& ve = virtual_engines_[v];
  SchedulerOutput scheduler_output = ve.scheduler->schedule();
  scheduler_output.block_id_offset = ve.block_id_offset;
  if (!scheduler_output.empty()) {
    const bool others_in_flight = std::any_of(virtual_engines_.begin(), virtual_engines_.end(),
                                              [](const VirtualEngine& other) { return other.in_flight.has_value(); });
    if (others_in_flight) ++stats_.num_pipelined_steps;
  }
  runner_->launch(scheduler_output, static_cast<int32_t>(v));
  ve.in_flight = std::move(scheduler_output);
}

void EngineCore::collect_step(size_t v, std::vector<RequestOutput>& outputs) {
  VirtualEngine& ve = virtual_engines_[v];
  if (!ve.in_flight) return;
  const SchedulerOutput scheduler_output = std::move(*ve.in_flight);
  ve.in_flight.reset();
  const RunnerOutput runner_output = runner_->collect(scheduler_output, static_cast<int32_t>(v));
  const std::vector<RequestUpdate> updates = ve.scheduler->update_from_output(scheduler_output, runner_output);
  record_step_metrics(*ve.scheduler, scheduler_output, runner_output);
  append_outputs(scheduler_output, runner_output, updates, outputs);
}

void EngineCore::collect_all_steps() {
  // Steps go round the virtual engines, so the oldest in flight is the next one's.
  for (size_t i = 0; i < virtual_engines_.size(); ++i) {
    collect_step((next_virtual_engine_ + i) % virtual_engines_.size(), pending_outputs_);
  }
}

std::vector<Model::RankStats> EngineCore::rank_stats() {
  collect_all_steps();
  return model_->rank_stats();
}

void EngineCore::append_outputs(const SchedulerOutput& scheduler_output, const RunnerOutput& runner_output,
                                const std::vector<RequestUpdate>& updates, std::vector<RequestOutput>& outputs) {
  // Scheduled position of each request, to find its logprobs (only when some request asked).
  std::unordered_map<RequestId, size_t> scheduled_index;
  if (!runner_output.logprobs.empty()) {
    for (size_t i = 0; i < scheduler_output.num_scheduled_tokens.size(); ++i) {
      scheduled_index[scheduler_output.num_scheduled_tokens[i].request_id] = i;
    }
  }
  for (const RequestUpdate& update : updates) {
    auto it = completions_.find(update.request_id);
    if (it == completions_.end()) continue;
    const Completion completion = it->second;
    stats_.num_output_tokens += static_cast<int64_t>(update.new_token_ids.size());
    outputs.push_back({completion.parent_id, completion.index, update.new_token_ids, finish_reason_of(update.status)});
    if (auto index = scheduled_index.find(update.request_id); index != scheduled_index.end()) {
      const std::vector<SampledLogprobs>& logprobs = runner_output.logprobs[index->second];
      const size_t num = std::min(logprobs.size(), update.new_token_ids.size());  // stop may cut the tail
      outputs.back().logprobs.assign(logprobs.begin(), logprobs.begin() + static_cast<std::ptrdiff_t>(num));
    }
    if (!is_finished(update.status)) continue;
    completions_.erase(it);
    std::vector<RequestId>& siblings = children_[completion.parent_id];
    const bool any_live = std::any_of(siblings.begin(), siblings.end(),
                                      [&](RequestId id) { return completions_.count(id) != 0; });
    if (!any_live) {
      children_.erase(completion.parent_id);
      deadlines_us_.erase(completion.parent_id);
    }
  }
}

void EngineCore::record_step_metrics(const Scheduler& scheduler, const SchedulerOutput& scheduler_output,
                                     const RunnerOutput& runner_output) {
  stats_.num_preemptions += static_cast<int64_t>(scheduler_output.preempted_request_ids.size());
  if (scheduler_output.empty()) return;
  for (size_t i = 0; i < scheduler_output.num_scheduled_tokens.size(); ++i) {
    const int32_t num_drafts = scheduler_output.num_scheduled_tokens[i].num_spec_tokens;
    if (num_drafts == 0) continue;
    // Every sampled token but the last is an accepted draft.
    const auto num_accepted = static_cast<int32_t>(runner_output.sampled_token_ids[i].size()) - 1;
    ++stats_.spec_num_drafts;
    stats_.spec_num_draft_tokens += num_drafts;
    stats_.spec_num_accepted_tokens += num_accepted;
    std::vector<int64_t>& per_pos = stats_.spec_num_accepted_tokens_per_pos;
    if (per_pos.size() < static_cast<size_t>(num_drafts)) per_pos.resize(static_cast<size_t>(num_drafts), 0);
    for (int32_t j = 0; j < num_accepted; ++j) ++per_pos[static_cast<size_t>(j)];
  }
  ++stats_.num_steps;
  stats_.num_computed_tokens += scheduler_output.total_num_scheduled_tokens;
  int32_t in_use = 0;  // over every virtual engine's share (each has its own null block)
  for (const VirtualEngine& ve : virtual_engines_) {
    const BlockPool& pool = ve.scheduler->kv_cache_manager().block_pool();
    in_use += pool.num_blocks() - 1 - pool.get_num_free_blocks();
  }
  stats_.peak_kv_blocks_in_use = std::max(stats_.peak_kv_blocks_in_use, in_use);
  const KvCacheManager& kv = scheduler.kv_cache_manager();
  int64_t allocated_slots = 0, used_slots = 0;
  for (RequestId id : scheduler.running_request_ids()) {
    // Waste is measured on group 0 (full attention: every token it holds is a used slot).
    allocated_slots += static_cast<int64_t>(kv.num_held_blocks(id, 0)) * kv.block_size();
    used_slots += scheduler.find_request(id)->num_computed_tokens();
  }
  if (allocated_slots > 0) {
    kv_waste_sum_ += 1.0 - static_cast<double>(used_slots) / static_cast<double>(allocated_slots);
    ++num_waste_steps_;
  }
}

EngineStats EngineCore::stats() const {
  EngineStats s = stats_;
  PrefixCacheStats prefix;  // summed over the virtual engines
  for (const VirtualEngine& ve : virtual_engines_) {
    const KvCacheManager& kv = ve.scheduler->kv_cache_manager();
    s.num_free_kv_blocks += kv.block_pool().get_num_free_blocks();
    s.num_cached_kv_blocks += kv.block_pool().num_cached_blocks();
    prefix.num_requests += kv.prefix_cache_stats().num_requests;
    prefix.num_query_tokens += kv.prefix_cache_stats().num_query_tokens;
    prefix.num_hit_tokens += kv.prefix_cache_stats().num_hit_tokens;
    s.num_running_requests += ve.scheduler->num_running_requests();
    s.num_waiting_requests += ve.scheduler->num_waiting_requests();
    s.num_steps_in_flight += ve.in_flight.has_value() ? 1 : 0;
  }
  s.prefix_cache_hit_rate = prefix.hit_rate();
  s.prefix_cache_queries = prefix.num_query_tokens;
  s.prefix_cache_hits = prefix.num_hit_tokens;
  s.kv_waste = num_waste_steps_ == 0 ? 0.0 : kv_waste_sum_ / static_cast<double>(num_waste_steps_);
  const Model::MoeStats moe = model_->moe_stats();
  s.moe_layer_calls = moe.layer_calls;
  s.moe_expert_reads = moe.expert_reads;
  s.moe_routed_rows = moe.routed_rows;
  return s;
}

// ---- Engine: the public face, forwarding to EngineCore ----

Expected<std::unique_ptr<Engine>> Engine::create(const EngineConfig& config) {
  TS_ASSIGN_OR_RETURN(auto core, EngineCore::create(config));
  return std::unique_ptr<Engine>(new Engine(std::move(core)));
}
Engine::Engine(std::unique_ptr<EngineCore> core) : core_(std::move(core)) {}
Engine::~Engine() = default;
Expected<EngineRequestId> Engine::add_request(std::span<const int32_t> prompt_token_ids, const GenerationParams& params) {
  return core_->add_request(prompt_token_ids, params);
}
Status Engine::abort(EngineRequestId request_id) { return core_->abort(request_id); }
std::vector<RequestOutput> Engine::step() { return core_->step(); }
bool Engine::has_unfinished_requests() const { return core_->has_unfinished_requests(); }
EngineStats Engine::stats() const { return core_->stats(); }
std::vector<Engine::RankStats> Engine::rank_stats() {
  std::vector<RankStats> out;
  for (const Model::RankStats& r : core_->rank_stats()) out.push_back({r.resident_weight_bytes, r.bytes_sent});
  return out;
}
int32_t Engine::vocab_size() const { return core_->model().config().vocab_size; }
int32_t Engine::eos_token_id() const { return core_->eos_token_id(); }
const std::vector<int32_t>& Engine::eog_token_ids() const { return core_->eog_token_ids(); }
int32_t Engine::max_model_len() const { return core_->scheduler().config().max_model_len; }

}  // namespace tessera
