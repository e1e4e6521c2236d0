// dsm_sim: runs the DSM protocol simulator for a range of seeds.
//   dsm_sim --seed 1 --count 1000 --nodes 3 --pages 2 --steps 400
// A failing seed prints its reproduction command and the run exits 1.
// --expect-failure inverts the verdict (for the deliberately broken --bug
// variants): exit 0 only if some seed fails.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tests/sim/seed_loop.hpp"
#include "tests/sim/sim_cluster.hpp"

int main(int argc, char** argv) {
  // Each seed builds and frees a whole simulated cluster. With glibc's
  // defaults the freed top of the heap is trimmed and regrown every seed
  // (two brk per seed, and every page zero-filled again by the kernel):
  // 35 s instead of 4.5 s for runs_3n3p on a loaded 2-core host, where the
  // test's 120 s timeout was then reached (fresh-clone CI, 2026-12-05).
  // Keep the heap instead.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
    using namespace spanvm::dsm;
    sim::SimConfig cfg;
    std::uint64_t count = 1;
    std::string bug = "none";
    bool expect_failure = false;
    bool quiet = false;
    CLI::App app{"deterministic simulator for the spanvm DSM coherence protocol"};
    app.add_option("--seed", cfg.seed, "first seed");
    app.add_option("--count", count, "number of consecutive seeds to run")->check(CLI::Range(1ull, 100000000ull));
    app.add_option("--nodes", cfg.nodes, "nodes")->check(CLI::Range(1u, 64u));
    app.add_option("--pages", cfg.pages, "pages")->check(CLI::Range(1u, 4096u));
    app.add_option("--words", cfg.words, "4-byte words per page")->check(CLI::Range(1u, 1024u));
    app.add_option("--threads", cfg.threads, "threads per node")->check(CLI::Range(1u, 64u));
    app.add_option("--steps", cfg.steps, "steps during which operations are issued");
    app.add_option("--hold", cfg.hold_ns, "minimum hold time (simulated ns)");
    app.add_option("--home", cfg.home, "home policy: interleave | node:K");
    app.add_flag("--initial-owner", cfg.initial_owner, "node 0 starts owning every page");
    app.add_flag("--dynamic-homes", cfg.dynamic_homes, "homes hand pages over (random moves, migration rule)");
    app.add_option("--migrate", cfg.migrate, "migration threshold: requests in a row from one node (0 = off)");
    app.add_flag("--runs", cfg.runs, "nodes also ask for random stretches of pages as runs (request_ahead)");
    app.add_flag("--claims", cfg.claims, "requests from Invalid are sent as first-use claims at random (needs --dynamic-homes)");
    app.add_option("--claim-chunk", cfg.claim_chunk, "pages of the aligned chunk a claim hands over")->check(CLI::Range(1u, 4096u));
    app.add_flag("--fill", cfg.fill, "never-written data is a per-page filler every node produces itself, not zero");
    app.add_flag("--ride", cfg.ride, "2 nodes: node 0 maps a file over pristine pages during the run; node 1's fill is held until it first starts");
    app.add_flag("--link-fill", cfg.link_fill, "with --ride: node 1 runs from the start; node 0's fill reaches it as a packet on their FIFO channel, unacked");
    app.add_flag("--discard", cfg.discard, "homes discard pages at random: a page only its home holds is dropped and pristine again (needs --dynamic-homes)");
    app.add_option("--bug", bug, "deliberate protocol bug: none|skip-invalidate-ack|ack-without-drop|skip-done-wait|ignore-acks|skip-move-acks|lose-moved-requests|run-ignores-busy|claim-zero-shared|fill-other-file|ride-in-flight|ride-late|fill-after-ask|reclaim-shared");
    app.add_flag("--expect-failure", expect_failure, "succeed only if some seed fails");
    app.add_flag("--quiet", quiet, "print only failures");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    auto f = parse_fault_injection(bug);
    if (!f) {
        std::fprintf(stderr, "dsm_sim: unknown --bug '%s'\n", bug.c_str());
        return 2;
    }
    cfg.bug = *f;
    if (auto h = HomePolicy::parse(cfg.home, cfg.nodes); !h) {
        std::fprintf(stderr, "dsm_sim: %s\n", h.error().message.c_str());
        return 2;
    }

    std::uint64_t ops = 0, steps = 0, msgs = 0, faults = 0, moves = 0, run_pages = 0, refusals = 0, claims = 0,
                  pages_claimed = 0, maps = 0, reclaims = 0;
    const int rc = spanvm::sim::run_seeds("dsm_sim", cfg.seed, count, expect_failure, bug,
                                  [&](std::uint64_t seed) -> std::optional<spanvm::sim::SeedFailure> {
                                      cfg.seed = seed;
                                      sim::SimResult r = sim::run_simulation(cfg);
                                      ops += r.ops_completed;
                                      steps += r.steps;
                                      msgs += r.messages;
                                      faults += r.faults;
                                      moves += r.moves;
                                      run_pages += r.run_pages;
                                      refusals += r.refusals;
                                      claims += r.claims;
                                      pages_claimed += r.pages_claimed;
                                      maps += r.maps;
                                      reclaims += r.reclaims;
                                      if (r.ok) return std::nullopt;
                                      return spanvm::sim::SeedFailure{r.failure, sim::repro_command(cfg)};
                                  });
    if (rc != 0 || expect_failure) return rc;
    if (!quiet) {
        fmt::print("dsm_sim: {} seeds ok ({} nodes, {} pages): {} steps, {} ops, {} faults, {} messages, {} home moves\n",
                   count, cfg.nodes, cfg.pages, steps, ops, faults, msgs, moves);
        if (cfg.runs) fmt::print("dsm_sim: {} pages asked for in runs, {} refused\n", run_pages, refusals);
        if (cfg.claims) fmt::print("dsm_sim: {} claims granted, {} pages claimed\n", claims, pages_claimed);
        if (cfg.ride) fmt::print("dsm_sim: {} pages mapped from a file\n", maps);
        if (cfg.discard) fmt::print("dsm_sim: {} pages discarded and made pristine again\n", reclaims);
    }
    return 0;
}
