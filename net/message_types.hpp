#pragma once
// The set of message types a transport accepts. Filled by the protocol owner
// (e.g. the DSM) and handed to the Transport: a frame whose type is not in the
// set is a protocol violation by the sender and closes that peer.
// Types TRANSPORT_RESERVED_FIRST..0xFFFF belong to the transport itself
// (handshake, RTT probe) and cannot be added.
#include <bitset>
#include <cstdint>
#include <initializer_list>

namespace spanvm::net {

inline constexpr std::uint16_t TRANSPORT_RESERVED_FIRST = 0xFF00;

class MessageTypes {
public:
    MessageTypes() = default;
    MessageTypes(std::initializer_list<std::uint16_t> types);

    // Throws std::invalid_argument for reserved types or an inverted range
    // (start-up configuration error).
    MessageTypes& add(std::uint16_t type);
    MessageTypes& add_range(std::uint16_t first, std::uint16_t last);  // inclusive

    bool contains(std::uint16_t type) const { return known_.test(type); }
    std::size_t size() const { return known_.count(); }

private:
    std::bitset<65536> known_;
};

}  // namespace spanvm::net
