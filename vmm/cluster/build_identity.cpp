#include "vmm/cluster/build_identity.hpp"

// Generated into the build directory (cmake/source_id.cmake).
#include "spanvm_source_id.hpp"

namespace spanvm::cluster {

std::string_view source_id() { return SPANVM_SOURCE_ID; }

std::uint32_t version_salt(std::string_view id, std::uint32_t protocol, std::uint64_t ram_size) {
    std::uint32_t h = 2166136261u;
    auto mix = [&](const void* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<const std::uint8_t*>(p)[i]) * 16777619u;
    };
    mix(id.data(), id.size());
    mix(&protocol, sizeof protocol);
    mix(&ram_size, sizeof ram_size);
    return h;
}

std::uint32_t cluster_version_salt(std::uint64_t ram_size) {
    return version_salt(source_id(), kClusterProtocolVersion, ram_size);
}

}  // namespace spanvm::cluster
