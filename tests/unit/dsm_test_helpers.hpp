#pragma once
// Helpers shared by the tests/unit/test_dsm_*.cpp files.
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "vmm/dsm/protocol.hpp"

namespace spanvm::dsm::testing {

inline constexpr std::size_t kTestPageSize = 8;

inline Protocol make_node(NodeId self, NodeId nodes, TimeNs hold_ns = 0, const std::string& home = "interleave",
                          std::optional<NodeId> initial_owner = std::nullopt) {
    ProtocolConfig c;
    c.self = self;
    c.num_nodes = nodes;
    c.num_pages = 4;
    c.page_size = kTestPageSize;
    c.home = *HomePolicy::parse(home, nodes);
    c.hold_ns = hold_ns;
    c.initial_owner = initial_owner;
    auto p = Protocol::create(c);
    REQUIRE(p.has_value());
    return std::move(*p);
}

inline std::vector<std::byte> page_bytes(std::uint8_t fill) {
    return std::vector<std::byte>(kTestPageSize, std::byte{fill});
}

inline Message msg(MsgType t, PageIndex page, DataKind k = DataKind::None, std::vector<std::byte> d = {}) {
    return Message{t, page, k, std::move(d)};
}

template <typename T>
std::vector<T> all_of(const Actions& a) {
    std::vector<T> out;
    for (const auto& x : a)
        if (auto* p = std::get_if<T>(&x)) out.push_back(*p);
    return out;
}

// The single Send in `a` (fails the test otherwise).
inline Send only_send(const Actions& a) {
    auto s = all_of<Send>(a);
    REQUIRE(s.size() == 1);
    return s[0];
}

// What an executor does with Send{attach_page}: fill in the page content.
inline Message attached(Send s, std::uint8_t fill) {
    REQUIRE(s.attach_page);
    s.msg.data_kind = DataKind::Bytes;
    s.msg.data = page_bytes(fill);
    return s.msg;
}

// Calls that must succeed; return the emitted actions.
inline Actions fault(Protocol& p, PageIndex page, Access a, TimeNs now = 0) {
    Actions out;
    auto r = p.on_fault(page, a, now, out);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    return out;
}
// InstallPage views the delivered message's bytes: keep every delivered
// message alive for the rest of the test program.
inline Actions deliver(Protocol& p, NodeId from, const Message& m, TimeNs now = 0) {
    static std::deque<Message> delivered;
    delivered.push_back(m);
    Actions out;
    auto r = p.on_message(from, delivered.back(), now, out);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    return out;
}

}  // namespace spanvm::dsm::testing
