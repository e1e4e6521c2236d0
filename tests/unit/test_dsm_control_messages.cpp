#include <doctest/doctest.h>

#include "vmm/dsm/control_messages.hpp"

using namespace spanvm::dsm;
using spanvm::net::Bytes;

SCENARIO("DSM control messages round-trip and reject malformed payloads") {
    GIVEN("one message of every kind") {
        std::vector<ControlMessage> msgs = {
            {ControlKind::BarrierArrive, 7, 0, {}},
            {ControlKind::BarrierRelease, 0xFFFFFFFFFFFFull, 0, {}},
            {ControlKind::Report, 0, 0x5354, Bytes{1, 2, 3, 4, 5}},
            {ControlKind::ByeDone, 0, 0, {}},
            {ControlKind::ByeClosing, 0, 0, {}},
            {ControlKind::Failed, 0, 0, Bytes{'n', 'o', 'd', 'e', ' ', '1'}},
        };
        THEN("each decodes to itself") {
            for (const auto& m : msgs) {
                auto d = decode_control(encode_control(m));
                REQUIRE(d.has_value());
                CHECK(*d == m);
            }
        }
    }
    GIVEN("a valid report encoding") {
        Bytes b = encode_control({ControlKind::Report, 0, 9, Bytes{9, 9}});
        WHEN("it is cut short at any length") {
            THEN("decoding fails") {
                for (std::size_t n = 0; n < b.size(); ++n)
                    CHECK_FALSE(decode_control(spanvm::net::ByteView(b.data(), n)).has_value());
            }
        }
        WHEN("a byte is appended") {
            b.push_back(0);
            THEN("decoding fails on trailing bytes") { CHECK_FALSE(decode_control(b).has_value()); }
        }
    }
    GIVEN("an unknown kind or data on a barrier message") {
        Bytes bad_kind = encode_control({ControlKind::ByeDone, 0, 0, {}});
        bad_kind[0] = 7;
        Bytes zero_kind = bad_kind;
        zero_kind[0] = 0;
        Bytes barrier_data = encode_control({ControlKind::BarrierArrive, 1, 0, Bytes{1}});
        THEN("decoding fails with a message naming the problem") {
            auto a = decode_control(bad_kind);
            REQUIRE_FALSE(a.has_value());
            CHECK(a.error().message.find("unknown kind 7") != std::string::npos);
            CHECK_FALSE(decode_control(zero_kind).has_value());
            auto c = decode_control(barrier_data);
            REQUIRE_FALSE(c.has_value());
            CHECK(c.error().message.find("BarrierArrive") != std::string::npos);
        }
    }
}
