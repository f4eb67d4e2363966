/// \file
/// \brief Where a later chapter plugs into chapter 05: a second look at which worker serves a
/// connection, once its first request is known.
///
/// Chapter 05 alone has no Router: the master picks the least-loaded worker, and that worker
/// serves the connection. Chapter 06 supplies one that routes by a key of the request and hands a
/// connection back to the master, with the bytes already read from it, when the key belongs to
/// another worker. The Router also owns the channel's message type for everything beyond
/// Command::connection.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "channel.hpp"
#include "forklab/fd.hpp"
#include "forklab/http.hpp"

namespace forklab::ch05 {

/// The worker a Router is running in.
struct ThisWorker {
    int channel = -1;         ///< Its end of its channel to the master.
    std::size_t index = 0;    ///< Its index among the workers; a replacement inherits it.
    std::size_t workers = 1;  ///< How many workers the pool keeps.
};

/// A connection taken from a worker's channel.
struct Arrival {
    Fd conn;                 ///< The connection.
    std::string_view read;   ///< Bytes another worker read from it, parsed before any more are
                             ///< read; valid until the next take.
    bool reroutable = true;  ///< Its first request goes to Router::owner.
};

/// What the master offers a Router for the connections it handles: passing one on, with a message
/// of the Router's own.
class Dispatcher {
  public:
    /// Passes \p conn with \p message to the worker at \p index, if it takes connections now and
    /// its channel has room. True when passed (\p conn is empty); false leaves it the caller's.
    virtual bool pass_to(std::size_t index, std::span<const char> message, Fd& conn) = 0;
    /// Passes \p conn with \p message to the least-loaded worker that can take it; when none can,
    /// answers 503 and closes it. True when passed.
    virtual bool dispatch(std::span<const char> message, Fd conn) = 0;

  protected:
    ~Dispatcher() = default;
};

/// A second look at which worker serves a connection. One object serves the master and, after the
/// fork, each worker (its own copy): the methods say in which process they run.
class Router {
  public:
    virtual ~Router() = default;

    /// In a worker: receives one message from \p me's channel (Command::connection from the
    /// master, or a message of the Router's own) into \p arrival. Returns what recv_fd returned,
    /// or RecvStatus::bad (the connection closed) for a message it does not accept.
    virtual RecvStatus take(const ThisWorker& me, Arrival& arrival) = 0;

    /// In a worker: the first request of a reroutable connection has been parsed. Returns the
    /// index of the worker that should serve it, when that is not \p me.
    virtual std::optional<std::size_t> owner(const ThisWorker& me,
                                             const http::Request& request) = 0;

    /// In a worker: gives \p conn back to the master for the worker at \p owner, with \p read,
    /// every byte read from it so far (they are no longer in the socket). True when sent (\p conn
    /// is empty); false leaves it to be served here. The caller has taken it out of its epoll set.
    virtual bool hand_back(const ThisWorker& me, std::size_t owner, std::string_view read,
                           Fd& conn) = 0;

    /// In the master: receives one message from a worker's \p channel and acts on it through
    /// \p master. Returns what recv_fd returned, or RecvStatus::bad for a message it dropped.
    virtual RecvStatus on_channel(int channel, Dispatcher& master) = 0;

    /// Its part of /status: a line of text, or a JSON member (`"name":{...}`) when \p json.
    [[nodiscard]] virtual std::string status(bool json) const = 0;
};

}  // namespace forklab::ch05
