// spanvm command line entry point.
#include <CLI/CLI.hpp>

#include "vmm/base/log.hpp"

int main(int argc, char** argv) {
    CLI::App app{"spanvm: run one program across several hosts"};
    app.require_subcommand(1);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
