/// \file
/// \brief The command-line parser.
#include "forklab/cli.hpp"

#include <charconv>
#include <cmath>
#include <iostream>
#include <sstream>

namespace forklab {

Cli::Cli(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Cli::flag(const std::string& name, const std::string& help, bool& target) {
    specs_.push_back({name, "", help, [&target](const std::string&) {
                          target = true;
                          return std::string();
                      }});
}

void Cli::option(const std::string& name, const std::string& metavar, const std::string& help,
                 std::function<std::string(const std::string&)> parse) {
    specs_.push_back({name, metavar, help, std::move(parse)});
}

void Cli::option(const std::string& name, const std::string& help, long& target, long min,
                 long max) {
    option(name, "N", help, [&target, min, max](const std::string& text) {
        long value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
            return "expects a whole number from " + std::to_string(min) + " to " +
                   std::to_string(max);
        }
        target = value;
        return std::string();
    });
}

void Cli::seconds(const std::string& name, const std::string& help, long& target_ms,
                  double max_seconds, double min_seconds) {
    option(name, "SECONDS", help, [&target_ms, max_seconds, min_seconds](const std::string& text) {
        std::istringstream in(text);
        double value = -1;
        in >> value;
        if (!in || !in.eof() || !std::isfinite(value) || value < min_seconds ||
            value > max_seconds) {
            std::ostringstream msg;
            msg << "expects seconds from " << min_seconds << " to " << max_seconds;
            return msg.str();
        }
        target_ms = std::lround(value * 1000);
        return std::string();
    });
}

void Cli::option(const std::string& name, const std::string& metavar, const std::string& help,
                 std::string& target) {
    option(name, metavar, help, [&target](const std::string& text) {
        if (text.empty()) {
            return std::string("expects a value");
        }
        target = text;
        return std::string();
    });
}

void Cli::option(const std::string& name, const std::string& help, Endpoint& target) {
    option(name, "HOST:PORT", help, [&target](const std::string& text) {
        auto at = parse_endpoint(text);
        if (!at) {
            return std::string("expects an IP literal and a port, like 127.0.0.1:8080 or [::1]:0");
        }
        target = *at;
        return std::string();
    });
}

const Cli::Spec* Cli::find(const std::string& name) const {
    for (const Spec& spec : specs_) {
        if (spec.name == name) {
            return &spec;
        }
    }
    return nullptr;
}

std::optional<int> Cli::parse(int argc, const char* const* argv) {
    auto fail = [this](const std::string& message) {
        std::cerr << program_ << ": " << message << "\n\n" << usage();
        return 2;
    };
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << usage();
            return 0;
        }
        if (arg.rfind("--", 0) != 0) {
            return fail("unexpected argument '" + arg + "'");
        }
        std::string name = arg.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        const Spec* spec = find(name);
        if (spec == nullptr) {
            return fail("unknown option --" + name);
        }
        if (spec->metavar.empty()) {
            if (value) {
                return fail("--" + name + " takes no value");
            }
            spec->apply("");
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                return fail("--" + name + " needs a value (" + spec->metavar + ")");
            }
            value = argv[++i];
        }
        if (std::string error = spec->apply(*value); !error.empty()) {
            return fail("--" + name + " '" + *value + "': " + error);
        }
    }
    return std::nullopt;
}

std::string Cli::usage() const {
    std::ostringstream out;
    out << "usage: " << program_ << " [options]\n" << summary_ << "\n\noptions:\n";
    for (const Spec& spec : specs_) {
        std::string left = "--" + spec.name + (spec.metavar.empty() ? "" : " " + spec.metavar);
        out << "  " << left;
        out << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << spec.help << "\n";
    }
    out << "  --help                      show this text\n";
    return out.str();
}

void add_server_options(Cli& cli, ServerOptions& options) {
    cli.option("listen", "address to listen on (default 127.0.0.1:8080; port 0 = any free port)",
               options.listen);
    cli.option("log-file", "PATH", "append the log to PATH instead of stderr (SIGUSR1 reopens it)",
               options.log_file);
    cli.flag("drills", "enable the fault drills /crash and /hang", options.drills);
    cli.seconds("graceful-timeout", "how long a graceful stop waits before killing (default 10)",
                options.graceful_timeout_ms, 3600);
    cli.seconds("read-timeout", "a request head must arrive within this (default 5)",
                options.read_timeout_ms, 3600);
}

}  // namespace forklab
