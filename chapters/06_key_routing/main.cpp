/// \file
/// \brief Chapter 06: chapter 05's master and workers, with connections routed by a key to one
/// worker each.
#include <iostream>

#include "05_fd_passing/setup.hpp"
#include "forklab/cli.hpp"
#include "key_router.hpp"
#include "route_config.hpp"

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch05::MasterConfig config;
    forklab::ch06::RouteConfig route;
    forklab::Cli cli("ch06_key_routing",
                     "Chapter 06: chapter 05's server, routing every key to one worker.");
    forklab::add_server_options(cli, options);
    forklab::ch05::add_master_options(cli, config);
    cli.option("route", "KEY-SOURCE",
               "one worker per key: header:NAME (a request header) or path (its first segment)",
               [&](const std::string& v) {
                   auto parsed = forklab::ch06::parse_route(v);
                   if (!parsed) {
                       return std::string("expects header:NAME or path");
                   }
                   route = *parsed;
                   return std::string();
               });
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    try {
        forklab::ch06::KeyRouter router(route);  // shared counts: made before the first fork
        config.router = &router;
        return forklab::ch05::start_master("ch06_key_routing", options, config);
    } catch (const std::exception& e) {
        std::cerr << "ch06_key_routing: " << e.what() << "\n";
        return 1;
    }
}
