#pragma once
// Subcommand entry points of the spanvm CLI.
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace spanvm::cli {

struct RunOptions {
    unsigned vcpus = 0;
    std::string mem = "2G";
    bool stats = false;
    std::vector<std::string> command;
};
int run_command(const RunOptions& o);

struct BenchExitOptions {
    unsigned iterations = 20000;
};
int bench_exit_command(const BenchExitOptions& o);

// dsm-node and friends (issue: distributed shared memory).
void register_dsm_commands(CLI::App& app);
int dispatch_dsm_commands(CLI::App& app);

}  // namespace spanvm::cli
