/// \file
/// \brief The fixed answers of the bench's reference rows.
#include "fixed_answer.hpp"

namespace forklab::load {

namespace {

/// A whole `200` response with \p body.
std::string answer(const std::string& type, const std::string& body, bool close) {
    return "HTTP/1.1 200 OK\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) +
           (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
}

/// Does the request ask for Stevens' 4000 bytes?
bool asks_4000(std::string_view in) {
    return in.substr(0, 16) == "GET /bytes/4000 ";
}

}  // namespace

FixedAnswers::FixedAnswers()
    : hello(answer("text/plain", "Hello, world\n", false)),
      hello_close(answer("text/plain", "Hello, world\n", true)),
      bytes(answer("application/octet-stream", std::string(4000, 'x'), false)),
      bytes_close(answer("application/octet-stream", std::string(4000, 'x'), true)) {}

const std::string& FixedAnswers::for_request(std::string_view in, bool& close) const {
    close = in.find("Connection: close") != std::string_view::npos;
    return close ? closing(in) : (asks_4000(in) ? bytes : hello);
}

const std::string& FixedAnswers::closing(std::string_view in) const {
    return asks_4000(in) ? bytes_close : hello_close;
}

}  // namespace forklab::load
