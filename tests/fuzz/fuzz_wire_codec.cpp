// fuzz-sources: net/wire_frame.cpp net/frame_decoder.cpp net/wire_reader.cpp net/wire_writer.cpp net/handshake.cpp net/crypto.cpp
// fuzz-libs: -lcrypto
// Feeds fuzzer bytes to FrameDecoder in fuzzer-chosen chunk sizes and checks
// it against decode_frame on the same stream; decodes every payload with
// WireReader driven by a fuzzer-chosen field script; round-trips handshakes.
// Any crash, sanitizer report or failed invariant (abort) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "net/frame_decoder.hpp"
#include "net/handshake.hpp"
#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

using namespace spanvm::net;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

// Reads fields from `payload` in an order chosen by `script`; checks the
// reader never reads past the end and that failures consume nothing.
void exercise_reader(ByteView payload, ByteView script) {
    WireReader r(payload);
    for (std::uint8_t op : script) {
        std::size_t before = r.position();
        bool ok = false;
        switch (op % 8) {
            case 0: ok = r.u8().has_value(); break;
            case 1: ok = r.u16().has_value(); break;
            case 2: ok = r.u32().has_value(); break;
            case 3: ok = r.u64().has_value(); break;
            case 4: ok = r.bytes().has_value(); break;
            case 5: ok = r.string().has_value(); break;
            case 6: ok = r.blob(op >> 3).has_value(); break;
            case 7: {
                Bytes out(op >> 3);
                ok = r.blob_into(out).has_value();
                break;
            }
        }
        require(r.position() <= payload.size());
        if (!ok) require(r.position() == before);
    }
    require(r.expect_end().has_value() == (r.remaining() == 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // First byte: chunk-size seed; second: max payload selector (small limits
    // make the oversized path reachable).
    std::size_t chunk_seed = data[0];
    std::uint32_t max_payload = data[1] & 1 ? MAX_PAYLOAD_SIZE : (data[1] >> 1) * 64u;
    ByteView stream(data + 2, size - 2);

    FrameDecoder d(max_payload);
    std::size_t at = 0, consumed = 0, step = 0;
    bool failed = false;
    while (at < stream.size() && !failed) {
        std::size_t chunk = 1 + (chunk_seed * 31 + step++ * 17) % 97;
        if (chunk > stream.size() - at) chunk = stream.size() - at;
        d.feed(stream.subspan(at, chunk));
        at += chunk;
        for (;;) {
            auto n = d.next();
            if (!n) {
                failed = true;
                // The reference decoder must also reject the header here.
                require(!decode_header(stream.subspan(consumed), max_payload).has_value());
                break;
            }
            if (!*n) break;
            const Frame& f = **n;
            std::size_t len = FRAME_HEADER_SIZE + f.payload.size();
            // The same bytes decoded in one piece give the same frame.
            auto ref = decode_frame(stream.subspan(consumed, len), max_payload);
            require(ref.has_value());
            require(ref->payload == f.payload);
            require(ref->header.type == f.header.type && ref->header.request_id == f.header.request_id);
            require(f.payload.size() <= max_payload);
            consumed += len;
            exercise_reader(f.payload, stream.subspan(0, std::min<std::size_t>(stream.size(), 16)));
            if (auto h = decode_handshake(f.payload)) {
                auto again = decode_handshake(encode_handshake(*h));
                require(again.has_value() && again->cluster == h->cluster && again->from == h->from &&
                        again->to == h->to && again->protocol_version == h->protocol_version);
            }
        }
    }
    if (!failed) require(d.finish().has_value() == (d.buffered() == 0));
    // The raw input as a payload, read with a script taken from its tail.
    exercise_reader(stream, stream.subspan(stream.size() / 2));
    return 0;
}
