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
/// arrived. It is malformed when its status line is not `HTTP/1.x NNN`, a header line has no
/// colon or is folded, Content-Length is missing, not a number, above max_body or given twice
/// with different values, Transfer-Encoding is present (the kit's servers never chunk), the head
/// passes max_head bytes, or any byte follows the body (the client never pipelines, so nothing may
/// arrive before its next request). Nothing is counted as a success by guessing.
///
/// The body is counted, not stored: memory stays at the size of one head whatever the body size.
class ResponseParser {
  public:
    /// Where parsing stands.
    enum class State {
        incomplete,  ///< More bytes are needed.
        complete,    ///< status() and close() describe a whole response.
        malformed,   ///< Not a response the kit's servers could have sent. Final until reset().
    };

    /// The longest head accepted, in bytes.
    static constexpr std::size_t max_head = 16 * 1024;
    /// The largest Content-Length accepted (the kit serves at most 16 MiB).
    static constexpr std::size_t max_body = std::size_t{1} << 30;

    /// Adds \p bytes (any number, including none) and returns the new state. After complete, any
    /// further byte makes the state malformed.
    State feed(std::string_view bytes);
    /// Starts over for the next response on the same connection.
    void reset();
    /// The state after the last feed().
    [[nodiscard]] State state() const { return state_; }
    /// The status code; valid once the head has arrived (always when complete).
    [[nodiscard]] int status() const { return status_; }
    /// True when the server will close after this response: `Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`. Valid when complete.
    [[nodiscard]] bool close() const { return close_; }
    /// True when no byte of the current response has arrived.
    [[nodiscard]] bool empty() const { return head_.empty() && !in_body_; }

  private:
    State parse_head(std::string_view head);
    State take_body(std::size_t bytes);

    std::string head_;
    bool in_body_ = false;
    std::size_t body_left_ = 0;
    int status_ = 0;
    bool close_ = false;
    State state_ = State::incomplete;
};

}  // namespace forklab::load
