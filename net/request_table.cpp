#include "net/request_table.hpp"

#include <cerrno>
#include <exception>
#include <vector>

#include <fmt/format.h>

#include "net/link_context.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::net {

void RequestTable::add(std::uint64_t id, NodeId node, std::uint16_t type, std::chrono::milliseconds timeout,
                       ReplyHandler done) {
    Pending p;
    p.node = node;
    p.type = type;
    p.timeout = timeout;
    p.done = std::move(done);
    p.timer = std::make_unique<asio::steady_timer>(ctx_.io, timeout);
    p.timer->async_wait([this, id](const boost::system::error_code& ec) {
        if (!ec) expire(id);
    });
    pending_.emplace(id, std::move(p));
}

std::string RequestTable::complete(NodeId from, Frame& f) {
    auto it = pending_.find(f.header.request_id);
    if (it == pending_.end()) {
        log::debug("{}: dropped late response to request {}", ctx_.config.describe(from), f.header.request_id);
        return {};
    }
    if (it->second.node != from)
        return fmt::format("response to request {} that was sent to node {}", f.header.request_id, it->second.node);
    Pending p = std::move(it->second);
    pending_.erase(it);
    p.timer->cancel();
    finish(p, Reply{f.header.type, std::move(f.payload)});
    return {};
}

void RequestTable::expire(std::uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    finish(p, make_error(ETIMEDOUT, "{}: request {} (type {:#06x}) timed out after {} ms",
                         ctx_.config.describe(p.node), id, p.type, p.timeout.count()));
}

void RequestTable::fail(std::optional<NodeId> node, const Error& err) {
    std::vector<Pending> victims;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (!node || it->second.node == *node) {
            it->second.timer->cancel();
            victims.push_back(std::move(it->second));
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& p : victims) finish(p, err);
}

void RequestTable::finish(Pending& p, Result<Reply> r) {
    try {
        p.done(std::move(r));
    } catch (const std::exception& e) {
        log::error("{}: reply handler threw: {}", ctx_.config.describe(ctx_.self), e.what());
    }
}

}  // namespace spanvm::net
