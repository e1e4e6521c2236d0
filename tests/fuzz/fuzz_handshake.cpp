// fuzz-sources: net/handshake.cpp net/crypto.cpp net/wire_reader.cpp net/wire_writer.cpp vmm/cluster/channel_hello.cpp
// fuzz-libs: -lcrypto
// The authenticated handshake (net/handshake.hpp) and the syscall channel's
// hello (vmm/cluster/channel_hello.hpp) read bytes from anyone who can reach
// a port. On arbitrary bytes they must never crash; what decodes must
// re-encode to the same bytes; and neither end may ever accept a message it
// did not get from a holder of the key: a challenge or proof made of fuzzer
// bytes is refused, whatever it says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "net/handshake.hpp"
#include "vmm/cluster/channel_hello.hpp"

using namespace spanvm::net;

namespace {

const ClusterKey& key() {
    static const ClusterKey k = [] {
        ClusterKey x;
        for (std::size_t i = 0; i < x.bytes.size(); ++i) x.bytes[i] = static_cast<std::uint8_t>(i * 37 + 1);
        return x;
    }();
    return k;
}

HandshakeSetup setup() { return HandshakeSetup{"fuzz", 1, false, key()}; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const ByteView in(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0: {  // decode / re-encode
            auto h = decode_handshake(in);
            if (!h) {
                if (h.error().message.empty()) std::abort();
                return 0;
            }
            if (encode_handshake(*h) != Bytes(in.begin(), in.end())) std::abort();
            break;
        }
        case 1: {  // the dialer must refuse a challenge of fuzzer bytes
            DialHandshake d(setup(), 0, 1);
            auto a = d.on_challenge(in);
            if (a.refused.empty()) std::abort();
            break;
        }
        case 2: {  // the acceptor must refuse a proof of fuzzer bytes
            Handshake hello{HandshakeKind::hello, "fuzz", 0, 1, 1, false, fresh_nonce(), {}};
            AcceptHandshake a(setup(), 1, hello);
            if (a.on_proof(in).empty()) std::abort();
            break;
        }
        default: {  // channel hello: decode, re-encode, never valid for a fresh challenge
            auto h = spanvm::cluster::decode_channel_hello(in);
            if (!h) return 0;
            if (spanvm::cluster::encode_channel_hello(*h) != Bytes(in.begin(), in.end())) std::abort();
            if (spanvm::cluster::channel_hello_valid(key(), fresh_nonce(), *h)) std::abort();
            break;
        }
    }
    return 0;
}
