#pragma once
// Vocabulary of the DSM coherence state machine (vmm/dsm/protocol.hpp):
// states, actions it emits, and its configuration. Pure data, no I/O.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "vmm/dsm/home_policy.hpp"
#include "vmm/dsm/home_table.hpp"
#include "vmm/dsm/messages.hpp"

namespace spanvm::dsm {

using TimeNs = std::uint64_t;
// Sharer sets are 64-bit masks.
inline constexpr NodeId kMaxNodes = 64;

enum class Access : std::uint8_t { Read, Write };

// Per-page state of a node's local copy. Names match tests/model/dsm.pml.
enum class LocalState : std::uint8_t {
    Invalid,            // I : no copy mapped
    Shared,             // S : read-only copy, current
    Modified,           // M : the only copy, writable
    InvalidToShared,    // IS: ReadReq outstanding, no copy
    InvalidToModified,  // IM: WriteReq outstanding, no copy
    SharedToModified,   // SM: WriteReq outstanding with a read-only copy mapped (an
                        //     upgrade, or data granted while InvAcks are still due)
};

// Directory state of a page at its home. The home keeps no page data.
enum class DirState : std::uint8_t {
    Uncached,  // never handed out: the content is zero
    Shared,    // `sharers` hold equal read-only copies; `owner` is the one that supplies
               // data (kZeroData: never written, the home grants zero pages)
    Modified,  // `owner` holds the only copy
};
inline constexpr NodeId kZeroData = 0xfe;

std::string_view to_string(LocalState s);
std::string_view to_string(DirState s);
std::string_view to_string(Access a);

// ---- Actions. The executor MUST perform them in the order emitted. ----

// Map the page: read-only for Access::Read (Shared), writable for
// Access::Write (Modified). data_kind is Zero (fill with zeroes) or Bytes.
// `data` views the page bytes of the message being handled (no copy: the
// engine installs straight from the receive buffer), so the executor must
// perform the action before that message is released.
struct InstallPage {
    PageIndex page;
    Access access;
    DataKind data_kind;
    std::span<const std::byte> data;
};
// Shared -> Modified in place: remove write protection, content unchanged.
struct Upgrade {
    PageIndex page;
};
// Modified -> Shared: write-protect. After it returns no local write can
// change the page, so a following Send{attach_page} reads a stable copy.
struct Downgrade {
    PageIndex page;
    // For a FwdRead (the page stays mapped read-only). Only a hint for the
    // executor's downgrade-ahead (DsmEngine); the protocol does not depend on it.
    bool for_read = false;
};
// Unmap the page (later accesses fault as missing). Any read-out the data
// path needs has been requested by an earlier Send{attach_page}.
struct Drop {
    PageIndex page;
};
// Hand `msg` to the transport for node `to` (possibly this node: the
// executor must then feed it back through on_message, FIFO with other
// self-sends). If attach_page, the executor first sets msg.data_kind = Bytes
// and msg.data = the current local content of msg.page (write-protected by
// a preceding Downgrade).
struct Send {
    NodeId to;
    Message msg;
    bool attach_page = false;
};
// Wake every local thread blocked on a fault of `page`; each retries its
// access and faults again (calling on_fault) if the new mapping is still
// insufficient (e.g. a writer woken by a Shared grant).
struct ResumeFaults {
    PageIndex page;
};
// Call on_tick(now) once now >= at_ns (minimum hold time expired).
struct WakeAt {
    TimeNs at_ns;
};

// Dynamic homes (home_table.hpp): this node, the page's home, froze it to
// hand it over to `to` (migration). The executor sends HomeNotice to every
// other node and, once all acked, calls finish_move and sends HomeState.
// A claim (docs/dsm-protocol.md "Claims") sets `claim`: `to` claimed the
// page's aligned chunk; the executor claims (Protocol::claim) the chunk's
// other never-used pages and moves them, with `page` unless `chunk_only`
// (the page itself was used: its request is served where it is).
struct StartMove {
    PageIndex page;
    NodeId to;
    bool claim = false;
    bool chunk_only = false;
};

using Action = std::variant<InstallPage, Upgrade, Downgrade, Drop, Send, ResumeFaults, WakeAt, StartMove>;
using Actions = std::vector<Action>;

// Deliberate protocol bugs for proving that the simulator's checkers work.
// Never set outside tests.
enum class FaultInjection : std::uint8_t {
    None,
    SkipInvalidateAck,  // cache drops its copy but never sends InvAck (deadlock)
    AckWithoutDrop,     // cache acks an Invalidate of a Shared copy but keeps it mapped
    SkipDoneWait,       // home ends a forwarded transaction at once, not on Done: its next
                        // Invalidate/forward can overtake the data still on its way
    IgnoreAcks,         // requester takes Modified on the grant without collecting InvAcks
    SkipMoveAcks,       // a home hands a page over without waiting for every node's HomeAck:
                        // a request still on its way reaches a node that is no longer the home
    LoseMovedRequests,  // a home hands a page over without the requests queued meanwhile (deadlock)
    RunIgnoresBusy,     // home starts a run request on a page whose transaction is still in
                        // progress instead of refusing it (two transactions of one page at once)
    ClaimZeroShared,    // a claim takes a page whose content is still zero but that nodes read
                        // (Shared, never written) and hands it over as never used: the new home
                        // grants it writable while those copies stay mapped
    FillOtherFile,      // not the protocol's: the installer of a node (the simulator's last)
                        // fills never-written data from a file that is not the origin's
                        // (docs/dsm-protocol.md "Fillers": the identity check skipped)
    RideInFlight,       // not the protocol's: a file mapping's fill for node 1 rides on the Resume
                        // of node 1's only thread while a request node 1 sent before the call
                        // is in flight (docs/dsm-protocol.md "Fillers", F6)
    RideLate,           // not the protocol's: node 1 starts before the fill held for it is applied
    FillAfterAsk,       // not the protocol's: a fill sent to node 1 on the link, unacked, leaves
                        // after the home was asked which pages are pristine, so a grant as never
                        // written made between the two overtakes it (docs/dsm-protocol.md
                        // "Fillers", F7)
    ReclaimShared,      // a discard at the home reclaims (drops, directory Uncached) a page the home
                        // shares with other nodes, whose copies stay mapped with the old data
                        // (docs/dsm-protocol.md "Discards")
};
std::string_view to_string(FaultInjection f);
std::optional<FaultInjection> parse_fault_injection(std::string_view s);

struct ProtocolConfig {
    NodeId self = 0;
    NodeId num_nodes = 1;
    PageIndex num_pages = 0;
    std::size_t page_size = 4096;
    HomePolicy home = HomePolicy::interleaved(1);
    // Mirage-style minimum hold: a copy acquired at t is not given up
    // (Invalidate/Forward are deferred) before t + hold_ns. 0 = off.
    TimeNs hold_ns = 0;
    // If set, every page starts Modified at this node (e.g. the node that
    // loaded the program image) instead of Uncached/zero everywhere.
    std::optional<NodeId> initial_owner;
    FaultInjection inject = FaultInjection::None;
    // This instance handles only pages with page % page_stride == page_offset
    // (an engine shards the state by page; per-page state is stored densely
    // at page / page_stride). Default: all pages.
    PageIndex page_stride = 1;
    PageIndex page_offset = 0;
    // Dynamic homes (home_table.hpp): the node's table, shared by its shards,
    // or null for static homes (`home` alone decides). Not owned.
    HomeTable* homes = nullptr;
    // Threshold-based home migration (needs `homes`).
    MigrationRule migrate;
    // First-use claims (needs `homes`): the home hands a never-used page to
    // the node whose ClaimReadReq / ClaimWriteReq asks for it. A node sends
    // claims only where its caller asks (on_fault's `claim`).
    bool claims = false;
};

// A snapshot of one page's directory entry (only meaningful at its home).
struct DirectoryView {
    DirState state = DirState::Uncached;
    NodeId owner = 0;            // valid when state == Modified
    std::uint64_t sharers = 0;   // bit i = node i, valid when state == Shared
    bool busy = false;           // a transaction is in progress
    std::size_t queued = 0;      // requests waiting behind it
};

}  // namespace spanvm::dsm
