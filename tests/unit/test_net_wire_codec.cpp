// Wire codec: frame header encode/decode, FrameDecoder chunking and errors,
// WireWriter/WireReader, MessageTypes.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "net/byte_order.hpp"
#include "net/frame_decoder.hpp"
#include "net/handshake.hpp"
#include "net/message_types.hpp"
#include "net/wire_frame.hpp"
#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

using namespace spanvm::net;

namespace {
Bytes frame_of(std::uint16_t type, std::uint16_t flags, std::uint64_t rid, const Bytes& payload) {
    auto f = make_frame(type, flags, rid, payload);
    REQUIRE(f.has_value());
    return *f;
}
Bytes pattern(std::size_t n, std::uint8_t seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}
}  // namespace

SCENARIO("a frame header has a fixed little-endian layout") {
    GIVEN("a header with distinct field values") {
        FrameHeader h;
        h.type = 0x0102;
        h.flags = FRAME_FLAG_REQUEST;
        h.request_id = 0x1122334455667788ULL;
        h.payload_length = 0x0A0B;
        Bytes out;
        encode_header(h, out);
        THEN("every byte is where the spec puts it") {
            Bytes expect = {0x53, 0x50, 0x56, 0x4D,  // magic "SPVM"
                            0x01, 0x00,              // version
                            0x02, 0x01,              // type
                            0x01, 0x00,              // flags
                            0x00, 0x00,              // reserved
                            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // request id
                            0x0B, 0x0A, 0x00, 0x00};                         // payload length
            CHECK(out == expect);
        }
        THEN("it decodes to the same values") {
            auto d = decode_header(out);
            REQUIRE(d.has_value());
            CHECK(d->type == 0x0102);
            CHECK(d->flags == FRAME_FLAG_REQUEST);
            CHECK(d->request_id == 0x1122334455667788ULL);
            CHECK(d->payload_length == 0x0A0B);
            CHECK(d->is_request());
            CHECK_FALSE(d->is_response());
        }
    }
}

SCENARIO("frames round-trip through encode and decode") {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{64}, std::size_t{4096 + 32},
                             std::size_t{MAX_PAYLOAD_SIZE}}) {
        SUBCASE((std::string("Given: a payload of ") + std::to_string(size) + " bytes").c_str()) {
            Bytes payload = pattern(size, 3);
            Bytes wire = frame_of(42, FRAME_FLAG_RESPONSE, 99, payload);
            THEN("the frame is header + payload and decodes back") {
                CHECK(wire.size() == FRAME_HEADER_SIZE + size);
                auto f = decode_frame(wire);
                REQUIRE(f.has_value());
                CHECK(f->header.type == 42);
                CHECK(f->header.request_id == 99);
                CHECK(f->header.is_response());
                CHECK(f->payload == payload);
            }
        }
    }
    GIVEN("a payload one byte over the maximum") {
        Bytes payload(MAX_PAYLOAD_SIZE + 1);
        THEN("encoding fails with EMSGSIZE") {
            auto f = make_frame(1, 0, 0, payload);
            REQUIRE_FALSE(f.has_value());
            CHECK(f.error().code == DECODE_OVERSIZED);
        }
    }
    GIVEN("both REQUEST and RESPONSE flags") {
        THEN("encoding refuses them") {
            auto f = make_frame(1, FRAME_FLAG_REQUEST | FRAME_FLAG_RESPONSE, 1, Bytes{});
            REQUIRE_FALSE(f.has_value());
            CHECK(f.error().code == DECODE_BAD_FLAGS);
        }
    }
}

SCENARIO("decode_header and decode_frame reject every kind of bad input") {
    Bytes good = frame_of(7, 0, 0, pattern(10, 1));
    WHEN("the magic is wrong") {
        Bytes b = good;
        b[0] ^= 0xFF;
        auto r = decode_header(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_BAD_MAGIC);
        CHECK(r.error().message.find("magic") != std::string::npos);
    }
    WHEN("the version is unsupported") {
        Bytes b = good;
        store_le<std::uint16_t>(b.data() + 4, 2);
        auto r = decode_header(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_BAD_VERSION);
        CHECK(r.error().message.find("version 2") != std::string::npos);
    }
    WHEN("the length exceeds the maximum") {
        Bytes b = good;
        store_le<std::uint32_t>(b.data() + 20, MAX_PAYLOAD_SIZE + 1);
        auto r = decode_header(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_OVERSIZED);
    }
    WHEN("the length exceeds a smaller receiver maximum") {
        auto r = decode_header(good, 9);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_OVERSIZED);
    }
    WHEN("unknown flag bits are set") {
        Bytes b = good;
        store_le<std::uint16_t>(b.data() + 8, 0x8000);
        auto r = decode_header(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_BAD_FLAGS);
    }
    WHEN("the reserved field is non-zero") {
        Bytes b = good;
        store_le<std::uint16_t>(b.data() + 10, 1);
        auto r = decode_header(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_BAD_FLAGS);
    }
    WHEN("the header is cut short") {
        auto r = decode_header(ByteView(good).first(FRAME_HEADER_SIZE - 1));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_TRUNCATED);
    }
    WHEN("the payload is cut short") {
        auto r = decode_frame(ByteView(good).first(good.size() - 1));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_TRUNCATED);
    }
    WHEN("bytes trail the frame") {
        Bytes b = good;
        b.push_back(0);
        auto r = decode_frame(b);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == DECODE_OVERSIZED);
    }
}

