#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "gguf/gguf_format.h"
#include "gguf/gguf_parser.h"

namespace tessera::gguf {

int64_t TensorInfo::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;  // no overflow: the reader checked the product
  return count;
}

namespace {

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_bytes = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_bytes > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_bytes) : 0;
}

uint64_t address_space_limit_bytes() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<uint64_t>(limit.rlim_cur);
}

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

}  // namespace

Status check_mappable_size(const std::string& path, uint64_t file_bytes, uint64_t memory_bytes,
                           uint64_t address_space_bytes) {
  if (memory_bytes > 0 && file_bytes > memory_bytes) {
    return {StatusCode::kResourceExhausted, path + ": file of " + std::to_string(file_bytes) + " bytes (" +
                                                gib(file_bytes) + ") is larger than this machine's memory (" +
                                                gib(memory_bytes) + "); it cannot be served from RAM"};
  }
  if (address_space_bytes > 0 && file_bytes > address_space_bytes) {
    return {StatusCode::kResourceExhausted, path + ": file of " + std::to_string(file_bytes) +
                                                " bytes is larger than this process's address-space limit of " +
                                                std::to_string(address_space_bytes) + " bytes (ulimit -v)"};
  }
  if (file_bytes > std::numeric_limits<size_t>::max()) {
    return {StatusCode::kResourceExhausted, path + ": file of " + std::to_string(file_bytes) + " bytes cannot be mapped"};
  }
  return Status::ok_status();
}

Expected<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return not_found(path + ": no such file");
    return io_error(path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(path + ": not a regular file");
  }
  if (Status fits = check_mappable_size(path, static_cast<uint64_t>(st.st_size), physical_memory_bytes(),
                                        address_space_limit_bytes());
      !fits.ok()) {
    ::close(fd);
    return fits;
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_bytes_ = static_cast<uint64_t>(st.st_size);
  // mmap rejects a zero-length mapping; an empty file is reported by parse() instead.
  if (file->size_bytes_ > 0) {
    void* addr = ::mmap(nullptr, file->size_bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return io_error(path + ": mmap failed: " + std::strerror(err));
    }
    file->bytes_ = static_cast<const uint8_t*>(addr);
    file->mapped_ = true;
  }
  ::close(fd);  // the mapping keeps the file's pages reachable on its own
  TS_RETURN_IF_ERROR(file->parse());
  return file;
}

Expected<std::unique_ptr<GgufFile>> GgufFile::from_bytes(std::string_view bytes, std::string name) {
  // NOTE: the copy starts on a page boundary inside owned_bytes_ so that tensor_data() is
  // aligned exactly as it would be in an mmapped file (the buffer never reallocates after this).
  constexpr uintptr_t kPageBytes = 4096;
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->owned_bytes_.resize(bytes.size() + kPageBytes);
  const uintptr_t base = reinterpret_cast<uintptr_t>(file->owned_bytes_.data());
  const uintptr_t skip = (kPageBytes - base % kPageBytes) % kPageBytes;
  char* start = file->owned_bytes_.data() + skip;
  if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
  file->bytes_ = reinterpret_cast<const uint8_t*>(start);
  file->size_bytes_ = bytes.size();
  TS_RETURN_IF_ERROR(file->parse());
  return file;
}

GgufFile::~GgufFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(bytes_), size_bytes_);
}

Status GgufFile::parse() {
  GgufParser parser(path_, bytes_, size_bytes_);
  uint64_t num_tensors = 0;
  uint64_t num_metadata = 0;
  TS_RETURN_IF_ERROR(parser.read_header(&version_, &num_tensors, &num_metadata));
  TS_RETURN_IF_ERROR(parser.read_metadata(num_metadata, &metadata_));
  TS_ASSIGN_OR_RETURN(alignment_, parser.alignment_from(metadata_));
  TS_RETURN_IF_ERROR(parser.read_tensor_infos(num_tensors, alignment_, &tensors_));
  // The data section starts at the first aligned offset after the header; a file without
  // tensors may end before it (real vocab-only files carry no trailing padding).
  data_offset_ = (parser.offset() + alignment_ - 1) / alignment_ * alignment_;
  for (TensorInfo& info : tensors_) TS_RETURN_IF_ERROR(parser.place_tensor(data_offset_, &info));
  return Status::ok_status();
}

const MetadataValue* GgufFile::find(std::string_view key) const {
  // Linear: real files hold a few dozen keys and callers look each up once at load time.
  for (const MetadataEntry& entry : metadata_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const MetadataValue* value = find(key);
  if (value == nullptr || value_kind(value->type) != ValueKind::kInteger) return std::nullopt;
  return std::get<int64_t>(value->data);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const MetadataValue* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (value_kind(value->type) == ValueKind::kFloat) return std::get<double>(value->data);
  if (value_kind(value->type) != ValueKind::kInteger || value->type == ValueType::kBool) return std::nullopt;
  const int64_t widened = std::get<int64_t>(value->data);
  // uint64 values above INT64_MAX are stored with their bit pattern; convert them unsigned.
  if (value->type == ValueType::kUint64) return static_cast<double>(static_cast<uint64_t>(widened));
  return static_cast<double>(widened);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const MetadataValue* value = find(key);
  if (value == nullptr || value->type != ValueType::kBool) return std::nullopt;
  return std::get<int64_t>(value->data) != 0;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const MetadataValue* value = find(key);
  if (value == nullptr || value->type != ValueType::kString) return std::nullopt;
  return std::get<std::string>(value->data);
}

const ArrayValue* GgufFile::get_array(std::string_view key) const {
  const MetadataValue* value = find(key);
  if (value == nullptr || value->type != ValueType::kArray) return nullptr;
  return &std::get<ArrayValue>(value->data);
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& info : tensors_) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const uint8_t* GgufFile::tensor_data(const TensorInfo& info) const {
  // parse() proved data_offset_ + offset + num_bytes <= size_bytes_ for every tensor.
  return bytes_ + data_offset_ + info.offset;
}

}  // namespace tessera::gguf
