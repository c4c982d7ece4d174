// stream_response without sockets: a failed write cancels the session, which aborts the engine
// request and frees its KV blocks; a stream still waiting in the queue finds out through its
// keep-alive comment. Real engine on the tiny stories260K model.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "gguf/gguf_file.h"
#include "serve/response_writer.h"

namespace tessera::serve {
namespace {

struct Fixture {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  ServeMetrics metrics{"tiny"};
  std::shared_ptr<EngineClient> client;

  explicit Fixture(int32_t max_num_seqs) {
    const std::string path = std::string(TESSERA_SHARED_DIR) + "/models/stories260K-f32.gguf";
    file = std::move(gguf::GgufFile::open(path)).value();
    tokenizer = std::move(Tokenizer::from_gguf(*file)).value();
    EngineConfig config;
    config.model_path = path;
    config.kv_cache_memory_bytes = 16 << 20;
    config.max_model_len = 512;
    config.max_num_seqs = max_num_seqs;
    client = std::make_shared<EngineClient>(std::move(Engine::create(config)).value(), metrics);
  }
  // Waits until no request is in flight and every KV block is free again.
  bool drained() {
    for (int i = 0; i < 500; ++i) {
      const EngineStats s = client->stats();
      if (client->num_in_flight() == 0 && s.num_free_kv_blocks == s.num_kv_blocks - 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

GenerationJob streaming_job(int32_t max_tokens) {
  GenerationJob job;
  job.model = "tiny";
  job.prompts = {{1, 400, 20, 31}};
  job.sampling.params.temperature = 0.0f;
  job.sampling.params.max_tokens = max_tokens;
  job.sampling.params.ignore_eos = true;
  job.sampling.stream = true;
  return job;
}

TEST(StreamResponse, AFailedWriteAbortsTheRequestAndFreesItsBlocks) {
  Fixture f(/*max_num_seqs=*/4);
  const GenerationJob job = streaming_job(200);
  GenerationSession session(f.client, *f.tokenizer, f.metrics, job);
  ASSERT_TRUE(session.start().ok());
  int num_writes = 0;
  const bool delivered = stream_response(session, job, {"cmpl-x", 0}, [&](std::string_view) { return ++num_writes < 3; });
  EXPECT_FALSE(delivered);
  EXPECT_EQ(num_writes, 3);
  EXPECT_TRUE(session.done());
  EXPECT_EQ(session.choices()[0].finish_reason(), "abort");
  EXPECT_LT(session.completion_tokens(), 200);
  EXPECT_TRUE(f.drained());
}

TEST(StreamResponse, AQueuedStreamLearnsOfItsGoneClientFromTheKeepAlive) {
  Fixture f(/*max_num_seqs=*/1);
  // A long request holds the only running slot, so the stream below waits in the queue.
  const GenerationJob hog = streaming_job(500);
  GenerationSession hog_session(f.client, *f.tokenizer, f.metrics, hog);
  ASSERT_TRUE(hog_session.start().ok());
  const GenerationJob job = streaming_job(8);
  GenerationSession session(f.client, *f.tokenizer, f.metrics, job);
  ASSERT_TRUE(session.start().ok());
  std::string written;
  StreamOptions options;
  options.poll_interval = std::chrono::milliseconds(2);
  options.heartbeat_interval = std::chrono::milliseconds(5);
  const bool delivered = stream_response(session, job, {"cmpl-y", 0}, [&](std::string_view bytes) {
    written.append(bytes);
    return false;  // the client is already gone
  }, options);
  EXPECT_FALSE(delivered);
  EXPECT_EQ(written, ": keep-alive\n\n") << "only the keep-alive comment was ever tried";
  EXPECT_EQ(session.completion_tokens(), 0);
  EXPECT_FALSE(hog_session.done()) << "found out while still queued";
  hog_session.cancel();
  EXPECT_TRUE(f.drained());
}

// An engine that cannot go on (a parallel model's rank died or hung: EngineClient::fail_all, the
// server's path to a 503): every running completion ends with "error" at once, the session says
// why, and a request submitted afterwards is refused with the same reason.
TEST(EngineFailure, FailAllEndsEveryRunningCompletionAndRefusesNewOnes) {
  Fixture f(/*max_num_seqs=*/4);
  GenerationJob job = streaming_job(500);
  job.sampling.params.n = 3;
  GenerationSession session(f.client, *f.tokenizer, f.metrics, job);
  ASSERT_TRUE(session.start().ok());
  while (session.completion_tokens() == 0) session.poll(std::chrono::milliseconds(100));
  ASSERT_FALSE(session.done());
  f.client->fail_all("rank 1 did not answer within 3 s");
  for (int i = 0; i < 100 && !session.done(); ++i) session.poll(std::chrono::milliseconds(10));
  ASSERT_TRUE(session.done());
  EXPECT_TRUE(session.engine_failed());
  EXPECT_EQ(session.failure(), "rank 1 did not answer within 3 s");
  for (const ChoiceState& choice : session.choices()) EXPECT_EQ(choice.finish_reason(), "error");
  EXPECT_LT(session.completion_tokens(), 3 * 500);
  EXPECT_EQ(f.client->num_in_flight(), 0);

  const GenerationJob late_job = streaming_job(4);  // the session keeps a reference
  GenerationSession late(f.client, *f.tokenizer, f.metrics, late_job);
  const Status refused = late.start();
  EXPECT_EQ(refused.code(), StatusCode::kInternal);
  EXPECT_NE(refused.message().find("rank 1 did not answer"), std::string::npos) << refused.message();
}

}  // namespace
}  // namespace tessera::serve
