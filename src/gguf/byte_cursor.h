// ByteCursor: reads little-endian GGUF primitives from a byte range without ever reading past
// its end. Internal to the GGUF reader; knows nothing about the GGUF layout beyond strings.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace tessera::gguf {

// NOTE: values are copied straight from the file, which GGUF stores little-endian.
static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, uint64_t size_bytes) : data_(data), size_bytes_(size_bytes) {}

  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return size_bytes_ - offset_; }  // invariant: offset_ <= size_bytes_

  // Reads one fixed-size value; false (and nothing consumed) when fewer bytes remain.
  template <typename T>
  bool read(T* out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return fail("a " + std::to_string(sizeof(T)) + "-byte value");
    std::memcpy(out, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return true;
  }

  // Reads a GGUF string (u64 length, then bytes). The length is checked against the bytes
  // remaining before anything is allocated, so a corrupt length of 2^60 costs nothing.
  bool read_string(std::string* out) {
    uint64_t length = 0;
    if (!read(&length)) return false;
    if (length > remaining()) return fail("a string of " + std::to_string(length) + " bytes");
    out->assign(reinterpret_cast<const char*>(data_ + offset_), length);
    offset_ += length;
    return true;
  }

  // Why the last read failed, e.g. "a string of 1152921504606846976 bytes at offset 40, 12 bytes left".
  const std::string& shortfall() const { return shortfall_; }

 private:
  bool fail(const std::string& wanted) {
    shortfall_ = wanted + " at offset " + std::to_string(offset_) + ", " + std::to_string(remaining()) +
                 " bytes left";
    return false;
  }

  const uint8_t* data_;
  uint64_t size_bytes_;
  uint64_t offset_ = 0;   // next byte to read
  std::string shortfall_;  // set by the last failed read
};

}  // namespace tessera::gguf
