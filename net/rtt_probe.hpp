#pragma once
// Round-trip-time measurement between two transports, for the DSM benchmark.
// Uses PROBE_TYPE requests, which the remote Transport answers itself with a
// reply of the requested size: no cooperation from its on_message handler.
#include <chrono>
#include <cstdint>
#include <vector>

#include "net/transport.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

struct RttProbeOptions {
    std::size_t samples = 1000;
    std::size_t warmup = 50;              // unrecorded round trips first
    std::size_t request_size = 64;        // payload bytes (>= 4)
    std::size_t reply_size = 64;          // e.g. 4096 for a page-sized reply
    std::chrono::milliseconds timeout{1000};  // per round trip
};

struct RttStats {
    std::chrono::nanoseconds min{0}, p50{0}, p90{0}, p99{0}, max{0}, mean{0};
};

// Sequential round trips from `client` to `server` (a connected peer, or
// client.self() for the in-process path). Returns one sample per recorded
// round trip, in order. Must not be called on the client's I/O thread.
Result<std::vector<std::chrono::nanoseconds>> measure_rtt(Transport& client, NodeId server,
                                                          const RttProbeOptions& options = {});

// Starts two transports on 127.0.0.1 (free ports), measures node 0 -> node 1,
// stops them. Errors (bind, connect, timeout) are returned, not thrown.
Result<std::vector<std::chrono::nanoseconds>> measure_loopback_rtt(const RttProbeOptions& options = {});

// Order statistics of the samples (all zero for an empty vector).
RttStats summarize_rtt(std::vector<std::chrono::nanoseconds> samples);

}  // namespace spanvm::net
