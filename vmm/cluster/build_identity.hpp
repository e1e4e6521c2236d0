#pragma once
// Build identity: the number every node of a multi-host run must share.
// The DSM engine puts it in its transport handshake
// (DsmEngineOptions::version_salt), so a node of another source, another
// cluster protocol or another --mem is refused with one line
// ("handshake rejected: ...": the cluster_failure `version` test).
//
// It comes from the source, not the clock: the source id is a SHA-256 over
// the sources (cmake/source_id.cmake: every vmm/, net/ and guest-shim/
// *.cpp *.hpp *.S *.c *.h, sorted by path, paths and contents), computed
// at build time into a generated header. Two builds of the same source, on
// any hosts, in any build directories, at any time, accept each other;
// tests/build_identity checks it with a second, separately configured
// build. Compiler and flags are not part of it: no wire format depends on
// them.
#include <cstdint>
#include <string_view>

namespace spanvm::cluster {

// Version of the cluster's own messages (cluster_messages.hpp,
// syscall_channel.hpp); the DSM's is in its handshake already
// (dsm_engine.cpp). Bump it when a wire format changes.
inline constexpr std::uint32_t kClusterProtocolVersion = 5;  // 2: a Resume may carry a ridden Layout; 3: a Trap's inout ranges and store rules; 4: heap windows (Resume) and node-grown breaks (Trap); 5: mapping windows (Resume) and node-made mappings (Trap)

// This build's source id: 64 lowercase hex digits.
std::string_view source_id();

// FNV-1a over the source id, the protocol version and the guest RAM size
// (pure).
std::uint32_t version_salt(std::string_view source_id, std::uint32_t protocol, std::uint64_t ram_size);

// This build's: version_salt(source_id(), kClusterProtocolVersion, ram_size).
std::uint32_t cluster_version_salt(std::uint64_t ram_size);

}  // namespace spanvm::cluster
