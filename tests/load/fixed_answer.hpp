/// \file
/// \brief The fixed answers of the bench's reference rows (the ceiling and the fork floor).
#pragma once

#include <string>
#include <string_view>

namespace forklab::load {

/// The fixed answers, built once per process: a `200` with `Hello, world\n`, or with 4000 bytes
/// for Stevens' workload, each with and without `Connection: close`.
struct FixedAnswers {
    std::string hello;        ///< `GET /`, connection kept.
    std::string hello_close;  ///< `GET /` with `Connection: close`.
    std::string bytes;        ///< `GET /bytes/4000`, connection kept.
    std::string bytes_close;  ///< `GET /bytes/4000` with `Connection: close`.

    /// Builds the four responses.
    FixedAnswers();

    /// The answer to a read that holds a request: 4000 bytes when it starts with
    /// `GET /bytes/4000 `, else `Hello, world`; with a close when it holds `Connection: close`
    /// (\p close says which). Parses nothing else.
    [[nodiscard]] const std::string& for_request(std::string_view in, bool& close) const;

    /// The same answer, always with `Connection: close`: for a server that closes after each.
    [[nodiscard]] const std::string& closing(std::string_view in) const;
};

}  // namespace forklab::load
