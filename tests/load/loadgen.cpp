/// \file
/// \brief loadgen: the kit's load client.
///
///     loadgen --target 127.0.0.1:8080 --concurrency 16 --duration 4 [--keep-alive] [--json]
///
/// Exit code: 0 when every request got a complete 200 response, 1 when any failed, 2 for usage.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "forklab/cli.hpp"
#include "load_engine.hpp"

int main(int argc, char** argv) {
    forklab::load::LoadConfig config;
    long concurrency = 16;
    long duration_ms = 0;
    long timeout_ms = 5000;
    bool json = false;
    forklab::Cli cli("loadgen",
                     "Sends HTTP GETs from many connections and reports what came back.");
    cli.option("target", "the server, HOST:PORT", config.target);
    cli.option("concurrency", "connections at once (default 16)", concurrency, 1, 10000);
    cli.option("requests", "stop after N requests", config.requests, 1, 1000000000);
    cli.seconds("duration", "stop after SECONDS (default 4 when --requests is not given)",
                duration_ms, 3600);
    cli.option("path", "PATH", "what to GET (default /)", config.path);
    cli.flag("keep-alive", "reuse connections (default: one request per connection)",
             config.keep_alive);
    cli.seconds("timeout", "a request unanswered after SECONDS is an error (default 5)", timeout_ms,
                600);
    cli.flag("json", "print one JSON object instead of text", json);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    if (config.path.empty() || config.path[0] != '/') {
        std::cerr << "loadgen: --path must start with /\n\n" << cli.usage();
        return 2;
    }
    config.concurrency = static_cast<int>(concurrency);
    config.timeout_ms = timeout_ms;
    config.duration_ms = config.requests == 0 ? (duration_ms > 0 ? duration_ms : 4000) : 0;
    std::signal(SIGPIPE, SIG_IGN);

    forklab::load::LoadResult r = forklab::load::run_load(config);
    double p50 = r.percentile(0.50) / 1000.0;
    double p99 = r.percentile(0.99) / 1000.0;
    double max = r.percentile(1.0) / 1000.0;
    if (json) {
        std::printf(
            "{\"ok\":%ld,\"errors\":%ld,\"elapsed_s\":%.3f,\"rps\":%.1f,"
            "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"error_kinds\":{",
            r.ok, r.error_count(), r.elapsed_s, r.rate(), p50, p99, max);
        const char* sep = "";
        for (const auto& [kind, n] : r.errors) {
            std::printf("%s\"%s\":%ld", sep, kind.c_str(), n);
            sep = ",";
        }
        std::printf("}}\n");
    } else {
        std::printf("target %s, %d connections, %s, GET %s\n", config.target.to_string().c_str(),
                    config.concurrency, config.keep_alive ? "keep-alive" : "one request each",
                    config.path.c_str());
        std::printf("requests ok   %ld in %.2f s: %.0f requests/s\n", r.ok, r.elapsed_s, r.rate());
        std::printf("latency       p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", p50, p99, max);
        std::printf("errors        %ld", r.error_count());
        for (const auto& [kind, n] : r.errors) {
            std::printf(", %s %ld", kind.c_str(), n);
        }
        std::printf("\n");
    }
    return r.error_count() == 0 && r.ok > 0 ? 0 : 1;
}
