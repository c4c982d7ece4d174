// Status and Expected<T>: ok and error paths, and the early-return macros built on them.
#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tessera {
namespace {

Expected<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("not positive: " + std::to_string(x));
  return x;
}

Expected<int> doubled(int x) {
  TS_ASSIGN_OR_RETURN(int value, parse_positive(x));
  return 2 * value;
}

Status check_both(int a, int b) {
  TS_RETURN_IF_ERROR(parse_positive(a).status());
  TS_RETURN_IF_ERROR(parse_positive(b).status());
  return Status::ok_status();
}

TEST(Status, DefaultIsOkWithEmptyMessage) {
  const Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_TRUE(status.message().empty());
  EXPECT_TRUE(Status::ok_status().ok());
}

TEST(Status, HelpersCarryCodeAndMessage) {
  EXPECT_EQ(invalid_argument("a").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(not_found("b").code(), StatusCode::kNotFound);
  EXPECT_EQ(io_error("c").code(), StatusCode::kIoError);
  EXPECT_EQ(corrupt_data("d").code(), StatusCode::kCorruptData);
  EXPECT_EQ(unsupported("e").code(), StatusCode::kUnsupported);
  const Status status = out_of_range("prompt of 5000 tokens exceeds context 4096");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(status.message(), "prompt of 5000 tokens exceeds context 4096");
}

TEST(Expected, HoldsAValue) {
  Expected<std::string> e = std::string("hello");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(static_cast<bool>(e));
  EXPECT_TRUE(e.status().ok());
  EXPECT_EQ(*e, "hello");
  EXPECT_EQ(e->size(), 5u);
  EXPECT_EQ(e.value(), "hello");
}

TEST(Expected, HoldsAnError) {
  Expected<int> e = not_found("no tensor named output.weight");
  EXPECT_FALSE(e.ok());
  EXPECT_FALSE(static_cast<bool>(e));
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(e.status().message(), "no tensor named output.weight");
}

TEST(Expected, MovesOutMoveOnlyValues) {
  Expected<std::unique_ptr<int>> e = std::make_unique<int>(42);
  ASSERT_TRUE(e.ok());
  std::unique_ptr<int> owned = std::move(e).value();
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 42);
}

TEST(Expected, AssignOrReturnPassesValuesThrough) {
  const Expected<int> e = doubled(21);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, 42);
}

TEST(Expected, AssignOrReturnPropagatesTheError) {
  const Expected<int> e = doubled(-3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "not positive: -3");
}

TEST(Status, ReturnIfErrorStopsAtTheFirstError) {
  EXPECT_TRUE(check_both(1, 2).ok());
  const Status status = check_both(1, -2);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "not positive: -2");
  EXPECT_EQ(check_both(-1, -2).message(), "not positive: -1");
}

}  // namespace
}  // namespace tessera
