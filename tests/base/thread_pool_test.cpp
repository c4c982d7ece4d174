// ThreadPool: coverage and partitioning of parallel_for and parallel_for_dynamic, wake-ups over many jobs, clean shutdown.
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace tessera {
namespace {

struct Chunk {
  int64_t begin;
  int64_t end;
  int thread_id;
};

TEST(ThreadPool, VisitsEveryItemExactlyOnce) {
  for (int num_threads : {1, 2, 3, 4, 7, 16}) {
    ThreadPool pool(num_threads);
    EXPECT_EQ(pool.num_threads(), num_threads);
    for (int64_t num_items : {0, 1, 2, 3, 5, 15, 16, 17, 100, 1001}) {
      std::vector<std::atomic<int>> visits(static_cast<size_t>(num_items));
      std::mutex chunks_mutex;
      std::vector<Chunk> chunks;
      pool.parallel_for(num_items, [&](int64_t begin, int64_t end, int thread_id) {
        for (int64_t i = begin; i < end; ++i) visits[size_t(i)].fetch_add(1);
        std::lock_guard lock(chunks_mutex);
        chunks.push_back({begin, end, thread_id});
      });
      for (int64_t i = 0; i < num_items; ++i) {
        EXPECT_EQ(visits[size_t(i)].load(), 1) << "item " << i << " of " << num_items << ", " << num_threads << " threads";
      }
      // One non-empty chunk per participating thread, sizes within one item of each other.
      EXPECT_EQ(chunks.size(), size_t(std::min<int64_t>(num_items, num_threads)));
      std::vector<int> chunks_per_thread(size_t(num_threads), 0);
      for (const Chunk& chunk : chunks) {
        EXPECT_LT(chunk.begin, chunk.end);
        ASSERT_GE(chunk.thread_id, 0);
        ASSERT_LT(chunk.thread_id, num_threads);
        ++chunks_per_thread[size_t(chunk.thread_id)];
        const int64_t fair = num_items / std::min<int64_t>(num_items, num_threads);
        EXPECT_GE(chunk.end - chunk.begin, fair);
        EXPECT_LE(chunk.end - chunk.begin, fair + 1);
      }
      for (int count : chunks_per_thread) EXPECT_LE(count, 1);
    }
  }
}

TEST(ThreadPool, DynamicVisitsEveryItemExactlyOnceInChunksOfAtLeastTheMinimum) {
  for (int num_threads : {1, 2, 3, 7}) {
    ThreadPool pool(num_threads);
    for (int64_t num_items : {0, 1, 2, 5, 16, 17, 100, 1001, 20000}) {
      for (int64_t min_chunk : {1, 3, 64}) {
        std::vector<std::atomic<int>> visits(static_cast<size_t>(num_items));
        std::mutex chunks_mutex;
        std::vector<Chunk> chunks;
        pool.parallel_for_dynamic(num_items, min_chunk, [&](int64_t begin, int64_t end, int thread_id) {
          for (int64_t i = begin; i < end; ++i) visits[size_t(i)].fetch_add(1);
          std::lock_guard lock(chunks_mutex);
          chunks.push_back({begin, end, thread_id});
        });
        const std::string what = std::to_string(num_items) + " items, " + std::to_string(num_threads) +
                                 " threads, min chunk " + std::to_string(min_chunk);
        for (int64_t i = 0; i < num_items; ++i) ASSERT_EQ(visits[size_t(i)].load(), 1) << "item " << i << ", " << what;
        for (const Chunk& chunk : chunks) {
          ASSERT_LT(chunk.begin, chunk.end) << what;
          ASSERT_GE(chunk.thread_id, 0);
          ASSERT_LT(chunk.thread_id, num_threads);
          // Only the chunk that ends the range may be shorter than the minimum.
          if (chunk.end < num_items) EXPECT_GE(chunk.end - chunk.begin, min_chunk) << what;
        }
        // Guided: far fewer chunks than items once there are many.
        if (num_items >= 1000 && num_threads > 1) EXPECT_LT(chunks.size(), size_t(num_items / 4)) << what;
      }
    }
  }
}

TEST(ThreadPool, DynamicLetsAFastThreadTakeTheWorkOfASlowOne) {
  ThreadPool pool(2);
  std::atomic<int64_t> items_on_worker{0};
  pool.parallel_for_dynamic(200, 1, [&](int64_t begin, int64_t end, int thread_id) {
    if (thread_id != 0) {
      items_on_worker += end - begin;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slowed-down core
    }
  });
  // The static split would give the worker 100 items; with one chunk per 20 ms it gets a few.
  EXPECT_LT(items_on_worker.load(), 100);
}

TEST(ThreadPool, ChunksAreContiguousAndOrderedByThreadId) {
  ThreadPool pool(4);
  std::vector<Chunk> chunks(4, Chunk{-1, -1, -1});
  pool.parallel_for(10, [&](int64_t begin, int64_t end, int thread_id) { chunks[size_t(thread_id)] = {begin, end, thread_id}; });
  EXPECT_EQ(chunks[0].begin, 0);
  for (size_t t = 1; t < 4; ++t) EXPECT_EQ(chunks[t].begin, chunks[t - 1].end);
  EXPECT_EQ(chunks[3].end, 10);
}

TEST(ThreadPool, CallerIsThreadZero) {
  ThreadPool pool(3);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> zero_on_caller{false};
  std::atomic<int> others_on_caller{0};
  pool.parallel_for(3, [&](int64_t, int64_t, int thread_id) {
    const bool on_caller = std::this_thread::get_id() == caller;
    if (thread_id == 0) zero_on_caller = on_caller;
    else if (on_caller) ++others_on_caller;
  });
  EXPECT_TRUE(zero_on_caller.load());
  EXPECT_EQ(others_on_caller.load(), 0);
}

TEST(ThreadPool, SingleThreadRunsInlineOnTheCaller) {
  ThreadPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  pool.parallel_for(50, [&](int64_t begin, int64_t end, int thread_id) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 50);
    EXPECT_EQ(thread_id, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, TenThousandConsecutiveSmallJobsComplete) {
  ThreadPool pool(4);
  int64_t expected = 0;
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 10000; ++job) {
    const int64_t num_items = 1 + job % 9;  // 1 (caller only) up to more items than threads
    pool.parallel_for(num_items, [&](int64_t begin, int64_t end, int) { total.fetch_add(end - begin); });
    expected += num_items;
    // Now and then let every worker exhaust its spin budget and sleep, so the condition-variable
    // path is exercised as well as the spinning one.
    if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    ASSERT_EQ(total.load(), expected) << "job " << job;
  }
}

TEST(ThreadPool, JobsSlowerThanTheSpinBudgetWakeTheSleepingCaller) {
  ThreadPool pool(3);
  std::atomic<int> done{0};
  for (int job = 0; job < 20; ++job) {
    pool.parallel_for(3, [&](int64_t, int64_t, int thread_id) {
      if (thread_id != 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
      done.fetch_add(1);
    });
    ASSERT_EQ(done.load(), 3 * (job + 1));
  }
}

TEST(ThreadPool, ResultsMatchSerial) {
  constexpr int64_t kNumItems = 100003;
  auto f = [](int64_t i) { return (i * 2654435761) % 1000003 - 500001; };
  std::vector<int64_t> serial(kNumItems);
  for (int64_t i = 0; i < kNumItems; ++i) serial[size_t(i)] = f(i);
  const int64_t serial_sum = std::accumulate(serial.begin(), serial.end(), int64_t{0});

  for (int num_threads : {1, 2, 5, 8}) {
    ThreadPool pool(num_threads);
    std::vector<int64_t> parallel(kNumItems, 0);
    std::vector<int64_t> partial_sums(size_t(num_threads), 0);  // one slot per thread id
    pool.parallel_for(kNumItems, [&](int64_t begin, int64_t end, int thread_id) {
      for (int64_t i = begin; i < end; ++i) {
        parallel[size_t(i)] = f(i);
        partial_sums[size_t(thread_id)] += f(i);
      }
    });
    EXPECT_EQ(parallel, serial) << num_threads << " threads";
    EXPECT_EQ(std::accumulate(partial_sums.begin(), partial_sums.end(), int64_t{0}), serial_sum);
  }
}

TEST(ThreadPool, AcceptsStdFunctionAndConstCallables) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  const std::function<void(int64_t, int64_t, int)> fn = [&](int64_t begin, int64_t end, int) {
    total.fetch_add(end - begin);
  };
  pool.parallel_for(10, fn);
  const auto lambda = [&](int64_t begin, int64_t end, int) { total.fetch_add(end - begin); };
  pool.parallel_for(10, lambda);
  EXPECT_EQ(total.load(), 20);
}

TEST(ThreadPool, DestructorJoinsIdleWorkers) {
  // Workers asleep on the condition variable.
  {
    ThreadPool pool(4);
    pool.parallel_for(8, [](int64_t, int64_t, int) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Workers still spinning, or not yet started at all.
  for (int i = 0; i < 100; ++i) {
    ThreadPool pool(3);
    if (i % 2 == 0) pool.parallel_for(3, [](int64_t, int64_t, int) {});
  }
  SUCCEED();
}

TEST(ThreadPoolDeathTest, ReentrantParallelForStops) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ThreadPool pool(2);
        pool.parallel_for(2, [&](int64_t, int64_t, int) { pool.parallel_for(2, [](int64_t, int64_t, int) {}); });
      },
      "not reentrant|another is running");
}

}  // namespace
}  // namespace tessera
