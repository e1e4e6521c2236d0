#pragma once
// Internal to the transport (see net/link_context.hpp). Request/response
// matching: the requests sent with Transport::request that await a response,
// each with its deadline timer. I/O thread only, except next_id().
//
// Every pending request completes exactly once: with the response
// (complete), ETIMEDOUT at its deadline (expire), or an error when its peer
// fails or the transport stops (fail). Reply handlers run on the I/O thread
// with no lock held; one that throws is logged and ignored.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "net/transport.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

struct LinkContext;

class RequestTable {
public:
    explicit RequestTable(LinkContext& ctx) : ctx_(ctx) {}

    // Any thread: a fresh non-zero request id.
    std::uint64_t next_id() { return next_id_.fetch_add(1); }

    // Registers request `id` to `node`; `done` runs at the latest after `timeout`.
    void add(std::uint64_t id, NodeId node, std::uint16_t type, std::chrono::milliseconds timeout,
             ReplyHandler done);

    // A response frame from `from`: completes its request. Returns a
    // protocol-violation reason (a response from the wrong node), empty if
    // fine; a response to an unknown (late) request is dropped.
    std::string complete(NodeId from, Frame& f);

    // Fails the pending requests to `node` (all of them if nullopt).
    void fail(std::optional<NodeId> node, const Error& err);

private:
    struct Pending {
        NodeId node = 0;
        std::uint16_t type = 0;
        std::chrono::milliseconds timeout{0};
        ReplyHandler done;
        std::unique_ptr<boost::asio::steady_timer> timer;
    };

    void expire(std::uint64_t id);
    void finish(Pending& p, Result<Reply> r);

    LinkContext& ctx_;
    std::unordered_map<std::uint64_t, Pending> pending_;
    std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace spanvm::net
