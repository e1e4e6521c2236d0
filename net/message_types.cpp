#include "net/message_types.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace spanvm::net {

MessageTypes::MessageTypes(std::initializer_list<std::uint16_t> types) {
    for (auto t : types) add(t);
}

MessageTypes& MessageTypes::add(std::uint16_t type) {
    if (type >= TRANSPORT_RESERVED_FIRST)
        throw std::invalid_argument(
            fmt::format("message type {:#06x} is reserved by the transport (>= {:#06x})", type, TRANSPORT_RESERVED_FIRST));
    known_.set(type);
    return *this;
}

MessageTypes& MessageTypes::add_range(std::uint16_t first, std::uint16_t last) {
    if (first > last)
        throw std::invalid_argument(fmt::format("message type range {:#06x}..{:#06x} is inverted", first, last));
    for (std::uint32_t t = first; t <= last; ++t) add(static_cast<std::uint16_t>(t));
    return *this;
}

}  // namespace spanvm::net
