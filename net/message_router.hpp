#pragma once
// MessageRouter: several layers on one Transport's connections. Each layer
// routes its own range of message types to its own handler, and exactly one
// layer owns peer failures; the Transport is then built from types(),
// message_handler() and peer_failed_handler(). E.g. the multi-host process
// mode (vmm/cluster/control_channel.hpp) routes the cluster's messages to
// its ControlChannel and hands the same router to the DSM engine, which
// routes its coherence and control types and builds the transport.
//
// Rules: routes and the peer-failure owner are set at start-up, before
// message_handler()/peer_failed_handler() are taken (the router is then
// frozen: a later route() throws std::logic_error), so dispatch reads the
// table without a lock on the transport's I/O thread. Overlapping ranges and
// transport-reserved types throw std::invalid_argument. The router must
// outlive the transport built from it. Handlers run on the transport's I/O
// thread, with that thread's rules (net/transport.hpp).
#include <cstdint>
#include <vector>

#include "net/message_types.hpp"
#include "net/transport.hpp"

namespace spanvm::net {

class MessageRouter {
public:
    // Frames of types [first, last] (inclusive) go to `handler`.
    void route(std::uint16_t first, std::uint16_t last, MessageHandler handler);
    // The one layer that decides what a lost peer means. Throws
    // std::logic_error if another layer already owns peer failures.
    void own_peer_failures(PeerFailedHandler handler);
    bool peer_failures_owned() const { return static_cast<bool>(on_peer_failed_); }

    // Every routed type, for the Transport.
    MessageTypes types() const;
    // The Transport's callbacks; both freeze the router.
    MessageHandler message_handler();
    PeerFailedHandler peer_failed_handler();

    // What the callbacks do. A type nobody routed cannot arrive (the
    // transport refuses types outside types()); it is dropped.
    void dispatch(NodeId from, std::uint16_t type, std::uint64_t request_id, ByteView payload) const;
    void peer_failed(NodeId node, const std::string& reason) const;

private:
    struct Route {
        std::uint16_t first, last;
        MessageHandler handler;
    };
    std::vector<Route> routes_;  // few (2-3): a linear scan beats a map
    PeerFailedHandler on_peer_failed_;
    bool frozen_ = false;
};

}  // namespace spanvm::net
