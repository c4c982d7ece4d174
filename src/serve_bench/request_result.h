// What one benchmark request measured, and StreamRecorder, which builds it from the timestamps of
// its streamed chunks with vLLM benchmark_serving's definitions. No HTTP here: tests drive it with
// hand-made timelines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "serve_bench/stream_chunk.h"

namespace tessera::serve_bench {

struct RequestResult {
  bool success = false;        // a 200 response that streamed at least one choice and no error
  std::string error;           // why not, for failed requests
  int64_t prompt_tokens = 0;   // usage.prompt_tokens if sent, else the prompt's length
  int64_t output_tokens = 0;   // usage.completion_tokens if sent, else the non-empty text chunks
  double ttft_s = 0.0;         // send -> first chunk with a choice
  std::vector<double> itl_s;   // gaps between successive chunks with a choice
  double latency_s = 0.0;      // send -> last chunk with a choice (end-to-end latency)
  std::string generated_text;  // the streamed text, concatenated
};

// Feeds on the chunks of one streamed response, in arrival order, with their receive times.
class StreamRecorder {
 public:
  // `start_s`: when the request was sent, on the same clock as the chunk times.
  explicit StreamRecorder(double start_s) : start_s_(start_s) {}

  void on_chunk(const StreamChunk& chunk, double receive_s);
  // The transport failed (connection refused, reset, timed out) or the status was not 200.
  void on_failure(std::string error);

  // The result; `prompt_len` is used when the server sent no usage.prompt_tokens.
  RequestResult finish(int64_t prompt_len) &&;

 private:
  double start_s_;
  double last_chunk_s_ = 0.0;  // receive time of the latest chunk with a choice
  bool first_chunk_seen_ = false;
  int64_t num_text_chunks_ = 0;  // chunks with non-empty text: the token count without usage
  int64_t usage_completion_tokens_ = -1;  // -1: no usage seen
  int64_t usage_prompt_tokens_ = -1;
  RequestResult result_;
};

}  // namespace tessera::serve_bench
