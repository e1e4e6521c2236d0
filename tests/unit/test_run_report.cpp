// The run report's two renderings (--stats text, --json file): test and
// bench scripts read their headers, columns and keys, so these pin them.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "vmm/report/run_report.hpp"
#include "vmm/report/run_report_json.hpp"
#include "vmm/report/run_report_text.hpp"

using namespace spanvm::report;

namespace {

RunReport sample(bool cluster) {
    RunReport r;
    r.platform = "native";
    r.platform_reason = "native (no /dev/kvm)";
    r.pid = 100;
    r.vcpus_created = 3;
    r.exit_status = 7;
    ThreadReport local;
    local.tid = 100;
    local.host_tid = 5000;
    local.syscalls_local = 12;
    local.exits_syscall = 12;
    local.state = "exited";
    r.threads.push_back(local);
    ThreadReport remote;  // on node 1, served by executor 5001
    remote.tid = 101;
    remote.node = 1;
    remote.vcpu = 1;
    remote.host_tid = 5001;
    remote.remote_host_tid = 7000;
    remote.syscalls_local = 2;
    remote.syscalls_forwarded = 9;
    remote.read_faults = 4;
    remote.write_faults = 1;
    remote.state = "running";
    remote.migrations = 1;
    r.threads.push_back(remote);
    ThreadReport early = remote;  // on node 1, has not trapped yet
    early.tid = 102;
    early.vcpu = 2;
    early.host_tid = 5002;
    early.remote_host_tid = 0;
    r.threads.push_back(early);
    for (auto& t : r.threads) t.pid = 100;  // the run's own process
    if (cluster) {
        ClusterReport c;
        MachineReport m0{0, "127.0.0.1", 7400, "127.0.0.1:7400", 1, NodeCounters{10, 20, 3, 4, 5}, "origin", 3};
        MachineReport m1{1, "::1", 7401, "[::1]:7401", 2, std::nullopt, "stopped"};
        c.machines = {m0, m1};
        c.has_hot_pages = true;
        for (std::uint64_t i = 0; i < 10; ++i) c.hot_pages.push_back({0x200000 + i * 4096, 9 - i, 1, 2, 4096});
        c.placement = "auto";
        c.migrations.push_back({101, 0, 1, 1.5, 61500, "shares pages with threads 101,102"});
        r.cluster = c;
    }
    return r;
}

}  // namespace

SCENARIO("the --stats text of a run") {
    GIVEN("a single-host run") {
        const std::string t = render_text(sample(false));
        THEN("the platform line, the thread table header and one line per thread") {
            CHECK(t.rfind("spanvm: platform native (no /dev/kvm)\nspanvm: thread table (pid 100, 3 vCPUs created)\n", 0) == 0);
            CHECK(t.find("     tid node  vcpu host-tid executor sys-local   sys-fwd exits-sys exits-exc exits-oth   "
                         "rd-flt   wr-flt state    moves  process\n") != std::string::npos);
            CHECK(t.find("     100    0     0     5000        -        12         0        12         0         0        "
                         "0        0 exited       0      100\n") != std::string::npos);
            CHECK(t.find("machine table") == std::string::npos);
            CHECK(t.find("hot pages") == std::string::npos);
        }
        THEN("a remote thread shows its node's host thread and its executor; before its first trap, the executor's") {
            CHECK(t.find("     101    1     1     7000     5001         2         9") != std::string::npos);
            CHECK(t.find("     102    1     2     5002     5002         2         9") != std::string::npos);
        }
    }
    GIVEN("a run across hosts") {
        const std::string t = render_text(sample(true));
        THEN("machine table first, hot pages (8 of them) last") {
            CHECK(t.rfind("spanvm: machine table (2 nodes)\nnode  address                threads   bytes_sent   "
                          "bytes_recv  rd_faults  wr_faults   home_1st remote_1st migrated  state    procs\n",
                          0) == 0);
            CHECK(t.find("   0  127.0.0.1:7400               1           10           20          3          4          0          0        0  origin       3\n") !=
                  std::string::npos);
            CHECK(t.find("   1  [::1]:7401                   2            -            -          -          -          -          -        -  stopped      0\n") !=
                  std::string::npos);
            CHECK(t.find("machine table") < t.find("thread table"));
            const auto hp = t.find("spanvm: hot pages at the origin (top 8)\n");
            REQUIRE(hp != std::string::npos);
            CHECK(hp > t.find("thread table"));
            CHECK(t.find("          0x200000        9        1        2       4096\n") != std::string::npos);
            CHECK(t.find("0x207000") != std::string::npos);
            CHECK(t.find("0x208000") == std::string::npos);
        }
    }
}