SCENARIO("FrameDecoder reassembles frames from arbitrary chunks") {
    std::vector<Bytes> payloads = {pattern(0, 0), pattern(1, 1), pattern(100, 2), pattern(4096, 3), pattern(5, 4)};
    Bytes stream;
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        Bytes f = frame_of(static_cast<std::uint16_t>(10 + i), 0, i, payloads[i]);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    auto check_all = [&](FrameDecoder& d, std::vector<Frame>& got) {
        REQUIRE(got.size() == payloads.size());
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            CHECK(got[i].header.type == 10 + i);
            CHECK(got[i].header.request_id == i);
            CHECK(got[i].payload == payloads[i]);
        }
        CHECK(d.buffered() == 0);
        CHECK(d.finish().has_value());
    };
    auto drain = [](FrameDecoder& d, std::vector<Frame>& got) {
        for (;;) {
            auto n = d.next();
            REQUIRE(n.has_value());
            if (!*n) return;
            got.push_back(std::move(**n));
        }
    };
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{23}, std::size_t{24}, std::size_t{25},
                              std::size_t{1000}, stream.size()}) {
        SUBCASE((std::string("When: the stream is fed in ") + std::to_string(chunk) + "-byte chunks").c_str()) {
            FrameDecoder d;
            std::vector<Frame> got;
            for (std::size_t at = 0; at < stream.size(); at += chunk) {
                d.feed(ByteView(stream).subspan(at, std::min(chunk, stream.size() - at)));
                drain(d, got);
            }
            THEN("every frame comes out once, in order") { check_all(d, got); }
        }
    }
    WHEN("the whole stream is fed before any frame is taken (coalesced)") {
        FrameDecoder d;
        d.feed(stream);
        std::vector<Frame> got;
        drain(d, got);
        THEN("all frames are yielded") { check_all(d, got); }
    }
    WHEN("the stream stops inside a header") {
        FrameDecoder d;
        d.feed(ByteView(stream).first(10));
        auto n = d.next();
        REQUIRE(n.has_value());
        CHECK_FALSE(n->has_value());
        THEN("finish reports truncation") {
            auto f = d.finish();
            REQUIRE_FALSE(f.has_value());
            CHECK(f.error().code == DECODE_TRUNCATED);
        }
    }
    WHEN("the stream stops inside a payload") {
        FrameDecoder d;
        d.feed(ByteView(stream).first(FRAME_HEADER_SIZE + 24 + 30));  // frame 0 complete, frame 1 whole, frame 2 partial
        std::vector<Frame> got;
        drain(d, got);
        CHECK(got.size() == 2);
        auto f = d.finish();
        REQUIRE_FALSE(f.has_value());
        CHECK(f.error().code == DECODE_TRUNCATED);
    }
}

SCENARIO("FrameDecoder errors are sticky and detected from the header alone") {
    GIVEN("a valid frame followed by garbage") {
        Bytes s = frame_of(1, 0, 0, pattern(8, 0));
        Bytes junk(FRAME_HEADER_SIZE, 0xEE);
        s.insert(s.end(), junk.begin(), junk.end());
        FrameDecoder d;
        d.feed(s);
        THEN("the good frame is yielded, then a bad-magic error, forever") {
            auto a = d.next();
            REQUIRE(a.has_value());
            REQUIRE(a->has_value());
            auto b = d.next();
            REQUIRE_FALSE(b.has_value());
            CHECK(b.error().code == DECODE_BAD_MAGIC);
            d.feed(frame_of(1, 0, 0, {}));
            auto c = d.next();
            REQUIRE_FALSE(c.has_value());
            CHECK(c.error().code == DECODE_BAD_MAGIC);
            CHECK(d.failed());
            CHECK_FALSE(d.finish().has_value());
        }
    }
    GIVEN("a header announcing 4 GiB") {
        Bytes h = frame_of(1, 0, 0, {});
        store_le<std::uint32_t>(h.data() + 20, 0xFFFFFFFFu);
        FrameDecoder d;
        d.feed(h);
        THEN("it is rejected before any payload arrives") {
            auto r = d.next();
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == DECODE_OVERSIZED);
        }
    }
    GIVEN("an unsupported version in a split header") {
        Bytes h = frame_of(1, 0, 0, {});
        store_le<std::uint16_t>(h.data() + 4, 9);
        FrameDecoder d;
        d.feed(ByteView(h).first(12));
        auto r1 = d.next();
        REQUIRE(r1.has_value());
        CHECK_FALSE(r1->has_value());
        d.feed(ByteView(h).subspan(12));
        auto r2 = d.next();
        REQUIRE_FALSE(r2.has_value());
        CHECK(r2.error().code == DECODE_BAD_VERSION);
    }
}

