#pragma once
// What the process layer asks of the cluster when a program spans several
// hosts (vmm/cluster/origin_cluster.hpp implements it at the origin). A
// single-host run has no ClusterHooks at all: no extra hop, no extra lock.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "vmm/base/result.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::cluster {

class ClusterHooks {
public:
    virtual ~ClusterHooks() = default;
    // Puts guest RAM [user base, end) under the DSM and waits until every
    // node has joined. Called once, before the program is loaded.
    virtual Result<void> attach_memory(memory::GuestMemory& mem) = 0;
    // The vDSO's time page lives at `gva`: it becomes node-local (every node
    // runs its own Timekeeper on it; no coherence traffic). Before the
    // origin's Timekeeper starts.
    virtual Result<void> set_vdso_data(std::uint64_t gva) = 0;
    // munmap / MADV_DONTNEED of guest RAM [gpa, gpa+len), page-aligned:
    // afterwards every node reads zeros there.
    virtual void discard(std::uint64_t gpa, std::uint64_t len) = 0;
    // The node a new guest thread runs on (0 = the origin).
    virtual unsigned place_thread() = 0;
    virtual void thread_gone(unsigned node) = 0;
    // The executor's vCPU for a thread on another node: run() returns when
    // the remote thread traps, and the next run() sends the result back.
    virtual std::unique_ptr<platform::Vcpu> remote_vcpu(unsigned node, unsigned long vcpu_id) = 0;
    // A signal is pending for `tid` on `node`: make it leave the guest.
    virtual void kick(unsigned node, int tid) = 0;
    // The program ended with `status`: every node stops its threads. Returns
    // when they have acknowledged or a short timeout passed.
    virtual void shutdown(int status) = 0;
    // DSM read and write faults taken here by host thread `host_tid`.
    virtual std::pair<std::uint64_t, std::uint64_t> thread_faults(int host_tid) = 0;
    // The machine table (id, address, port, threads, bytes, state).
    virtual std::string machine_table() = 0;
    // Top hot pages of guest RAM, one line each, at most `n`.
    virtual std::string hot_pages(std::size_t n) = 0;
    // The same two tables for --json: {"machines": [...], "hot_pages": [...]}.
    virtual nlohmann::json tables_json(std::size_t top_pages) = 0;
};

}  // namespace spanvm::cluster
