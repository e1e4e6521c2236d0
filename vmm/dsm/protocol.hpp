#pragma once
// Home-based directory MSI coherence protocol for one node, as a pure state
// machine: events in (local fault, received message, timer tick), actions
// out (vmm/dsm/protocol_types.hpp). No I/O, no threads, no clock: time is
// passed in. Not thread-safe; the caller serializes all calls.
//
// Roles. Every node is a *cache* for all pages and the *home* for the pages
// HomePolicy assigns to it. A node that is home of a page talks to its own
// cache role through Send{to = self}; the executor loops those back.
//
// Data path (decision): actions carry data. Grants arrive with the page
// bytes and become InstallPage{data}; when the protocol must read a local
// page it emits Downgrade (write-protect) followed by Send{attach_page=true},
// and the executor copies the page into the message. The home keeps its own
// copy of each of its pages while the page is Uncached/Shared (memory cost:
// one page per home page that has been read; a gap to close by reading from
// the home's local mapping when the home is itself a sharer).
//
// Transactions. The home serializes requests per page: one transaction at a
// time, later requests queue FIFO. All data flows through the home:
//  * ReadReq, dir Uncached/Shared: GrantShared(home copy; Zero if never
//    written) -> requester; done at once.
//  * ReadReq, dir Modified(o): Forward -> o; o downgrades to S and sends
//    FwdData(page) -> home; home stores the copy, dir = Shared{o, r},
//    GrantShared(Bytes) -> r; done.
//  * WriteReq from r: Invalidate -> every other holder; each answers InvAck
//    (with Bytes iff it was the Modified owner). After the last ack:
//    GrantModified(None) if r is still a sharer (upgrade in place), else
//    GrantModified(home copy); dir = Modified(r); done.
// Why no completion message from the requester is needed: only the home
// sends page messages to a cache (grants, Forward, Invalidate), the home
// sends nothing more for a page to anyone until the current transaction is
// done, and transport is FIFO per ordered pair. So a cache always sees its
// grant before any later Invalidate/Forward for that page, and the home
// sees a cache's InvAck/FwdData before any new request it sends afterwards.
// Consequences used below: an Invalidate can meet a cache in SM (upgrade
// lost the race: drop, ack, become IM; the home then sees r is no longer a
// sharer and sends data) but never in IS/IM with a copy the home counts on.
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>

#include "vmm/base/result.hpp"
#include "vmm/dsm/protocol_types.hpp"

namespace spanvm::dsm {

class Protocol {
public:
    // Validates the configuration (nodes 1..64, self < nodes, page_size > 0,
    // policy matches node count, initial_owner < nodes).
    static Result<Protocol> create(const ProtocolConfig& cfg);

    // A local thread faulted on `page` wanting `access`. Coalesces with an
    // outstanding request for the page; emits ResumeFaults at once if the
    // current mapping already allows the access (a spurious/raced fault).
    Result<void> on_fault(PageIndex page, Access access, TimeNs now, Actions& out);

    // A message from node `from` (possibly self). On error (protocol
    // violation by the peer or a bad page index) no state changes except
    // that a bad queued request is dropped; actions already appended to
    // `out` must still be executed.
    Result<void> on_message(NodeId from, const Message& msg, TimeNs now, Actions& out);

    // Time passed: handles Invalidate/Forward deferred by the hold time.
    Result<void> on_tick(TimeNs now, Actions& out);

    LocalState local_state(PageIndex page) const;
    // Precondition: this node is the page's home.
    DirectoryView directory(PageIndex page) const;
    // No transaction, queued request, outstanding fetch or deferred message.
    bool quiescent() const;
    const ProtocolConfig& config() const { return cfg_; }

private:
    struct Deferred {
        NodeId from;
        Message msg;
    };
    struct LocalEntry {
        LocalState state = LocalState::Invalid;
        TimeNs acquired_at = 0;
        std::optional<Deferred> deferred;
    };
    struct Request {
        NodeId from;
        Access access;
    };
    struct Txn {
        Request req;
        std::uint64_t pending = 0;        // nodes whose InvAck/FwdData is awaited
        bool requester_had_copy = false;  // r was a sharer when the write started
    };
    struct DirEntry {
        DirState state = DirState::Uncached;
        NodeId owner = 0;
        std::uint64_t sharers = 0;
        DataKind copy_kind = DataKind::Zero;  // home copy: Zero, Bytes, or None (stale)
        std::vector<std::byte> copy;
        std::optional<Txn> txn;
        std::deque<Request> queue;
    };

    explicit Protocol(const ProtocolConfig& cfg) : cfg_(cfg) {}

    LocalEntry& local(PageIndex page);
    DirEntry& dir(PageIndex page);
    bool is_home(PageIndex page) const { return cfg_.home.home_of(page) == cfg_.self; }
    void send(Actions& out, NodeId to, MsgType t, PageIndex page, DataKind k = DataKind::None,
              std::vector<std::byte> data = {}, bool attach = false);

    // Cache role.
    Result<void> cache_message(NodeId from, const Message& msg, TimeNs now, Actions& out);
    Result<void> cache_release(PageIndex page, LocalEntry& e, const Message& msg, Actions& out);
    // Home role.
    Result<void> home_request(NodeId from, PageIndex page, Access access, Actions& out);
    Result<void> home_reply(NodeId from, const Message& msg, Actions& out);
    Result<void> start(PageIndex page, DirEntry& d, Request req, Actions& out);
    void grant_modified(PageIndex page, DirEntry& d, Actions& out);
    void finish(PageIndex page, DirEntry& d, Actions& out, Result<void>& first_error);

    ProtocolConfig cfg_;
    std::unordered_map<PageIndex, LocalEntry> local_;
    std::unordered_map<PageIndex, DirEntry> dir_;
    std::set<PageIndex> deferred_pages_;
};

}  // namespace spanvm::dsm
