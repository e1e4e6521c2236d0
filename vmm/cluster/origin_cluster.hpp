#pragma once
// The origin's half of the distributed process mode: it owns the DSM engine
// over guest RAM (the origin is home of every page, so a single-node access
// pattern costs no message), places threads, creates the executors' remote
// vCPUs, routes Traps to them, kicks remote threads and ends the program on
// every node. Implements ClusterHooks for the process layer.
//
// Threads: the transport's I/O thread calls on_app(); executors call send()
// and register/unregister_thread(); any guest thread may call kick() and
// shutdown(). Lock order: place_mu_, threads_mu_ and bye_mu_ are leaves.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "net/cluster_config.hpp"
#include "vmm/cluster/cluster_hooks.hpp"
#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/placement.hpp"
#include "vmm/dsm/dsm_engine.hpp"

namespace spanvm::cluster {

class RemoteVcpu;

// The version every node must match: spanvm's own and the guest RAM size.
std::uint32_t cluster_version_salt(std::uint64_t ram_size);

class OriginCluster final : public ClusterHooks {
public:
    OriginCluster(net::ClusterConfig config, PlacePolicy policy);
    ~OriginCluster() override;

    Result<void> attach_memory(memory::GuestMemory& mem) override;
    unsigned place_thread() override;
    void thread_gone(unsigned node) override;
    std::unique_ptr<platform::Vcpu> remote_vcpu(unsigned node, unsigned long vcpu_id) override;
    void kick(unsigned node, int tid) override;
    void shutdown(int status) override;
    std::string machine_table() override;
    std::string hot_pages(std::size_t n) override;
    nlohmann::json tables_json(std::size_t top_pages) override;

    Result<void> send(unsigned node, std::uint16_t type, const net::Bytes& payload);
    void register_thread(int tid, RemoteVcpu* v);
    void unregister_thread(int tid);

private:
    void on_app(dsm::NodeId from, std::uint16_t type, net::ByteView payload);
    // Counters of node k for the tables: the origin's own, a node's last
    // Stats message, or nullopt if that node has sent none.
    std::optional<NodeStatsMsg> node_stats(std::size_t k);

    net::ClusterConfig config_;
    std::unique_ptr<dsm::DsmEngine> engine_;
    std::mutex place_mu_;
    Placement placement_;
    std::mutex threads_mu_;
    std::map<int, RemoteVcpu*> threads_;
    std::mutex bye_mu_;
    std::condition_variable bye_cv_;
    std::size_t byes_ = 0;
    std::vector<std::optional<NodeStatsMsg>> node_stats_;  // guarded by bye_mu_; by node id
    std::atomic<bool> shut_{false};
};

}  // namespace spanvm::cluster
