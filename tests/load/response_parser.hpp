/// \file
/// \brief An incremental parser of HTTP/1.1 responses, for the load client.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace forklab::load {

/// Reads one response at a time from bytes arriving in pieces of any size.
///
/// A response is complete only when its head and exactly Content-Length bytes of body have
/// arrived; a response without Content-Length, with a bad status line, or followed by bytes nobody
/// asked for is malformed. Nothing is ever counted as a success by guessing.
class ResponseParser {
  public:
    /// Where parsing stands.
    enum class State {
        incomplete,  ///< More bytes are needed.
        complete,    ///< status() and close() describe a whole response.
        malformed,   ///< Not a response the kit's servers could have sent.
    };

    /// Adds \p bytes. After complete, any further byte makes the state malformed (the client
    /// never pipelines, so nothing may follow a response before the next request).
    State feed(std::string_view bytes);
    /// Starts over for the next response on the same connection.
    void reset();
    /// The state after the last feed().
    [[nodiscard]] State state() const { return state_; }
    /// The status code (when complete).
    [[nodiscard]] int status() const { return status_; }
    /// True when the server said `Connection: close`.
    [[nodiscard]] bool close() const { return close_; }
    /// True when no byte of the current response has arrived.
    [[nodiscard]] bool empty() const { return head_.empty() && !in_body_; }

  private:
    State parse_head();

    std::string head_;
    bool in_body_ = false;
    std::size_t body_left_ = 0;
    int status_ = 0;
    bool close_ = false;
    State state_ = State::incomplete;
};

}  // namespace forklab::load
