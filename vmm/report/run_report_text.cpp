#include "vmm/report/run_report_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace spanvm::report {

std::string render_thread_table(const std::vector<ThreadReport>& rows) {
    // host-tid: the host thread running the guest thread; for a thread on
    // another node, that node's host thread once it has trapped, and
    // executor: the origin's host thread running its syscalls.
    std::string out =
        fmt::format("{:>8} {:>4} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:<8} {:>5} {:>8}\n", "tid",
                    "node", "vcpu", "host-tid", "executor", "sys-local", "sys-fwd", "exits-sys", "exits-exc",
                    "exits-oth", "rd-flt", "wr-flt", "state", "moves", "process");
    for (const auto& r : rows) {
        const bool remote = r.node != 0 && r.remote_host_tid != 0;
        out += fmt::format("{:>8} {:>4} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:<8} {:>5} {:>8}\n", r.tid,
                           r.node, r.vcpu, remote ? r.remote_host_tid : r.host_tid,
                           r.node != 0 ? fmt::format("{}", r.host_tid) : std::string("-"), r.syscalls_local,
                           r.syscalls_forwarded, r.exits_syscall, r.exits_exception, r.exits_other, r.read_faults,
                           r.write_faults, r.state, r.migrations, r.pid);
    }
    return out;
}

std::string render_machine_table(const std::vector<MachineReport>& rows) {
    std::string out = fmt::format("spanvm: machine table ({} nodes)\n{:>4}  {:<22} {:>7} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>8}  {:<8} {:>5}\n",
                                  rows.size(), "node", "address", "threads", "bytes_sent", "bytes_recv", "rd_faults",
                                  "wr_faults", "home_1st", "remote_1st", "migrated", "state", "procs");
    for (const auto& m : rows) {
        // A node's counters arrive with its Stats message at shutdown: "-" until then.
        if (const auto& s = m.counters)
            out += fmt::format("{:>4}  {:<22} {:>7} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>8}  {:<8} {:>5}\n", m.id,
                               m.endpoint, m.threads, s->bytes_sent, s->bytes_received, s->read_faults, s->write_faults,
                               s->home_first_touch_faults, s->remote_first_touches, s->home_migrations, m.state,
                               m.processes);
        else
            out += fmt::format("{:>4}  {:<22} {:>7} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>8}  {:<8} {:>5}\n", m.id,
                               m.endpoint, m.threads, "-", "-", "-", "-", "-", "-", "-", m.state, m.processes);
    }
    return out;
}

std::string render_hot_pages(const std::vector<HotPage>& pages, std::size_t n) {
    std::string out = fmt::format("spanvm: hot pages at the origin (top {})\n{:>18} {:>8} {:>8} {:>8} {:>10}\n", n,
                                  "guest address", "rd", "wr", "inval", "bytes_sent");
    const std::size_t shown = std::min(n, pages.size());
    for (std::size_t i = 0; i < shown; ++i) {
        const HotPage& p = pages[i];
        out += fmt::format("{:>#18x} {:>8} {:>8} {:>8} {:>10}\n", p.guest_address, p.read_faults, p.write_faults,
                           p.invalidations, p.bytes_sent);
    }
    return out;
}

std::string render_text(const RunReport& r) {
    std::string out;
    if (r.cluster) out += render_machine_table(r.cluster->machines);
    out += fmt::format("spanvm: platform {}\nspanvm: thread table (pid {}, {} vCPUs created)\n", r.platform_reason,
                       r.pid, r.vcpus_created);
    out += render_thread_table(r.threads);
    if (!r.processes.empty()) {
        // sys-node / sys-fwd: a placed image's calls its node answered
        // itself / forwarded here ("-" for an image that ran here).
        out += fmt::format(
            "spanvm: process table ({} processes)\n{:>8} {:>8} {:>4} {:>7} {:>7} {:<17} {:>6} {:>8} {:>8}  {}\n",
            r.processes.size(), "pid", "ppid", "node", "threads", "started", "state", "status", "sys-node", "sys-fwd",
            "program");
        for (const auto& p : r.processes) {
            const bool placed = p.node_syscalls_local + p.node_syscalls_forwarded > 0;
            out += fmt::format("{:>8} {:>8} {:>4} {:>7} {:>7} {:<17} {:>6} {:>8} {:>8}  {}\n", p.pid, p.ppid, p.node,
                               p.threads, p.threads_total, p.state,
                               p.state == "exited" || p.state == "killed" ? fmt::format("{}", p.status) : "-",
                               placed ? fmt::format("{}", p.node_syscalls_local) : "-",
                               placed ? fmt::format("{}", p.node_syscalls_forwarded) : "-", p.program);
        }
    }
    if (r.cluster && r.cluster->has_hot_pages) out += render_hot_pages(r.cluster->hot_pages, kTextHotPages);
    if (r.cluster && !r.cluster->migrations.empty()) {
        out += fmt::format("spanvm: migrations ({}, --place {})\n", r.cluster->migrations.size(), r.cluster->placement);
        for (const auto& m : r.cluster->migrations)
            out += fmt::format("{:>8.3f}s  tid {} node {} -> {} ({:.0f} us): {}\n", m.at_s, m.tid, m.from, m.to,
                               static_cast<double>(m.cost_ns) / 1000.0, m.reason);
    }
    return out;
}

}  // namespace spanvm::report
