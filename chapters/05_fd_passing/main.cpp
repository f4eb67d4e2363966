/// \file
/// \brief Chapter 05: a master that accepts and passes connections to epoll workers.
#include "forklab/cli.hpp"
#include "setup.hpp"

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch05::MasterConfig config;
    forklab::Cli cli("ch05_fd_passing",
                     "Chapter 05: a master passes accepted connections to epoll workers.");
    forklab::add_server_options(cli, options);
    forklab::ch05::add_master_options(cli, config);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    return forklab::ch05::start_master("ch05_fd_passing", options, config);
}
