// fuzz-sources: vmm/cluster/cluster_messages.cpp net/wire_reader.cpp net/wire_writer.cpp
// The first byte picks a decoder of vmm/cluster/cluster_messages, the rest is
// its payload. No decoder may crash; an accepted error has a message; and the
// messages with exactly one encoding (Spawn, Kick, Shutdown, Stats) re-encode
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "vmm/cluster/cluster_messages.hpp"

namespace {

template <typename R>
void same_bytes(const R& m, spanvm::net::ByteView in) {
    auto again = spanvm::cluster::encode(*m);
    if (again.size() != in.size()) std::abort();
    for (std::size_t i = 0; i < in.size(); ++i)
        if (again[i] != in[i]) std::abort();
}

template <typename R>
bool accepted(const R& r) {
    if (!r && r.error().message.empty()) std::abort();
    return static_cast<bool>(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace spanvm::cluster;
    if (size == 0) return 0;
    spanvm::net::ByteView in(data + 1, size - 1);
    switch (data[0] % 6) {
        case 0:
            if (auto m = decode_spawn(in); accepted(m)) same_bytes(m, in);
            break;
        case 1: (void)accepted(decode_trap(in)); break;
        case 2: (void)accepted(decode_resume(in)); break;
        case 3:
            if (auto m = decode_kick(in); accepted(m)) same_bytes(m, in);
            break;
        case 4:
            if (auto m = decode_shutdown(in); accepted(m)) same_bytes(m, in);
            break;
        case 5:
            if (auto m = decode_stats(in); accepted(m)) same_bytes(m, in);
            break;
    }
    return 0;
}
