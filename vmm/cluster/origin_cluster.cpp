#include "vmm/cluster/origin_cluster.hpp"

#include <fmt/format.h>

#include <cstring>
#include <thread>

#include "net/wire_reader.hpp"
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

OriginCluster::OriginCluster(net::ClusterConfig config, PlacePolicy policy)
    : config_(std::move(config)),
      channel_(config_, failure_,
               [this](unsigned from, std::uint16_t type, net::ByteView p) { on_cluster_message(from, type, p); }),
      placement_(policy, std::vector<unsigned>(config_.size(), 1)),
      node_stats_(config_.size()) {}

OriginCluster::~OriginCluster() = default;

Result<void> OriginCluster::attach_memory(memory::GuestMemory& mem) {
    dsm::DsmEngineOptions o;
    o.cluster = config_;
    o.self = 0;
    o.pages = (mem.size() - memory::layout::kUserBase) / memory::layout::kPageSize;
    o.home = "node:0";  // the origin holds the program's memory; nodes fetch on demand
    o.dynamic_homes = true;  // ... except fresh memory mapped for a thread elsewhere (mapped())
    o.external_base = mem.host_base() + memory::layout::kUserBase;
    ram_base_ = mem.host_base();
    o.version_salt = cluster_version_salt(mem.size());
    o.router = &channel_.router();
    o.fault_observer = [this](std::int32_t tid, bool write) { faults_.record(tid, write); };
    auto e = dsm::DsmEngine::create(std::move(o));
    if (!e) return e.error();
    engine_ = std::move(*e);
    channel_.bind(engine_->transport(), engine_->stats());
    failure_.set_pending_faults([this] { return engine_->region().pending_faults(); });
    failure_.tell_nodes_through(channel_);
    engine_->region().set_fatal_hook([this](const std::string& reason) { failure_.tell_nodes(reason); });
    auto l = ChannelListener::start(config_.node(0).address,
                                    [this](std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {
                                        on_channel(tid, std::move(ch));
                                    });
    if (!l) return l.error();
    listener_ = std::move(*l);
    return engine_->start();
}

std::uint16_t OriginCluster::channel_port() const { return listener_ ? listener_->port() : 0; }

std::uint64_t OriginCluster::channel_cookie() const { return listener_ ? listener_->cookie() : 0; }

void OriginCluster::on_channel(std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {
    std::lock_guard lk(threads_mu_);
    auto it = threads_.find(tid);
    if (it == threads_.end()) {
        log::warn("syscall channel for unknown thread {} dropped", tid);
        return;
    }
    it->second->attach_channel(std::move(ch));
}

void OriginCluster::channel_lost(unsigned node, int tid, const std::string& why) {
    if (shut_) return;
    // The transport usually notices a dead node first and the ControlChannel
    // ends the program with its one line; give it that chance so there is
    // one line, not two.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (shut_) return;
    failure_.fail(fmt::format("{}: syscall channel of thread {} lost: {}",
                              config_.describe(static_cast<dsm::NodeId>(node)), tid, why));
}

std::pair<std::uint64_t, std::uint64_t> OriginCluster::thread_faults(int host_tid) {
    auto c = faults_.get(host_tid);
    return {c.read, c.write};
}

Result<void> OriginCluster::set_vdso_data(std::uint64_t gva) {
    if (gva < memory::layout::kUserBase || gva % memory::layout::kPageSize) return make_error(EINVAL, "vDSO data page {:#x}", gva);
    if (auto r = engine_->make_node_local((gva - memory::layout::kUserBase) / memory::layout::kPageSize); !r) return r;
    vvar_gva_ = gva;
    return {};
}

void OriginCluster::discard(std::uint64_t gpa, std::uint64_t len) {
    // Departure from a real discard transaction: a page some node holds is
    // zeroed through the coherent mapping (an ownership fetch, then zeros);
    // only pages nobody was ever handed are skipped, which is what makes
    // munmap of big, mostly untouched mappings (thread stacks, malloc
    // arenas) cheap.
    // Pages homed elsewhere (dynamic homes) are asked of their home, one
    // round trip per home and range.
    if (gpa < memory::layout::kUserBase || shut_) return;  // after shutdown the nodes are gone
    const dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex count = (len + memory::layout::kPageSize - 1) / memory::layout::kPageSize;
    auto untouched = engine_->untouched_range(first, count);
    if (!untouched) {
        if (shut_) return;  // the program ended meanwhile and the nodes left
        failure_.fail(fmt::format("discarding guest pages: {}", untouched.error().message));
    }
    for (std::size_t i = 0; i < untouched->size(); ++i) {
        if ((*untouched)[i]) continue;
        std::memset(ram_base_ + memory::layout::kUserBase + (first + i) * memory::layout::kPageSize, 0,
                    memory::layout::kPageSize);
    }
}

void OriginCluster::mapped(std::uint64_t gpa, std::uint64_t len, unsigned node) {
    // Fresh memory is homed at the node of the thread that mapped it, so that
    // thread's first touches cost no message (dsm-protocol.md, "Dynamic homes").
    if (!engine_ || node == 0 || gpa < memory::layout::kUserBase || shut_) return;
    const dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex count = (len + memory::layout::kPageSize - 1) / memory::layout::kPageSize;
    if (auto r = engine_->rehome(first, count, static_cast<dsm::NodeId>(node)); !r)
        failure_.fail(fmt::format("homing guest pages at node {}: {}", node, r.error().message));
}

unsigned OriginCluster::place_thread() {
    std::lock_guard lk(place_mu_);
    return placement_.place();
}

void OriginCluster::thread_gone(unsigned node) {
    std::lock_guard lk(place_mu_);
    placement_.thread_gone(node);
}

process::RemoteThreadVcpu OriginCluster::create_vcpu(unsigned node, unsigned long vcpu_id) {
    // One object, two views: the Process owns it as the vCPU and uses it as
    // the thread's link.
    auto v = std::make_unique<RemoteVcpu>(*this, node, vcpu_id);
    process::RemoteLink* link = v.get();
    return {std::move(v), link};
}

Result<void> OriginCluster::send(unsigned node, std::uint16_t type, const net::Bytes& payload) {
    return channel_.send(node, type, payload);
}

void OriginCluster::register_thread(int tid, RemoteVcpu* v) {
    std::lock_guard lk(threads_mu_);
    threads_[tid] = v;
}

void OriginCluster::unregister_thread(int tid) {
    std::lock_guard lk(threads_mu_);
    threads_.erase(tid);
}

void OriginCluster::kick(unsigned node, int tid) {
    (void)send(node, kKickType, encode(KickMsg{tid}));
}

void OriginCluster::on_cluster_message(unsigned from, std::uint16_t type, net::ByteView payload) {
    const auto who = static_cast<net::NodeId>(from);
    if (type == kStatsType) {
        auto st = decode_stats(payload);
        if (!st) failure_.fail(fmt::format("{}: bad Stats message: {}", config_.describe(who), st.error().message));
        std::lock_guard lk(bye_mu_);
        node_stats_.at(from) = *st;
        return;
    }
    if (type == kByeType) {
        {
            std::lock_guard lk(bye_mu_);
            ++byes_;
        }
        bye_cv_.notify_all();
        return;
    }
    failure_.fail(fmt::format("{}: unexpected cluster message type {:#x} at the origin", config_.describe(who), type));
}

void OriginCluster::shutdown(int status) {
    if (!engine_ || shut_.exchange(true)) return;
    // From here a node leaving is the end of the program, not a failure.
    channel_.expect_peers_closing();
    const auto n = config_.size();
    for (std::size_t k = 1; k < n; ++k) (void)send(static_cast<unsigned>(k), kShutdownType, encode(ShutdownMsg{status}));
    std::unique_lock lk(bye_mu_);
    bye_cv_.wait_for(lk, std::chrono::seconds(2), [&] { return byes_ >= n - 1; });
}

std::optional<NodeStatsMsg> OriginCluster::node_stats(std::size_t k) {
    if (k == 0) {
        if (!engine_) return std::nullopt;
        using C = dsm::DsmStats::Counter;
        auto& s = engine_->stats();
        return NodeStatsMsg{s.get(C::bytes_sent), s.get(C::bytes_received), s.get(C::read_faults),
                            s.get(C::write_faults), s.get(C::remote_fetches),
                            s.get(C::home_first_touch_faults), s.get(C::remote_first_touches),
                            s.get(C::home_migrations), s.get(C::pages_rehomed)};
    }
    std::lock_guard lk(bye_mu_);
    return node_stats_.at(k);
}

report::ClusterReport OriginCluster::report(std::size_t top_pages) {
    report::ClusterReport out;
    for (std::size_t k = 0; k < config_.size(); ++k) {
        const auto& n = config_.node(static_cast<net::NodeId>(k));
        report::MachineReport m;
        m.id = static_cast<unsigned>(k);
        m.address = n.address;
        m.port = n.port;
        m.endpoint = n.endpoint();
        {
            std::lock_guard lk(place_mu_);
            m.threads = placement_.live(static_cast<unsigned>(k));
        }
        // A node's counters arrive with its Stats message at shutdown.
        if (auto s = node_stats(k))
            m.counters = report::NodeCounters{s->bytes_sent, s->bytes_received, s->read_faults, s->write_faults,
                                              s->remote_fetches, s->home_first_touch_faults, s->remote_first_touches,
                                              s->home_migrations, s->pages_rehomed};
        m.state = k == 0 ? "origin" : shut_ ? "stopped" : "up";
        out.machines.push_back(std::move(m));
    }
    out.has_hot_pages = engine_ != nullptr;
    if (engine_)
        for (const auto& p : engine_->stats().top_pages(top_pages))
            out.hot_pages.push_back({memory::layout::kUserBase + p.page * memory::layout::kPageSize, p.read_faults, p.write_faults,
                                     p.invalidations, p.bytes_sent});
    return out;
}

}  // namespace spanvm::cluster
