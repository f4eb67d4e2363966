/// \file
/// \brief loadgen's two output formats.
#include "load_report.hpp"

#include <cstdio>

namespace forklab::load {

namespace {

std::string number(const char* format, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, value);
    return buf;
}

std::string ms(std::uint64_t us) {
    return number("%.3f", static_cast<double>(us) / 1000.0);
}

/// \p text as a JSON string literal (the kit's paths and addresses are printable ASCII).
std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += number("\\u%04x", static_cast<double>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

std::string text_report(const LoadConfig& config, const LoadResult& r) {
    std::string out = "loadgen: ";
    out += config.target.to_string();
    out += ", " + std::to_string(config.concurrency) + " connections, ";
    out += std::to_string(config.threads) + (config.threads == 1 ? " thread, " : " threads, ");
    out += config.keep_alive ? "keep-alive" : "one request per connection";
    out += ", GET " + config.path;
    out += r.stopped ? " (stopped early)\n" : "\n";
    out += "requests  " + std::to_string(r.requests) + " issued, " + std::to_string(r.ok);
    out += " ok in " + number("%.2f", r.elapsed_s) + " s: " + number("%.0f", r.rate());
    out += " requests/s\n";
    out += "latency   p50 " + ms(r.percentile(0.50)) + " ms, p99 " + ms(r.percentile(0.99));
    out += " ms, max " + ms(r.latency.max()) + " ms\n";
    out += "errors    " + std::to_string(r.error_count());
    for (const auto& [kind, n] : r.errors) {
        out += ", " + kind + " " + std::to_string(n);
    }
    out += "\n";
    return out;
}

std::string json_report(const LoadConfig& config, const LoadResult& r) {
    std::string kinds;
    for (const auto& [kind, n] : r.errors) {
        kinds += kinds.empty() ? "" : ",";
        kinds += json_string(kind) + ":" + std::to_string(n);
    }
    std::string out = "{\"target\":";
    out += json_string(config.target.to_string());
    out += ",\"concurrency\":" + std::to_string(config.concurrency);
    out += ",\"threads\":" + std::to_string(config.threads);
    out += ",\"keep_alive\":";
    out += config.keep_alive ? "true" : "false";
    out += ",\"path\":" + json_string(config.path);
    out += ",\"requests\":" + std::to_string(r.requests);
    out += ",\"ok\":" + std::to_string(r.ok);
    out += ",\"errors\":" + std::to_string(r.error_count());
    out += ",\"error_kinds\":{" + kinds + "}";
    out += ",\"elapsed_s\":" + number("%.3f", r.elapsed_s);
    out += ",\"rps\":" + number("%.1f", r.rate());
    out += ",\"p50_ms\":" + ms(r.percentile(0.50));
    out += ",\"p99_ms\":" + ms(r.percentile(0.99));
    out += ",\"max_ms\":" + ms(r.latency.max());
    out += ",\"stopped\":";
    out += r.stopped ? "true" : "false";
    out += "}\n";
    return out;
}

}  // namespace forklab::load
