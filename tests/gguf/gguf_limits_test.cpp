// Size limits GgufFile::open checks before mapping: a file larger than physical memory or than
// the address-space limit is a clean kResourceExhausted naming the file, never an mmap failure
// or a machine paging weights from disk.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using testing::ScratchPath;

TEST(GgufLimits, FileLargerThanMemoryIsResourceExhausted) {
  const Status status = check_mappable_size("m.gguf", 17ull << 30, 16ull << 30, 0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(),
            "m.gguf: file of 18253611008 bytes (17.00 GiB) is larger than this machine's memory (16.00 GiB); "
            "it cannot be served from RAM");
}

TEST(GgufLimits, FileLargerThanAddressSpaceLimitIsResourceExhausted) {
  const Status status = check_mappable_size("m.gguf", 5000, 1ull << 30, 4096);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("address-space limit of 4096 bytes"), std::string::npos) << status.message();
}

TEST(GgufLimits, FilesWithinBothLimitsPass) {
  EXPECT_TRUE(check_mappable_size("m.gguf", 1ull << 30, 16ull << 30, 0).ok());
  EXPECT_TRUE(check_mappable_size("m.gguf", 4096, 4096, 4096).ok()) << "limits are inclusive";
  EXPECT_TRUE(check_mappable_size("m.gguf", 1ull << 40, 0, 0).ok()) << "0 = unknown, no check";
}

// A sparse file (no disk blocks) twice the size of physical memory: open() refuses it up front.
TEST(GgufLimits, OpenRefusesASparseFileLargerThanMemory) {
  const uint64_t memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  ScratchPath path("sparse_huge");
  std::ofstream(path.str(), std::ios::binary) << "GGUF";
  std::error_code error;
  std::filesystem::resize_file(path.str(), 2 * memory, error);
  if (error) GTEST_SKIP() << "cannot create a sparse file here: " << error.message();
  auto file = GgufFile::open(path.str());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(file.status().message().rfind(path.str() + ": file of ", 0), 0u) << file.status().message();
  EXPECT_NE(file.status().message().find("larger than this machine's memory"), std::string::npos);
}

}  // namespace
}  // namespace tessera::gguf
