#include "serve_bench/request_result.h"

namespace tessera::serve_bench {

void StreamRecorder::on_chunk(const StreamChunk& chunk, double receive_s) {
  if (!chunk.error.empty() && result_.error.empty()) result_.error = "server error in stream: " + chunk.error;
  if (chunk.has_choice) {
    if (!first_chunk_seen_) {
      first_chunk_seen_ = true;
      result_.ttft_s = receive_s - start_s_;
    } else {
      result_.itl_s.push_back(receive_s - last_chunk_s_);
    }
    last_chunk_s_ = receive_s;
    if (!chunk.text.empty()) ++num_text_chunks_;
    result_.generated_text += chunk.text;
  }
  if (chunk.completion_tokens) usage_completion_tokens_ = *chunk.completion_tokens;
  if (chunk.prompt_tokens) usage_prompt_tokens_ = *chunk.prompt_tokens;
}

void StreamRecorder::on_failure(std::string error) {
  if (result_.error.empty()) result_.error = std::move(error);
}

RequestResult StreamRecorder::finish(int64_t prompt_len) && {
  if (result_.error.empty() && !first_chunk_seen_) result_.error = "the stream carried no completion chunk";
  result_.success = result_.error.empty();
  result_.prompt_tokens = usage_prompt_tokens_ >= 0 ? usage_prompt_tokens_ : prompt_len;
  result_.output_tokens = usage_completion_tokens_ >= 0 ? usage_completion_tokens_ : num_text_chunks_;
  result_.latency_s = first_chunk_seen_ ? last_chunk_s_ - start_s_ : 0.0;
  return std::move(result_);
}

}  // namespace tessera::serve_bench
