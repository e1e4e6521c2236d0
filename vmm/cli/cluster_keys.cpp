#include "vmm/cli/cluster_keys.hpp"

#include <cstdio>
#include <exception>

#include "vmm/base/log.hpp"

namespace spanvm::cli {

bool apply_key_options(net::ClusterConfig& cfg, const KeyOptions& o, const char* command) {
    try {
        if (o.key_fd >= 0)
            cfg.key = net::read_key_fd(o.key_fd);
        else if (!o.key_file.empty())
            cfg.key = net::load_key_file(o.key_file);
    } catch (const std::exception& e) {
        log::error("{}: {}", command, e.what());
        return false;
    }
    if (o.encrypt) cfg.encrypt = true;
    if (!cfg.key) {
        log::error("{}: no cluster key: set key_file in the cluster file's [cluster] or give --key-file "
                   "(make one with 'spanvm keygen PATH')",
                   command);
        return false;
    }
    return true;
}

int keygen_command(const std::string& path) {
    try {
        net::write_key_file(path, net::generate_cluster_key());
    } catch (const std::exception& e) {
        log::error("keygen: {}", e.what());
        return 2;
    }
    return 0;
}

}  // namespace spanvm::cli
