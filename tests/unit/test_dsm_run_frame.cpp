// The wire form of a run of protocol messages (vmm/dsm/run_frame.hpp).
#include <doctest/doctest.h>

#include <vector>

#include "vmm/dsm/run_frame.hpp"

using namespace spanvm::dsm;

namespace {
Message grant(PageIndex page, std::uint8_t fill) {
    Message m;
    m.type = MsgType::GrantModified;
    m.page = page;
    m.data_kind = DataKind::Bytes;
    m.acks = 1;
    m.data.assign(8, std::byte{fill});
    return m;
}
}  // namespace

SCENARIO("a run of messages round-trips through one frame") {
    std::vector<Message> run{grant(40, 1), grant(41, 2), grant(42, 3)};
    REQUIRE(run_continues(run[0], run[1]));
    std::vector<std::byte> wire;
    encode_run_frame(run, wire);
    CHECK(wire.size() == kMessageHeaderBytes + 3 * 8);
    auto f = decode_run_frame(wire, 8);
    REQUIRE_MESSAGE(f.has_value(), f.error().message);
    REQUIRE(f->count == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        Message m = f->message(i, 8);
        CHECK(m.type == MsgType::GrantModified);
        CHECK(m.page == 40 + i);
        CHECK(m.acks == 1);
        REQUIRE(m.payload().size() == 8);
        CHECK(m.payload()[0] == std::byte(i + 1));
    }
    THEN("data-less messages carry no data") {
        Message a;
        a.type = MsgType::Invalidate;
        a.requester = 2;
        a.page = 7;
        Message b = a;
        b.page = 8;
        std::vector<std::byte> w;
        encode_run_frame(std::vector<Message>{a, b}, w);
        CHECK(w.size() == kMessageHeaderBytes);
        auto g = decode_run_frame(w, 8);
        REQUIRE(g.has_value());
        CHECK(g->message(1, 8).requester == 2);
    }
}

SCENARIO("what may share a frame, and what a decoder rejects") {
    Message a = grant(1, 0), b = grant(2, 0);
    CHECK(run_continues(a, b));
    b.acks = 0;
    CHECK_FALSE(run_continues(a, b));
    b = grant(3, 0);
    CHECK_FALSE(run_continues(a, b));
    std::vector<std::byte> wire;
    encode_run_frame(std::vector<Message>{grant(1, 0), grant(2, 0)}, wire);
    auto reject = [](std::vector<std::byte> w, const char* what) {
        auto r = decode_run_frame(w, 8);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().message.find(what) != std::string::npos);
    };
    reject(std::vector<std::byte>(wire.begin(), wire.begin() + 10), "shorter than");
    auto w = wire;
    w[0] = std::byte{1};
    reject(w, "marker");
    w = wire;
    w[5] = std::byte{0};  // one message
    reject(w, "want 2..");
    w = wire;
    w.pop_back();
    reject(w, "data bytes");
    w = wire;
    w[1] = std::byte{9};  // Done may carry no data
    reject(w, "not allowed");
}
