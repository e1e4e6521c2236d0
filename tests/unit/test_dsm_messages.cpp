// Wire codec of DSM messages and the home policy.
#include <doctest/doctest.h>

#include "vmm/dsm/home_policy.hpp"
#include "vmm/dsm/messages.hpp"

using namespace spanvm::dsm;

namespace {
std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}
}  // namespace

SCENARIO("every message type survives an encode/decode round trip") {
    GIVEN("one well-formed message of each type") {
        std::vector<Message> ms = {
            {MsgType::ReadReq, 7, DataKind::None, {}},
            {MsgType::WriteReq, 0xfedcba9876543210ull, DataKind::None, {}},
            {MsgType::FwdRead, 1, DataKind::None, {}, 3, 0},
            {MsgType::FwdWrite, 2, DataKind::None, {}, 5, 63},
            {MsgType::Invalidate, 3, DataKind::None, {}, 1, 0},
            {MsgType::InvAck, 4, DataKind::None, {}},
            {MsgType::GrantShared, 5, DataKind::Zero, {}},
            {MsgType::GrantShared, 5, DataKind::Bytes, std::vector<std::byte>(4096, std::byte{0xab})},
            {MsgType::GrantModified, 6, DataKind::None, {}, 0, 2},
            {MsgType::GrantModified, 6, DataKind::Zero, {}},
            {MsgType::GrantModified, 6, DataKind::Bytes, bytes({1, 2, 3, 4}), 0, 1},
            {MsgType::Done, 7, DataKind::None, {}},
        };
        for (const Message& m : ms) {
            WHEN("encoded and decoded") {
                auto enc = encode_message(m);
                auto dec = decode_message(enc);
                THEN("the result equals the original and the size is header + data") {
                    REQUIRE(dec.has_value());
                    CHECK(*dec == m);
                    CHECK(enc.size() == kMessageHeaderBytes + m.data.size());
                }
            }
        }
    }
    GIVEN("a GrantModified for page 0x0102030405060708 with 2 bytes and 3 acks") {
        Message m{MsgType::GrantModified, 0x0102030405060708ull, DataKind::Bytes, bytes({0xaa, 0xbb}), 0, 3};
        THEN("the layout is the documented little-endian one") {
            CHECK(encode_message(m) == bytes({8, 2, 0, 3, 2, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0xaa, 0xbb}));
        }
    }
}

SCENARIO("malformed messages are rejected with a one-line error") {
    GIVEN("a valid encoded GrantShared with 2 data bytes") {
        auto good = encode_message(Message{MsgType::GrantShared, 3, DataKind::Bytes, bytes({1, 2})});
        auto reject = [](std::vector<std::byte> b, const char* what) {
            auto r = decode_message(b);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.find(what) != std::string::npos);
            CHECK(r.error().message.find('\n') == std::string::npos);
        };
        THEN("truncation, trailing bytes and every bad field are caught") {
            reject({}, "shorter than");
            reject(std::vector<std::byte>(good.begin(), good.begin() + 15), "shorter than");
            reject(std::vector<std::byte>(good.begin(), good.end() - 1), "header says 2");
            auto b = good;
            b.push_back(std::byte{0});
            reject(b, "header says 2");
            b = good;
            b[0] = std::byte{0};
            reject(b, "unknown type");
            b[0] = std::byte{15};
            reject(b, "unknown type");
            b = good;
            b[1] = std::byte{3};
            reject(b, "unknown data kind");
            b = good;
            b[2] = std::byte{1};
            reject(b, "not allowed");
            b = good;
            b[3] = std::byte{1};
            reject(b, "not allowed");
            b = good;
            b[7] = std::byte{0x7f};
            reject(b, "exceeds");
        }
        THEN("a data kind the type does not allow is caught") {
            reject(encode_message(Message{MsgType::ReadReq, 1, DataKind::Zero, {}}), "not allowed");
            reject(encode_message(Message{MsgType::GrantShared, 1, DataKind::None, {}}), "not allowed");
            reject(encode_message(Message{MsgType::FwdWrite, 1, DataKind::Bytes, bytes({1})}), "not allowed");
            reject(encode_message(Message{MsgType::InvAck, 1, DataKind::Bytes, bytes({1})}), "not allowed");
            reject(encode_message(Message{MsgType::FwdWrite, 1, DataKind::None, {}, 1, 65}), "exceeds 64");
            reject(encode_message(Message{MsgType::Invalidate, 1, DataKind::Bytes, bytes({1})}), "not allowed");
            reject(encode_message(Message{MsgType::GrantShared, 1, DataKind::Bytes, {}}), "with 0 data bytes");
            reject(encode_message(Message{MsgType::InvAck, 1, DataKind::None, bytes({1})}), "with 1 data bytes");
        }
    }
}

SCENARIO("home policies") {
    GIVEN("interleaving over 3 nodes") {
        auto p = HomePolicy::parse("interleave", 3);
        REQUIRE(p.has_value());
        THEN("page i lives on node i mod 3") {
            CHECK(p->home_of(0) == 0);
            CHECK(p->home_of(4) == 1);
            CHECK(p->home_of(8) == 2);
            CHECK(p->to_string() == "interleave");
        }
    }
    GIVEN("a single home") {
        auto p = HomePolicy::parse("node:2", 3);
        REQUIRE(p.has_value());
        THEN("every page lives there") {
            CHECK(p->home_of(0) == 2);
            CHECK(p->home_of(12345) == 2);
            CHECK(p->to_string() == "node:2");
        }
    }
    THEN("bad specs are rejected") {
        CHECK_FALSE(HomePolicy::parse("node:3", 3).has_value());
        CHECK_FALSE(HomePolicy::parse("node:", 3).has_value());
        CHECK_FALSE(HomePolicy::parse("node:1x", 3).has_value());
        CHECK_FALSE(HomePolicy::parse("striped", 3).has_value());
        CHECK_FALSE(HomePolicy::parse("interleave", 0).has_value());
    }
}
