// HugePageBuffer: an owned, zero-filled, anonymous memory region for data streamed every step
// (model weights), on 2 MiB boundaries and advised to use transparent huge pages.
// NOTE: why not the mmapped file: the page cache of this kind of VM is reclaimed behind our
// back (a re-read from disk mid-benchmark costs 10x), and 4 KiB file pages cost a TLB miss
// every 4 KiB of a weight stream; private anonymous huge pages have neither problem.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera {

class HugePageBuffer {
 public:
  static constexpr size_t kHugePageBytes = size_t{2} << 20;

  HugePageBuffer() = default;
  explicit HugePageBuffer(size_t num_bytes);  // TS_CHECKs that the mapping succeeds
  ~HugePageBuffer();

  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }

 private:
  void release();

  uint8_t* data_ = nullptr;  // 2 MiB aligned, inside the mapping
  size_t size_bytes_ = 0;
  void* mapping_ = nullptr;  // what mmap returned (size mapping_bytes_)
  size_t mapping_bytes_ = 0;
};

}  // namespace tessera
