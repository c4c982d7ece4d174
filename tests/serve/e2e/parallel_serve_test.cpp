// `tessera serve` split over two MPI ranks (TP=2, PP=2) answers like one process: 16 concurrent
// greedy requests of different lengths give the same text. Under PP the engine keeps a step per
// stage in flight (virtual engines), so this is the server path through launch/collect.
// Skipped without MPI.
#include <gtest/gtest.h>

#include <thread>

#include "server_process.h"

namespace tessera::serve_test {
namespace {

#ifdef TESSERA_MPIEXEC

std::vector<std::string> run_requests(const ServerProcess& server) {
  constexpr int kRequests = 16;
  std::vector<std::string> texts(kRequests);
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      const Json body = {{"prompt", "Once upon a time, " + std::string(static_cast<size_t>(i % 5), 'a') + " said"},
                         {"max_tokens", 20 + 7 * i},
                         {"temperature", 0.0},
                         {"ignore_eos", true}};
      const JsonResponse r = post_json(server, "/v1/completions", body.dump());
      texts[static_cast<size_t>(i)] = r.status == 200 ? r.body["choices"][0]["text"].get<std::string>()
                                                      : "HTTP " + std::to_string(r.status) + " " + r.body.dump();
    });
  }
  for (std::thread& c : clients) c.join();
  return texts;
}

TEST(ParallelServe, TensorAndPipelineParallelServersAnswerLikeOneProcess) {
  const std::vector<std::string> model = {"-m", std::string(TESSERA_SHARED_DIR) + "/models/TinyStories-656K-f32.gguf"};
  std::vector<std::string> expected;
  {
    ServerProcess single(model);
    ASSERT_TRUE(single.ready()) << single.log();
    expected = run_requests(single);
  }
  for (const char* mode : {"--tp", "--pp"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> args = model;
    args.insert(args.end(), {mode, "2"});
    ServerProcess split(args, {TESSERA_MPIEXEC, "-np", "2", "--oversubscribe", "--allow-run-as-root"});
    ASSERT_TRUE(split.ready()) << split.log();
    const std::vector<std::string> got = run_requests(split);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "request " << i;
    // (mpirun's own exit code after a SIGTERM is 1 whatever its ranks do: check rank 0's words.)
    split.terminate_and_wait(20.0);
    EXPECT_NE(split.log().find("tessera serve: stopped"), std::string::npos) << split.log();
  }
}

#else

TEST(ParallelServe, NeedsMpi) { GTEST_SKIP() << "built without MPI (TESSERA_MPI off)"; }

#endif

}  // namespace
}  // namespace tessera::serve_test
