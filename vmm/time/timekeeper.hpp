#pragma once
// Timekeeper: keeps the guest's vvar record (guest-shim/vdso/vvar.h) on the
// host's clocks. At start it measures the TSC rate against the host clocks
// (CPUID leaf 0x15 when it states the frequency exactly, else a ~20 ms
// calibration) and publishes the first record; then a background thread
// re-anchors the record every `period`: it samples the host's
// CLOCK_MONOTONIC / MONOTONIC_RAW / REALTIME / BOOTTIME against the TSC,
// estimates each clock's rate over the last few seconds, and steers the
// guest clocks onto the host's with the pure rules of vdso_time.hpp (slew,
// forward-only step), so guest-visible monotonic time never goes backwards
// and stays within microseconds of the host's (timeouts the guest passes to
// host syscalls use the host's clocks).
//
// The guest reads the TSC itself, so this relies on guest TSC == host TSC
// (no TSC offset or scaling) and an invariant TSC; start() refuses a host
// without an invariant TSC.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "guest-shim/vdso/vvar.h"
#include "vmm/base/result.hpp"
#include "vmm/time/vdso_time.hpp"

namespace spanvm::time {

class Timekeeper {
public:
    // `vvar` is the host view of the guest's vvar page; it must stay mapped
    // for the Timekeeper's lifetime. The Timekeeper is its only writer.
    // Without CPUID leaf 0x15 the TSC rate is calibrated over at least 3 ms
    // from a first sample: `baseline` (taken when the process started, so
    // the wait overlaps its start-up) or one taken here, in which case
    // start() sleeps the 3 ms; unless `rate_from` (a stopped Timekeeper of
    // the same host, execve's previous image) gives its measured rate and
    // history.
    struct Baseline {
        ClockSample clock[SPANVM_VVAR_NCLOCKS];
    };
    static Baseline take_baseline();
    static Result<std::unique_ptr<Timekeeper>> start(spanvm_vvar* vvar,
                                                     std::chrono::milliseconds period = kDefaultPeriod,
                                                     const Timekeeper* rate_from = nullptr,
                                                     const Baseline* baseline = nullptr);
    ~Timekeeper();  // stops and joins the update thread
    // Stops and joins the update thread: no more writes to the record; the
    // rate history stays (for start()'s rate_from).
    void stop();

    static constexpr std::chrono::milliseconds kDefaultPeriod{100};
    Timekeeper(const Timekeeper&) = delete;
    Timekeeper& operator=(const Timekeeper&) = delete;

    uint64_t tsc_hz() const { return tsc_hz_; }

    // fork (Process::fork_process): the parent holds the update lock across
    // the host fork(), so the child's copy of the record is never half
    // published (update() runs under it).
    std::mutex& fork_mutex() { return mu_; }
    // execve: the old image's record goes away. detach() returns once no
    // write to it is in flight and none follows; the update thread keeps
    // running, idle. attach() publishes a first record on the new image's
    // page from this one's rate window (no calibration) and resumes the
    // updates there: one thread for the process's whole life, where a stop
    // and a start cost a thread join and a thread start per exec.
    void detach();
    Result<void> attach(spanvm_vvar* vvar);
    // In the child of a fork, with fork_mutex() still held: a Timekeeper that
    // goes on writing the same record (the child's copy) with this one's
    // rate and history. This one's thread did not come along, so this object
    // must be leaked, never destroyed (its destructor would join it).
    // The new one is *driven*: it has no thread of its own, and its owner
    // calls tick() every period() (a forked process's signal forwarder does,
    // between signals: one helper thread per forked process, not two; a
    // thread's start cost ~0.15-0.6 ms of CPU per fork on the 2-core host).
    std::unique_ptr<Timekeeper> continue_in_child() const;
    // A driven Timekeeper's re-anchoring (a no-op while detached); from any
    // one thread, under mu_.
    void tick();
    std::chrono::milliseconds period() const { return period_; }

private:
    Timekeeper(spanvm_vvar* vvar, std::chrono::milliseconds period) : vvar_(vvar), period_(period) {}
    void loop(std::stop_token st);
    void update();  // one re-anchoring; the update thread or tick(), under mu_
    // Publishes a first record on vvar_ from hist_ extended by a sample now
    // (start() with rate_from, attach()); false when the window says nothing.
    bool publish_from_history();

    static constexpr int kHistory = 50;  // rate window: kHistory * period

    // Recent host samples per record clock, oldest first: the rate window.
    struct Samples {
        std::deque<ClockSample> clock[SPANVM_VVAR_NCLOCKS];
    };
    spanvm_vvar* vvar_;
    std::chrono::milliseconds period_;
    uint64_t tsc_hz_ = 0;
    std::unique_ptr<Samples> hist_;  // touched under mu_ only (after start)
    bool driven_ = false;            // no thread: tick() re-anchors (continue_in_child)
    std::mutex mu_;
    std::condition_variable_any cv_;
    std::jthread thread_;  // last: stops first
};

}  // namespace spanvm::time
