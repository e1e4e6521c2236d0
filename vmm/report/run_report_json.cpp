#include "vmm/report/run_report_json.hpp"

#include <nlohmann/json.hpp>

namespace spanvm::report {

namespace {

nlohmann::json thread_json(const ThreadReport& r) {
    // host_tid: for a thread on another node, its host thread there (0
    // before its first trap); the origin's executor is executor_tid.
    nlohmann::json j = {{"tid", r.tid},
                        {"node", r.node},
                        {"vcpu", r.vcpu},
                        {"host_tid", r.node != 0 ? r.remote_host_tid : r.host_tid},
                        {"syscalls_local", r.syscalls_local},
                        {"syscalls_forwarded", r.syscalls_forwarded},
                        {"exits_syscall", r.exits_syscall},
                        {"exits_exception", r.exits_exception},
                        {"exits_other", r.exits_other},
                        {"read_faults", r.read_faults},
                        {"write_faults", r.write_faults},
                        {"state", r.state}};
    j["migrations"] = r.migrations;
    j["pid"] = r.pid;
    if (r.node != 0) j["executor_tid"] = r.host_tid;
    return j;
}

nlohmann::json machine_json(const MachineReport& m) {
    nlohmann::json j = {{"id", m.id}, {"address", m.address}, {"port", m.port}, {"threads", m.threads},
                        {"processes", m.processes}};
    // Counters are absent for a node that has not reported.
    if (const auto& s = m.counters) {
        j["bytes_sent"] = s->bytes_sent;
        j["bytes_received"] = s->bytes_received;
        j["read_faults"] = s->read_faults;
        j["write_faults"] = s->write_faults;
        j["remote_fetches"] = s->remote_fetches;
        j["home_first_touch_faults"] = s->home_first_touch_faults;
        j["remote_first_touches"] = s->remote_first_touches;
        j["home_migrations"] = s->home_migrations;
        j["pages_rehomed"] = s->pages_rehomed;
        j["claim_requests"] = s->claim_requests;
        j["claims"] = s->claims;
        j["pages_claimed"] = s->pages_claimed;
        j["pages_filled"] = s->pages_filled;
        j["shared_chunk_first_touches"] = s->shared_chunk_first_touches;
    }
    j["state"] = m.state;
    return j;
}

nlohmann::json hot_page_json(const HotPage& p) {
    return {{"guest_address", p.guest_address},
            {"read_faults", p.read_faults},
            {"write_faults", p.write_faults},
            {"invalidations", p.invalidations},
            {"bytes_sent", p.bytes_sent}};
}

}  // namespace

std::string to_json_text(const RunReport& r) {
    nlohmann::json threads = nlohmann::json::array();
    for (const auto& t : r.threads) threads.push_back(thread_json(t));
    nlohmann::json j = {{"platform", r.platform},
                        {"platform_reason", r.platform_reason},
                        {"exit_status", r.exit_status},
                        {"threads", std::move(threads)}};
    if (!r.processes.empty()) {
        nlohmann::json procs = nlohmann::json::array();
        for (const auto& p : r.processes)
            procs.push_back({{"pid", p.pid},
                             {"ppid", p.ppid},
                             {"node", p.node},
                             {"threads", p.threads},
                             {"threads_total", p.threads_total},
                             {"state", p.state},
                             {"status", p.status},
                             {"program", p.program},
                             {"node_pages_fetched", p.node_pages_fetched},
                             {"node_pages_filled", p.node_pages_filled},
                             {"node_syscalls_local", p.node_syscalls_local},
                             {"node_syscalls_forwarded", p.node_syscalls_forwarded},
                             {"layout_round_trips", p.layout_round_trips},
                             {"layouts_ridden", p.layouts_ridden}});
        j["processes"] = std::move(procs);
    }
    if (r.cluster) {
        nlohmann::json machines = nlohmann::json::array();
        for (const auto& m : r.cluster->machines) machines.push_back(machine_json(m));
        nlohmann::json pages = nlohmann::json::array();
        for (const auto& p : r.cluster->hot_pages) pages.push_back(hot_page_json(p));
        j["machines"] = std::move(machines);
        j["hot_pages"] = std::move(pages);
        nlohmann::json moves = nlohmann::json::array();
        for (const auto& m : r.cluster->migrations)
            moves.push_back({{"tid", m.tid},
                             {"from", m.from},
                             {"to", m.to},
                             {"at_s", m.at_s},
                             {"cost_us", static_cast<double>(m.cost_ns) / 1000.0},
                             {"reason", m.reason}});
        j["placement"] = r.cluster->placement;
        j["migrations"] = std::move(moves);
        j["discards"] = {{"pages_reclaimed", r.cluster->discard_pages_reclaimed},
                         {"pages_zeroed", r.cluster->discard_pages_zeroed}};
    }
    // replace: a string that is not UTF-8 (a path, a host name) cannot make
    // the exit path throw; it is written with U+FFFD in its place.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace spanvm::report
