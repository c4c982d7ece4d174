// Raw TCP clients for the attack tests: they send exactly the bytes a hostile client would
// (partial headers, conflicting lengths, endless chunks), which an HTTP library refuses to.
// Plus the server process's resident memory and thread count from /proc. Loopback only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tessera::serve_test {

class RawConnection {
 public:
  RawConnection() = default;
  ~RawConnection() { close(); }
  RawConnection(RawConnection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RawConnection& operator=(RawConnection&& other) noexcept;

  bool connect(int port);  // blocking connect to 127.0.0.1:port
  bool send(const std::string& bytes);  // false once the server has closed or reset
  // Reads until the server closes, `timeout_ms` passes, or (when `stop_after_response`) one whole
  // response (headers + Content-Length body, or a chunked body's last chunk) has arrived.
  std::string receive(int timeout_ms, bool stop_after_response = true);
  // True when the server closes the connection (EOF or reset) within `timeout_ms`.
  bool closed_by_server_within(int timeout_ms);
  void close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Status code of the first response in `bytes` (-1 if none).
int status_of(const std::string& bytes);
// Number of HTTP responses in `bytes` (status lines).
int count_responses(const std::string& bytes);

// From /proc/<pid>/status: VmRSS and VmHWM (peak) in KiB, and the thread count.
int64_t rss_kib(pid_t pid);
int64_t peak_rss_kib(pid_t pid);
int num_threads(pid_t pid);
// Raises this process's soft open-files limit towards `wanted`; returns the limit now in force.
int64_t raise_file_limit(int64_t wanted);

}  // namespace tessera::serve_test
