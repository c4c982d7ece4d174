// AlignedBuffer<T>: an owned, fixed-size, zero-filled array of trivial T on a 64-byte boundary
// (a cache line; also the widest SIMD load). For weights, activations and scratch sized once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "base/check.h"

namespace tessera {

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>,
                "AlignedBuffer holds raw numeric data; it never runs constructors");

 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  // NOTE: the allocation is rounded up to a whole number of 64-byte lines, so a vector loop may
  // read (not use) the tail of the last line without leaving the allocation.
  explicit AlignedBuffer(size_t num_elements) : size_(num_elements) {
    if (num_elements == 0) return;
    TS_CHECK(num_elements <= (SIZE_MAX - kAlignment) / sizeof(T), "AlignedBuffer of %zu elements overflows", num_elements);
    const size_t padded_bytes = (num_elements * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_ = static_cast<T*>(::operator new(padded_bytes, std::align_val_t{kAlignment}));
    std::memset(static_cast<void*>(data_), 0, padded_bytes);  // no stale garbage (or NaNs) on first use
  }
  ~AlignedBuffer() { release(); }

  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t size_bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(static_cast<void*>(data_), std::align_val_t{kAlignment});
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;  // [size_] T, 64-byte aligned; null when empty
  size_t size_ = 0;    // elements, not bytes
};

using AlignedBytes = AlignedBuffer<uint8_t>;
using AlignedFloats = AlignedBuffer<float>;

}  // namespace tessera