SCENARIO("the --json document of a run") {
    GIVEN("a single-host run") {
        const std::string s = to_json_text(sample(false));
        const auto j = nlohmann::json::parse(s);
        THEN("platform, exit status and thread rows, no cluster tables") {
            CHECK(s.back() == '\n');
            CHECK(j["platform"] == "native");
            CHECK(j["platform_reason"] == "native (no /dev/kvm)");
            CHECK(j["exit_status"] == 7);
            CHECK(j.size() == 4);
            REQUIRE(j["threads"].size() == 3);
            const auto& t0 = j["threads"][0];
            CHECK(t0.size() == 14);
            CHECK(t0["pid"] == 100);
            CHECK(t0["migrations"] == 0);
            CHECK_FALSE(t0.contains("executor_tid"));
            CHECK(t0["host_tid"] == 5000);
            CHECK(t0["state"] == "exited");
            const auto& t1 = j["threads"][1];
            CHECK(t1["host_tid"] == 7000);
            CHECK(t1["executor_tid"] == 5001);
            CHECK(t1["syscalls_forwarded"] == 9);
            CHECK(t1["read_faults"] == 4);
            CHECK(j["threads"][2]["host_tid"] == 0);  // not yet known
        }
    }
    GIVEN("a run across hosts") {
        const auto j = nlohmann::json::parse(to_json_text(sample(true)));
        THEN("machines (counters only where reported) and every hot page") {
            REQUIRE(j["machines"].size() == 2);
            const auto& m0 = j["machines"][0];
            CHECK(m0["id"] == 0);
            CHECK(m0["address"] == "127.0.0.1");
            CHECK(m0["port"] == 7400);
            CHECK(m0["threads"] == 1);
            CHECK(m0["bytes_sent"] == 10);
            CHECK(m0["bytes_received"] == 20);
            CHECK(m0["read_faults"] == 3);
            CHECK(m0["write_faults"] == 4);
            CHECK(m0["remote_fetches"] == 5);
            CHECK(m0["state"] == "origin");
            CHECK(m0["processes"] == 3);
            CHECK(j["machines"][1].size() == 6);
            CHECK_FALSE(j["machines"][1].contains("bytes_sent"));
            REQUIRE(j["hot_pages"].size() == 10);
            CHECK(j["hot_pages"][0] == nlohmann::json{{"guest_address", 0x200000}, {"read_faults", 9},
                                                      {"write_faults", 1}, {"invalidations", 2}, {"bytes_sent", 4096}});
        }
        THEN("the placement and each migration with its reason; the thread row counts its moves") {
            CHECK(j["placement"] == "auto");
            REQUIRE(j["migrations"].size() == 1);
            CHECK(j["migrations"][0] == nlohmann::json{{"tid", 101}, {"from", 0}, {"to", 1}, {"at_s", 1.5},
                                                       {"cost_us", 61.5}, {"reason", "shares pages with threads 101,102"}});
            CHECK(j["threads"][1]["migrations"] == 1);
        }
    }
    GIVEN("a string that is not UTF-8") {
        RunReport r = sample(false);
        r.platform_reason = "bad \xff byte";
        THEN("the document is still written") {
            std::string s;
            CHECK_NOTHROW(s = to_json_text(r));
            CHECK(nlohmann::json::accept(s));
        }
    }
}
