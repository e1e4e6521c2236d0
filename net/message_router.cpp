#include "net/message_router.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spanvm::net {

void MessageRouter::route(std::uint16_t first, std::uint16_t last, MessageHandler handler) {
    if (frozen_) throw std::logic_error("message router: route added after the transport was built");
    if (first > last || last >= TRANSPORT_RESERVED_FIRST)
        throw std::invalid_argument(fmt::format("message router: bad range {:#x}..{:#x}", first, last));
    for (const Route& r : routes_)
        if (first <= r.last && r.first <= last)
            throw std::invalid_argument(fmt::format("message router: range {:#x}..{:#x} overlaps {:#x}..{:#x}",
                                                    first, last, r.first, r.last));
    routes_.push_back(Route{first, last, std::move(handler)});
}

void MessageRouter::own_peer_failures(PeerFailedHandler handler) {
    if (frozen_) throw std::logic_error("message router: peer-failure owner set after the transport was built");
    if (on_peer_failed_) throw std::logic_error("message router: peer failures already have an owner");
    on_peer_failed_ = std::move(handler);
}

MessageTypes MessageRouter::types() const {
    MessageTypes t;
    for (const Route& r : routes_) t.add_range(r.first, r.last);
    return t;
}

MessageHandler MessageRouter::message_handler() {
    frozen_ = true;
    return [this](NodeId from, std::uint16_t type, std::uint64_t request_id, ByteView payload) {
        dispatch(from, type, request_id, payload);
    };
}

PeerFailedHandler MessageRouter::peer_failed_handler() {
    frozen_ = true;
    return [this](NodeId node, const std::string& reason) { peer_failed(node, reason); };
}

void MessageRouter::dispatch(NodeId from, std::uint16_t type, std::uint64_t request_id, ByteView payload) const {
    for (const Route& r : routes_)
        if (type >= r.first && type <= r.last) {
            r.handler(from, type, request_id, payload);
            return;
        }
}

void MessageRouter::peer_failed(NodeId node, const std::string& reason) const {
    if (on_peer_failed_) on_peer_failed_(node, reason);
}

}  // namespace spanvm::net
