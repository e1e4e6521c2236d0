// fuzz-sources: vmm/cluster/cluster_messages.cpp vmm/cluster/session_messages.cpp vmm/cluster/layout_messages.cpp net/wire_reader.cpp net/wire_writer.cpp vmm/cluster/node_map_window.cpp
// The distributed process mode's codec (Spawn, Trap with its argument
// memory: strings, buffers, outputs and inout ranges with their store
// rules; Resume with its guest writes, Kick, Shutdown, Stats, and the
// placed execs' SessionStart, SessionReady, NodeLoad and ChannelOffer, Layout with its
// files and fillers, LayoutAck) must never crash on arbitrary bytes,
// and whatever it accepts must survive encode -> decode -> encode unchanged.
// Seeds: tests/fuzz/corpus/fuzz_cluster_messages (a Trap with a range of
// every kind and rule, a Resume with writes; the first byte picks the
// decoder), made from the encoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/cluster/session_messages.hpp"

using namespace spanvm::cluster;

namespace {

template <typename Decode>
void round_trip(spanvm::net::ByteView in, Decode decode) {
    auto m = decode(in);
    if (!m) {
        if (m.error().message.empty()) std::abort();
        return;
    }
    const auto once = encode(*m);
    auto again = decode(spanvm::net::ByteView(once.data(), once.size()));
    if (!again) std::abort();
    if (encode(*again) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const spanvm::net::ByteView in(data + 1, size - 1);
    switch (data[0] % 13) {
        case 0: round_trip(in, decode_spawn); break;
        case 1: round_trip(in, decode_trap); break;
        case 2: round_trip(in, decode_resume); break;
        case 3: round_trip(in, decode_kick); break;
        case 4: round_trip(in, decode_stats); break;
        case 5: round_trip(in, decode_abort); break;
        case 6: round_trip(in, decode_session_start); break;
        case 7: round_trip(in, decode_session_ready); break;
        case 8: round_trip(in, decode_node_load); break;
        case 9: round_trip(in, decode_layout); break;
        case 10: round_trip(in, decode_layout_ack); break;
        case 11: round_trip(in, decode_channel_offer); break;
        default: round_trip(in, decode_shutdown); break;
    }
    return 0;
}