SCENARIO("WireWriter and WireReader round-trip typed fields") {
    GIVEN("a payload with every field kind") {
        Bytes page = pattern(4096, 9);
        WireWriter w;
        w.u8(0xAB).u16(0xBEEF).u32(0xDEADBEEF).u64(0x0123456789ABCDEFULL).bytes(pattern(5, 1)).string("demo").blob(page);
        Bytes buf = w.take();
        THEN("a reader gets the same values back and reaches the end") {
            WireReader r(buf);
            CHECK(*r.u8() == 0xAB);
            CHECK(*r.u16() == 0xBEEF);
            CHECK(*r.u32() == 0xDEADBEEF);
            CHECK(*r.u64() == 0x0123456789ABCDEFULL);
            auto b = r.bytes();
            REQUIRE(b.has_value());
            CHECK(Bytes(b->begin(), b->end()) == pattern(5, 1));
            CHECK(*r.string() == "demo");
            Bytes out(4096);
            REQUIRE(r.blob_into(out).has_value());
            CHECK(out == page);
            CHECK(r.remaining() == 0);
            CHECK(r.expect_end().has_value());
        }
        THEN("the integers are little-endian") {
            CHECK(buf[1] == 0xEF);
            CHECK(buf[2] == 0xBE);
        }
    }
    GIVEN("short input") {
        Bytes buf = {1, 2, 3};
        WireReader r(buf);
        THEN("a too-wide read fails without consuming") {
            auto v = r.u32();
            REQUIRE_FALSE(v.has_value());
            CHECK(v.error().code == DECODE_TRUNCATED);
            CHECK(r.position() == 0);
            CHECK(*r.u16() == 0x0201);
            CHECK_FALSE(r.u16().has_value());
            CHECK(*r.u8() == 3);
            CHECK_FALSE(r.u8().has_value());
            CHECK_FALSE(r.u64().has_value());
        }
    }
    GIVEN("a byte string whose length prefix lies") {
        WireWriter w;
        w.u32(1000).u8(1);
        Bytes buf = w.take();
        WireReader r(buf);
        THEN("bytes() fails and leaves the position at the prefix") {
            CHECK_FALSE(r.bytes().has_value());
            CHECK(r.position() == 0);
        }
    }
    GIVEN("a string whose length prefix lies") {
        WireWriter w;
        w.u16(10).u8('x');
        Bytes buf = w.take();
        WireReader r(buf);
        CHECK_FALSE(r.string().has_value());
        CHECK(r.position() == 0);
        CHECK_FALSE(r.blob(4).has_value());
        CHECK(r.blob(2).has_value());
        CHECK_FALSE(r.expect_end().has_value());
    }
}

SCENARIO("handshake payloads round-trip and are validated") {
    Handshake h{HandshakeKind::hello, "demo", 1, 2, 7, true, fresh_nonce(), {}};
    Bytes p = encode_handshake(h);
    auto d = decode_handshake(p);
    REQUIRE(d.has_value());
    CHECK(d->kind == HandshakeKind::hello);
    CHECK(d->cluster == "demo");
    CHECK(d->from == 1);
    CHECK(d->to == 2);
    CHECK(d->protocol_version == 7);
    CHECK(d->encrypt);
    CHECK(d->nonce == h.nonce);
    HandshakeSetup s{"demo", 7, true, {}};
    CHECK(check_handshake(*d, s, 2, 1).empty());
    HandshakeSetup other = s;
    other.cluster = "other";
    CHECK(check_handshake(*d, other, 2, 1).find("cluster name") != std::string::npos);
    other = s;
    other.protocol_version = 8;
    CHECK(check_handshake(*d, other, 2, 1).find("protocol version 7") != std::string::npos);
    other = s;
    other.encrypt = false;
    CHECK(check_handshake(*d, other, 2, 1) == "encryption is on there and off here");
    CHECK(check_handshake(*d, s, 3, 1).find("addressed to node 2") != std::string::npos);
    CHECK(check_handshake(*d, s, 2, 0).find("claims to be node 1") != std::string::npos);
    p.push_back(0);
    CHECK_FALSE(decode_handshake(p).has_value());
    CHECK_FALSE(decode_handshake(ByteView(p).first(3)).has_value());
}

SCENARIO("MessageTypes holds the registered types and protects the reserved range") {
    MessageTypes t{1, 5};
    t.add_range(10, 12);
    CHECK(t.contains(1));
    CHECK(t.contains(5));
    CHECK(t.contains(11));
    CHECK_FALSE(t.contains(2));
    CHECK_FALSE(t.contains(13));
    CHECK(t.size() == 5);
    CHECK_THROWS_AS(t.add(TRANSPORT_RESERVED_FIRST), std::invalid_argument);
    CHECK_THROWS_AS(t.add_range(0xFE00, 0xFFFF), std::invalid_argument);
    CHECK_THROWS_AS(t.add_range(9, 3), std::invalid_argument);
}
