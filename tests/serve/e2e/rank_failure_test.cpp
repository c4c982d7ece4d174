// A parallel server whose rank fails (docs/distributed.md, "Failure"): `mpirun -np 2 tessera serve
// --tp 2` (or --pp 2) with a 3 s limit on every wait. Rank 1 is stopped (SIGSTOP: hung) or killed (SIGKILL:
// dead) while one non-streaming and one streaming request run and another waits: every one of
// them is answered (503, or an error event and [DONE] once a stream has begun) naming the
// failure, and the job ends within a bounded time. Skipped without MPI.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "server_process.h"

namespace tessera::serve_test {
namespace {

#ifdef TESSERA_MPIEXEC

// The pid of the child of `launcher` that is MPI rank `rank` (its OMPI_COMM_WORLD_RANK), or -1.
pid_t find_rank(pid_t launcher, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  while (dirent* entry = proc != nullptr ? readdir(proc) : nullptr) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    fields >> state >> parent;
    if (parent != launcher) continue;
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string variable;
    while (std::getline(environ, variable, '\0')) {
      if (variable == wanted) found = pid;
    }
  }
  if (proc != nullptr) closedir(proc);
  return found;
}

struct StreamOutcome {
  int status = -1;
  std::vector<std::string> events;
};

// Streams a long completion; `on_first_event` runs when the first data event arrives.
StreamOutcome stream_until_failure(const ServerProcess& server, const std::function<void()>& on_first_event) {
  httplib::Client c = server.client();
  StreamOutcome out;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = R"({"prompt": "Once upon a time", "max_tokens": 480, "ignore_eos": true, "stream": true})";
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    buffer.append(data, length);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      out.events.push_back(event.substr(6));
      if (out.events.size() == 1) on_first_event();
    }
    return true;
  };
  if (auto r = c.send(req)) out.status = r->status;
  return out;
}

// Runs the scenario with `failure` (SIGSTOP or SIGKILL) sent to rank 1; returns the server's log.
void run_scenario(const char* mode, int failure, const std::string& expected_reason) {
  ServerProcess server({mode, "2", "--max-model-len", "512"},
                       {TESSERA_MPIEXEC, "-np", "2", "--oversubscribe", "--allow-run-as-root", "-x",
                        "TESSERA_DIST_TIMEOUT_S=3"});
  ASSERT_TRUE(server.ready()) << server.log();
  ASSERT_EQ(post_json(server, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 4})").status, 200);
  const pid_t rank1 = find_rank(server.pid(), 1);
  ASSERT_GT(rank1, 0) << "no child of mpirun with OMPI_COMM_WORLD_RANK=1";

  // A long non-streaming request first (8 x 480 tokens), so that it is running when the rank
  // fails (if the stream overtakes it, it waits in the queue: 503 all the same).
  JsonResponse running;
  std::thread non_streaming([&] {
    running = post_json(server, "/v1/completions",
                        R"({"prompt": "The cat", "max_tokens": 480, "n": 8, "ignore_eos": true})");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::atomic<bool> failed{false};
  std::chrono::steady_clock::time_point failed_at;
  StreamOutcome stream = stream_until_failure(server, [&] {
    kill(rank1, failure);  // mid-stream: both requests are in the engine now
    failed_at = std::chrono::steady_clock::now();
    failed = true;
  });
  // (The stream's call returns only once it has ended; a request sent after the failure waits
  // in the engine's queue or finds the server stopping: 503 either way.)
  const JsonResponse late = post_json(server, "/v1/completions", R"({"prompt": "Late", "max_tokens": 4})");
  non_streaming.join();
  const int exit_code = server.wait_for_exit(20.0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
  if (failure == SIGSTOP) kill(rank1, SIGKILL);  // in case MPI_Abort did not reach it
  ASSERT_TRUE(failed);

  SCOPED_TRACE(server.log());
  EXPECT_EQ(running.status, 503) << running.body.dump();
  const std::string message = running.body.value("error", Json::object()).value("message", "");
  EXPECT_NE(message.find(expected_reason), std::string::npos) << message;
  EXPECT_EQ(stream.status, 200);
  ASSERT_GE(stream.events.size(), 3u);
  EXPECT_EQ(stream.events.back(), "[DONE]");
  const Json error_event = Json::parse(stream.events[stream.events.size() - 2], nullptr, false);
  EXPECT_TRUE(error_event.contains("error")) << stream.events[stream.events.size() - 2];
  EXPECT_NE(error_event.dump().find(expected_reason), std::string::npos) << error_event.dump();
  for (size_t i = 0; i + 2 < stream.events.size(); ++i) {  // no choice claims it finished
    EXPECT_EQ(stream.events[i].find("\"finish_reason\":\"error\""), std::string::npos) << stream.events[i];
  }
  // The late request: refused (503) or never connected (-1: the listener had closed), never hung.
  EXPECT_TRUE(late.status == 503 || late.status == -1) << late.status;
  EXPECT_NE(exit_code, 0) << server.log();
  EXPECT_LT(seconds, 15.0) << "the job took too long to end";
  std::printf("[ rank failure ] %s, signal %d: job ended %.1f s after it; 503: %s\n", mode, failure, seconds, message.c_str());
}

TEST(RankFailure, HungRankAnswersEveryRequestAndEndsTheJob) { run_scenario("--tp", SIGSTOP, "rank 1 did not answer"); }

TEST(RankFailure, DeadRankAnswersEveryRequestAndEndsTheJob) {
  run_scenario("--tp", SIGKILL, "a process of the job ended");
}

// Under PP rank 0 waits for the last stage's rows of a step in flight (virtual engines).
TEST(RankFailure, HungPipelineStageAnswersEveryRequestAndEndsTheJob) {
  run_scenario("--pp", SIGSTOP, "rank 1 did not answer");
}

#else

TEST(RankFailure, NeedsMpi) { GTEST_SKIP() << "built without MPI (TESSERA_MPI off)"; }

#endif

}  // namespace
}  // namespace tessera::serve_test
