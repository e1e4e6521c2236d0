#include "net/rtt_probe.hpp"

#include <algorithm>
#include <numeric>
#include <span>

#include "net/free_ports.hpp"
#include "net/handshake.hpp"
#include "net/wire_writer.hpp"
#include "vmm/base/stats.hpp"

namespace spanvm::net {

Result<std::vector<std::chrono::nanoseconds>> measure_rtt(Transport& client, NodeId server,
                                                          const RttProbeOptions& options) {
    if (options.request_size < 4) return make_error(EINVAL, "rtt probe: request size {} < 4", options.request_size);
    WireWriter w(options.request_size);
    w.u32(static_cast<std::uint32_t>(options.reply_size));
    w.blob(Bytes(options.request_size - 4, 0));
    Bytes payload = w.take();
    std::vector<std::chrono::nanoseconds> samples;
    samples.reserve(options.samples);
    for (std::size_t i = 0; i < options.warmup + options.samples; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto reply = client.request(server, PROBE_TYPE, payload, options.timeout).get();
        auto t1 = std::chrono::steady_clock::now();
        if (!reply) return reply.error();
        if (reply->payload.size() != options.reply_size)
            return make_error(EPROTO, "rtt probe: reply has {} bytes, expected {}", reply->payload.size(),
                              options.reply_size);
        if (i >= options.warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0));
    }
    return samples;
}

Result<std::vector<std::chrono::nanoseconds>> measure_loopback_rtt(const RttProbeOptions& options) {
    constexpr int attempts = 3;  // free ports can be taken between probing and binding
    Error last;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        try {
            ClusterConfig cfg = loopback_cluster(2, "rtt-probe");
            TransportOptions topt;
            topt.connect_timeout = std::chrono::milliseconds(3000);
            // The survivor of the two stops sees its peer close; that is expected here.
            auto quiet = [](NodeId, const std::string&) {};
            Transport a(cfg, 0, MessageTypes{}, nullptr, quiet, topt);
            Transport b(cfg, 1, MessageTypes{}, nullptr, quiet, topt);
            b.start();
            a.start();
            if (auto ok = a.wait_connected(std::chrono::milliseconds(3000)); !ok) return ok.error();
            return measure_rtt(a, 1, options);
        } catch (const std::exception& e) {
            last = Error{EADDRINUSE, std::string("rtt probe: ") + e.what()};
        }
    }
    return last;
}

RttStats summarize_rtt(std::vector<std::chrono::nanoseconds> samples) {
    RttStats s;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    const std::span<const std::chrono::nanoseconds> sorted(samples);
    auto at = [&](double q) { return stats::percentile_sorted(sorted, q); };  // nearest rank
    s.min = samples.front();
    s.max = samples.back();
    s.p50 = at(0.50);
    s.p90 = at(0.90);
    s.p99 = at(0.99);
    auto total = std::accumulate(samples.begin(), samples.end(), std::chrono::nanoseconds{0});
    s.mean = total / static_cast<long>(samples.size());
    return s;
}

}  // namespace spanvm::net
