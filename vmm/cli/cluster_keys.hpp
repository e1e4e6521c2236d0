#pragma once
// The cluster key on the command line: `spanvm keygen PATH`, and the
// --key-file / --key-fd / --encrypt options that `run`, `node` and
// `dsm-node` share (net/cluster_key.hpp, net/handshake.hpp).
#include <string>

#include "net/cluster_config.hpp"

namespace spanvm::cli {

struct KeyOptions {
    std::string key_file;  // --key-file PATH: overrides [cluster] key_file
    int key_fd = -1;       // --key-fd N: inherited from `run --local-hosts`
    bool encrypt = false;  // --encrypt: on even if the cluster file says nothing
};

// Applies `o` to `cfg` and checks that a key is there. False after one
// error line (the caller exits 2).
bool apply_key_options(net::ClusterConfig& cfg, const KeyOptions& o, const char* command);

// `spanvm keygen PATH`: writes a fresh key file, mode 0600. Exit status.
int keygen_command(const std::string& path);

}  // namespace spanvm::cli
