/// \file
/// \brief Sending and reassembling records.
#include "records.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace forklab::ch04 {

bool send_record(int fd, const Record& record) {
    for (;;) {
        ssize_t n = ::write(fd, &record, sizeof record);
        if (n == static_cast<ssize_t>(sizeof record)) {
            return true;
        }
        if (n == -1 && errno == EINTR) {
            continue;  // nothing was written: a pipe write of <= PIPE_BUF is all or nothing
        }
        return false;
    }
}

//! [reassemble]
std::vector<Record> RecordReader::feed(const char* data, std::size_t len) {
    buffer_.append(data, len);
    std::vector<Record> out;
    std::size_t whole = buffer_.size() / sizeof(Record);
    out.resize(whole);
    if (whole > 0) {
        std::memcpy(out.data(), buffer_.data(), whole * sizeof(Record));
        buffer_.erase(0, whole * sizeof(Record));
    }
    return out;
}
//! [reassemble]

bool well_formed(const Record& r) {
    auto kind = static_cast<int>(r.kind);
    return r.pid > 0 && kind >= 1 && kind <= 3 && r.pad[0] == 0 && r.pad[1] == 0 && r.pad[2] == 0;
}

}  // namespace forklab::ch04
