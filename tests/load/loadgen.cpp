/// \file
/// \brief loadgen: the kit's load client.
///
///     loadgen --target 127.0.0.1:8080 [--concurrency 16] [--requests N | --duration SECONDS]
///             [--path /] [--keep-alive] [--timeout SECONDS] [--threads N] [--json]
///
/// Exit code: 0 when every request got a complete 200 response, 1 when any failed (or none was
/// made, or SIGINT/SIGTERM stopped the run early), 2 for a usage error (usage on stderr).
#include <sys/resource.h>

#include <csignal>
#include <exception>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "forklab/cli.hpp"
#include "load_engine.hpp"
#include "load_report.hpp"

namespace {

/// "" when \p path can go into a request line as is, else why not.
std::string check_path(const std::string& path) {
    if (path.empty() || path[0] != '/') {
        return "must start with /";
    }
    if (path.size() > 2048) {
        return "is longer than 2048 bytes";
    }
    for (char c : path) {
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
            return "must not hold spaces or control characters";
        }
    }
    return "";
}

/// One descriptor per connection: lift the soft limit to the hard one, so a high --concurrency
/// is limited by the system and not by a conservative default.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &limit);  // best effort: connect errors will tell
    }
}

}  // namespace

int main(int argc, char** argv) {
    forklab::load::LoadConfig config;
    bool have_target = false;
    long concurrency = 16;
    long duration_ms = -1;
    long timeout_ms = 5000;
    long threads = forklab::load::default_threads();
    bool json = false;
    forklab::Cli cli("loadgen",
                     "Sends HTTP GETs from many connections and reports what came back.");
    cli.option("target", "HOST:PORT", "the server (required; an IP literal)",
               [&](const std::string& text) {
                   auto at = forklab::parse_endpoint(text);
                   if (!at || at->port == 0) {
                       return std::string("expects an IP literal and a port, like 127.0.0.1:8080");
                   }
                   config.target = *at;
                   have_target = true;
                   return std::string();
               });
    cli.option("concurrency", "connections at once (default 16)", concurrency, 1, 10000);
    cli.option("requests", "stop after issuing N requests", config.requests, 1, 1000000000);
    cli.seconds("duration", "stop issuing after SECONDS (default 4 without --requests)",
                duration_ms, 3600);
    cli.option("path", "PATH", "what to GET (default /)", config.path);
    cli.flag("keep-alive", "reuse connections (default: one request per connection)",
             config.keep_alive);
    cli.seconds("timeout", "a request not finished after SECONDS is an error (default 5)",
                timeout_ms, 600);
    cli.option("threads", "event loops sharing the connections (default: one per core, at most 4)",
               threads, 1, 64);
    cli.flag("json", "print one JSON object instead of text", json);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    std::string usage_error;
    if (!have_target) {
        usage_error = "--target is required";
    } else if (std::string why = check_path(config.path); !why.empty()) {
        usage_error = "--path " + why;
    } else if (config.requests > 0 && duration_ms >= 0) {
        usage_error = "give --requests or --duration, not both";
    } else if (duration_ms == 0) {
        usage_error = "--duration must be more than 0";
    } else if (timeout_ms == 0) {
        usage_error = "--timeout must be more than 0";
    }
    if (!usage_error.empty()) {
        std::cerr << "loadgen: " << usage_error << "\n\n" << cli.usage();
        return 2;
    }
    config.concurrency = static_cast<int>(concurrency);
    config.threads = static_cast<int>(threads);
    config.timeout_ms = timeout_ms;
    config.duration_ms = config.requests == 0 ? (duration_ms > 0 ? duration_ms : 4000) : 0;

    try {
        forklab::ch01::ignore_sigpipe();
        raise_fd_limit();
        // Ctrl-C ends the run early but still prints what was measured.
        forklab::ch01::SignalEvents signals{SIGINT, SIGTERM};
        config.stop_fd = signals.fd();
        forklab::load::LoadResult r = forklab::load::run_load(config);
        std::cout << (json ? forklab::load::json_report(config, r)
                           : forklab::load::text_report(config, r))
                  << std::flush;
        return r.error_count() == 0 && r.ok > 0 && !r.stopped ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "loadgen: " << e.what() << "\n";
        return 1;
    }
}
