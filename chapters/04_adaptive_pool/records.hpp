/// \file
/// \brief The records workers send their master over one shared pipe.
#pragma once

#include <sys/types.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

namespace forklab::ch04 {

/// What a record says.
enum class RecordKind : std::uint8_t {
    idle = 1,     ///< Waiting for a connection (for the accept lock, or in accept).
    busy = 2,     ///< Serving one.
    exiting = 3,  ///< Leaving (max requests, or told to stop).
};

/// One fixed-size record. Many workers write to the same pipe: a write of at most PIPE_BUF bytes
/// is atomic, so records never interleave; the reader still reassembles them, because one read
/// may return half a record or several.
struct Record {
    std::int32_t pid = 0;                ///< The sender.
    RecordKind kind = RecordKind::idle;  ///< What it says.
    std::uint8_t pad[3] = {};            ///< Zero.
    std::uint64_t requests = 0;          ///< Connections the sender has served.
};
static_assert(sizeof(Record) == 16 && sizeof(Record) <= PIPE_BUF, "one atomic write");

/// Sends \p record with one write(2). Returns false if the pipe is gone (the master died).
bool send_record(int fd, const Record& record);

/// Reassembles records from reads of any size.
class RecordReader {
  public:
    /// Appends \p len bytes and returns the records now complete; a partial one stays buffered.
    std::vector<Record> feed(const char* data, std::size_t len);
    /// Bytes waiting for the rest of their record.
    [[nodiscard]] std::size_t pending() const { return buffer_.size(); }

  private:
    std::string buffer_;
};

/// True when \p record could have been sent by a worker (a known kind, zero padding).
bool well_formed(const Record& record);

}  // namespace forklab::ch04
