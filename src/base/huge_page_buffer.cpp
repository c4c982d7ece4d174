#include "base/huge_page_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/check.h"

namespace tessera {

HugePageBuffer::HugePageBuffer(size_t num_bytes) : size_bytes_(num_bytes) {
  if (num_bytes == 0) return;
  // One spare huge page to align the start; the kernel backs whole aligned 2 MiB ranges only.
  mapping_bytes_ = (num_bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes + kHugePageBytes;
  mapping_ = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  TS_CHECK(mapping_ != MAP_FAILED, "cannot map %zu bytes: %s", mapping_bytes_, std::strerror(errno));
  const uintptr_t start = (reinterpret_cast<uintptr_t>(mapping_) + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  data_ = reinterpret_cast<uint8_t*>(start);
#if defined(MADV_HUGEPAGE)
  ::madvise(data_, mapping_bytes_ - (start - reinterpret_cast<uintptr_t>(mapping_)), MADV_HUGEPAGE);  // advisory
#endif
}

HugePageBuffer::~HugePageBuffer() { release(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_bytes_(std::exchange(other.mapping_bytes_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
  }
  return *this;
}

void HugePageBuffer::release() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  data_ = nullptr;
  size_bytes_ = mapping_bytes_ = 0;
}

}  // namespace tessera
