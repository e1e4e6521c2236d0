#include "vmm/dsm/protocol_types.hpp"

namespace spanvm::dsm {

std::string_view to_string(LocalState s) {
    switch (s) {
        case LocalState::Invalid: return "Invalid";
        case LocalState::Shared: return "Shared";
        case LocalState::Modified: return "Modified";
        case LocalState::InvalidToShared: return "InvalidToShared";
        case LocalState::InvalidToModified: return "InvalidToModified";
        case LocalState::SharedToModified: return "SharedToModified";
    }
    return "?";
}

std::string_view to_string(DirState s) {
    switch (s) {
        case DirState::Uncached: return "Uncached";
        case DirState::Shared: return "Shared";
        case DirState::Modified: return "Modified";
    }
    return "?";
}

std::string_view to_string(Access a) { return a == Access::Read ? "read" : "write"; }

std::string_view to_string(FaultInjection f) {
    switch (f) {
        case FaultInjection::None: return "none";
        case FaultInjection::SkipInvalidateAck: return "skip-invalidate-ack";
        case FaultInjection::AckWithoutDrop: return "ack-without-drop";
        case FaultInjection::SkipDoneWait: return "skip-done-wait";
        case FaultInjection::IgnoreAcks: return "ignore-acks";
        case FaultInjection::SkipMoveAcks: return "skip-move-acks";
        case FaultInjection::LoseMovedRequests: return "lose-moved-requests";
        case FaultInjection::RunIgnoresBusy: return "run-ignores-busy";
        case FaultInjection::ClaimZeroShared: return "claim-zero-shared";
        case FaultInjection::FillOtherFile: return "fill-other-file";
        case FaultInjection::RideInFlight: return "ride-in-flight";
        case FaultInjection::RideLate: return "ride-late";
        case FaultInjection::FillAfterAsk: return "fill-after-ask";
        case FaultInjection::ReclaimShared: return "reclaim-shared";
    }
    return "?";
}

std::optional<FaultInjection> parse_fault_injection(std::string_view s) {
    for (auto f : {FaultInjection::None, FaultInjection::SkipInvalidateAck, FaultInjection::AckWithoutDrop,
                   FaultInjection::SkipDoneWait, FaultInjection::IgnoreAcks, FaultInjection::SkipMoveAcks,
                   FaultInjection::LoseMovedRequests, FaultInjection::RunIgnoresBusy,
                   FaultInjection::ClaimZeroShared, FaultInjection::FillOtherFile, FaultInjection::RideInFlight,
                   FaultInjection::RideLate, FaultInjection::FillAfterAsk, FaultInjection::ReclaimShared})
        if (s == to_string(f)) return f;
    return std::nullopt;
}

}  // namespace spanvm::dsm
