// Process: routing a guest signal to a thread (Linux's complete_signal and
// retarget_shared_pending): the post, the choice of the thread that takes a
// process-directed signal, and the kick that brings it there. Delivery into
// a handler is the thread's own (signals/signal_delivery.cpp).
#include <unistd.h>

#include "vmm/platform/platform.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

int64_t Process::send_signal(GuestThread* self, int sig, int tid, SigInfoFields info) {
    if (sig < 0 || sig > SignalTable::kMaxSignal) return -EINVAL;
    ThreadRow* target = nullptr;
    if (tid != 0) {
        target = threads_.find_live(tid);
        if (!target) return -ESRCH;
    }
    if (sig == 0) return 0;
    // Linux drops an ignored signal at once unless the target blocks it (its
    // action may change before it is unblocked).
    const bool blocked = target ? (target->sigmask.load() & sig_bit(sig)) != 0 : !shared_taker(self, sig);
    if (signals_.ignored(sig) && !blocked) return 0;
    // A signal already pending merges (as on Linux) or queues behind it
    // (real-time) and needs no new kick: the one sent when it became pending
    // still brings it, and the next instance stays pending after it. The kick is a
    // queued real-time host signal delivered nested (SA_NODEFER), so a
    // fast timer (setitimer) kicking a descheduled thread at every expiry
    // would otherwise pile up one signal frame per expiry on its sigaltstack.
    const SignalTable::Posted posted = signals_.post(target, sig, info);
    if (posted == SignalTable::Posted::full) return -EAGAIN;
    const bool fresh = posted == SignalTable::Posted::fresh;
    if (!signal_fds_.empty()) signal_fds_.notify(sig);  // a signalfd polls readable (signal_fd.hpp)
    // Process-directed: the taker is chosen from the masks read *after* the
    // post (every access seq_cst). A thread unblocking the signal stores its
    // mask and then tests pending (deliverable()): either that test sees the
    // post, or this read sees the new mask and kicks it. Chosen before the
    // post, a thread that unblocked in between found nothing pending and was
    // not kicked, and later expiries merged into the stranded signal: a
    // setitimer SIGALRM never reached a worker in a pass-through loop.
    ThreadRow* kick = target ? target : shared_taker(self, sig);
    if (fresh && kick) kick_row(self, *kick);
    return 0;
}

void Process::post_timer_signal(int id, const PosixTimers::Event& ev, int overrun) {
    if (ev.signo == 0) return;  // SIGEV_NONE
    SigInfoFields info;
    info.code = SI_TIMER;
    info.timer = true;
    info.timer_id = id;
    info.overrun = overrun;
    info.value = ev.value;
    // A thread-directed timer whose thread has ended sends nothing, as on
    // Linux (ESRCH here).
    (void)send_signal(nullptr, ev.signo, ev.tid, info);
}

ThreadRow* Process::shared_taker(GuestThread* self, int sig) {
    // Linux's complete_signal() preference: the sender first, then the first
    // thread that does not block it.
    if (self && !(self->row().sigmask.load() & sig_bit(sig))) return &self->row();
    for (ThreadRow* r : threads_.live_rows())
        if (!(r->sigmask.load() & sig_bit(sig))) return r;
    return nullptr;
}

void Process::kick_row(GuestThread* self, ThreadRow& row) {
    if (self && &row == &self->row()) return;  // delivered on the way out of its own call
    platform::Platform::kick_host_thread(row.host_tid);
    futexes_.interrupt(row.tid);
    const unsigned at = row.node_id.load();
    if (at != 0 && cfg_.remote) cfg_.remote->kick(at, row.tid);
}

void Process::mask_changed(GuestThread& self, uint64_t old_mask) {
    // Linux's retarget_shared_pending(): signals pending for the process that
    // this thread now blocks go to a thread that can take them, which may
    // have had no kick (the post kicked this one). self stored its new mask
    // before this read of the pending set (see send_signal).
    const uint64_t now_blocked = self.row().sigmask.load() & ~old_mask;
    const uint64_t stranded = signals_.shared_pending() & now_blocked;
    for (int sig = 1; sig <= SignalTable::kMaxSignal; ++sig) {
        if (!(stranded & sig_bit(sig))) continue;
        if (ThreadRow* r = shared_taker(nullptr, sig)) kick_row(&self, *r);
    }
}

// A thread's CPU clock (clock_gettime, a CPU-time timer) names its host thread.
int Process::host_tid_of(int tid) {
    ThreadRow* row = threads_.find_live(tid);
    if (!row || row->node_id.load() != 0) return -1;
    // A thread the guest's clone just made has a tid before its host thread
    // runs and writes host_tid (GuestThread::run): wait for it, as Linux's
    // task exists once clone returns. At most ~1 s.
    for (int i = 0; i < 10000; ++i) {
        if (const int h = __atomic_load_n(&row->host_tid, __ATOMIC_ACQUIRE); h > 0) return h;
        if (row->state.load() == ThreadState::exited) return -1;
        ::usleep(100);
    }
    return -1;
}

}  // namespace spanvm::process
