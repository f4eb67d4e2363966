/// \file
/// \brief Command-line parsing shared by every chapter: `--name VALUE`, `--name=VALUE`, flags.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "forklab/net.hpp"

namespace forklab {

/// A tiny declarative parser. Each option writes into a variable owned by the caller.
///
/// Bad input never exits from here: parse() returns the exit code the program should use
/// (0 after --help, printed on stdout; 2 after a usage error, printed on stderr with the usage).
class Cli {
  public:
    /// \p program names the binary in the usage; \p summary is one line about it.
    Cli(std::string program, std::string summary);

    /// A flag without value: `--name` sets \p target to true.
    void flag(const std::string& name, const std::string& help, bool& target);
    /// An option whose value \p parse checks and stores; parse returns an error text or "".
    void option(const std::string& name, const std::string& metavar, const std::string& help,
                std::function<std::string(const std::string&)> parse);
    /// An integer option within [min, max].
    void option(const std::string& name, const std::string& help, long& target, long min, long max);
    /// A duration in seconds (decimals allowed), stored in milliseconds, within
    /// [min_seconds, max_seconds].
    void seconds(const std::string& name, const std::string& help, long& target_ms,
                 double max_seconds, double min_seconds = 0);
    /// A string option that must not be empty.
    void option(const std::string& name, const std::string& metavar, const std::string& help,
                std::string& target);
    /// A HOST:PORT option.
    void option(const std::string& name, const std::string& help, Endpoint& target);

    /// Parses \p argv. Returns nothing when the program should go on, or the code it should exit
    /// with (0 after --help, 2 after an error; both messages already printed).
    std::optional<int> parse(int argc, const char* const* argv);

    /// The usage text.
    [[nodiscard]] std::string usage() const;

  private:
    /// \cond INTERNAL
    // (Hidden from the book: Doxygen 1.9 links its class page's summary to a section of nested
    // classes that it leaves out when the only nested class is private.)
    struct Spec {
        std::string name;
        std::string metavar;  // empty for a flag
        std::string help;
        std::function<std::string(const std::string&)> apply;
    };
    /// \endcond
    const Spec* find(const std::string& name) const;

    std::string program_;
    std::string summary_;
    std::vector<Spec> specs_;
};

/// What every server accepts (the contracts of \ref main_use "Using the kit").
struct ServerOptions {
    Endpoint listen;                   ///< --listen HOST:PORT
    std::string log_file;              ///< --log-file PATH ("" = stderr)
    bool drills = false;               ///< --drills: enable /crash and /hang
    long graceful_timeout_ms = 10000;  ///< --graceful-timeout SECONDS
    long read_timeout_ms = 5000;  ///< --read-timeout SECONDS: a request head must arrive by then
};

/// Declares --listen, --log-file, --drills, --graceful-timeout and --read-timeout on \p cli.
void add_server_options(Cli& cli, ServerOptions& options);

}  // namespace forklab
