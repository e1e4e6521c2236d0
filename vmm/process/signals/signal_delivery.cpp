// Signal delivery into guest handlers (GuestThread's signal half).
//
// Delivery points: after every syscall (before the return to user mode),
// and when the vCPU returns `interrupted` because a sender kicked this
// thread with the host kick signal (GuestThread::kick_signal). A kick that
// lands while the thread is in VMM code makes its next run() return at
// once (platform contract): no kick is lost. CPU exceptions in guest code
// arrive here too (handle_exception), as forced signals.
//
// Syscall restart (kernel handle_signal()): a syscall that returned -EINTR
// because of the kick is restarted (RIP -= 2, RAX = nr) when the handler has
// SA_RESTART and the call is one Linux restarts (ERESTARTSYS): read/write
// family, socket send/recv/accept/connect, wait4, flock, futex wait without
// a timeout. Others (nanosleep, poll, select, epoll_wait, pause, futex wait
// with a timeout) return EINTR, as Linux does with a handler.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <array>
#include <atomic>
#include <cstring>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/base/self_pid.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"

namespace spanvm::process {

namespace {

SigRegs from_regs(const platform::Regs& r) {
    return SigRegs{r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi,
                   r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp, r.rip, r.rflags};
}
void to_regs(const SigRegs& s, platform::Regs& r) {
    r.r8 = s.r8, r.r9 = s.r9, r.r10 = s.r10, r.r11 = s.r11, r.r12 = s.r12, r.r13 = s.r13, r.r14 = s.r14;
    r.r15 = s.r15, r.rdi = s.rdi, r.rsi = s.rsi, r.rbp = s.rbp, r.rbx = s.rbx, r.rdx = s.rdx, r.rax = s.rax;
    r.rcx = s.rcx, r.rsp = s.rsp, r.rip = s.rip, r.rflags = s.eflags;
}

bool restartable(uint64_t nr, const platform::Regs& r) {
    switch (nr) {
        case SYS_read: case SYS_readv: case SYS_write: case SYS_writev: case SYS_pread64: case SYS_pwrite64:
        case SYS_recvfrom: case SYS_recvmsg: case SYS_sendto: case SYS_sendmsg: case SYS_accept: case SYS_accept4:
        case SYS_connect: case SYS_wait4: case SYS_flock: case SYS_openat: case SYS_open:
            return true;
        case SYS_futex: {
            const int cmd = static_cast<int>(r.rsi) & FUTEX_CMD_MASK;
            return (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && r.r10 == 0;
        }
        default:
            return false;
    }
}

const char* sig_name(int sig) { return sigabbrev_np(sig) ? sigabbrev_np(sig) : "?"; }

}  // namespace

bool GuestThread::restore_fpu(uint64_t fpstate) {
    const uint32_t xsize = proc_.platform().cpu().xstate_size;
    const uint8_t* fp = proc_.mem().ptr(fpstate, 512);
    if (!fp) return false;
    // A frame with the XSAVE magic carries the whole image; without it only
    // the legacy (FXSAVE) area counts, as in Linux's fpu__restore_sig().
    if (xsize > 512 && fpstate_has_magic(std::span<const uint8_t>(fp, 512), xsize)) {
        const uint8_t* full = proc_.mem().ptr(fpstate, xsize);
        if (!full) return false;
        return static_cast<bool>(vcpu_->restore_fpu(std::span<const uint8_t>(full, xsize)));
    }
    return static_cast<bool>(vcpu_->restore_fpu(std::span<const uint8_t>(fp, 512)));
}

void GuestThread::deliver_signals(int64_t syscall_nr) {
    SignalTable& st = proc_.signals();
    bool first = true;
    for (int guard = 0; guard <= SignalTable::kMaxSignal && st.deliverable(row_); ++guard) {
        auto d = st.dequeue(row_);
        if (!d) break;
        if (d->act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) continue;
        if (d->sig == SIGSTOP || (d->act.handler == reinterpret_cast<uint64_t>(SIG_DFL) &&
                                  SignalTable::default_stops(d->sig))) {
            stop_process(d->sig);
            continue;
        }
        if (d->act.handler == reinterpret_cast<uint64_t>(SIG_DFL) || d->sig == SIGKILL) {
            if (!SignalTable::default_terminates(d->sig)) continue;
            // SIGPIPE ends `prog | head` quietly, as a shell shows it; a
            // forked process ends quietly too (its parent sees the status).
            if (d->sig != SIGPIPE && proc_.is_root()) log::error("guest thread {} killed by SIG{}", row_.tid, sig_name(d->sig));
            proc_.exit_process_signal(d->sig);
        }
        platform::Regs& r = vcpu_->regs();
        if (first && syscall_nr >= 0 && static_cast<int64_t>(r.rax) == -EINTR && (d->act.flags & SA_RESTART) &&
            restartable(static_cast<uint64_t>(syscall_nr), r)) {
            r.rax = static_cast<uint64_t>(syscall_nr);
            r.rip -= 2;  // back onto the `syscall` instruction
        }
        first = false;
        if (!build_handler_frame(d->sig, d->info, d->act)) {
            log::error("guest thread {} killed by SIGSEGV: cannot write the SIG{} frame below RSP {:#x}", row_.tid,
                       sig_name(d->sig), r.rsp);
            proc_.exit_process_signal(SIGSEGV);
        }
    }
    if (suspend_saved_mask_) {  // sigsuspend with no handler run: the old mask returns
        row_.sigmask = *suspend_saved_mask_;
        suspend_saved_mask_.reset();
    }
}

void GuestThread::stop_process(int sig) {
    // The host process stops, every thread of it, with `sig` as its stop
    // signal (what the parent's waitpid(WUNTRACED) reports), until a host
    // SIGCONT, which the forwarder then also brings to the guest. The
    // signal is sent to this thread with the host's default action and
    // unblocked here, so the kernel stops the process on the way out of
    // the unblocking call; spanvm's own threads have it blocked.
    // Departure: threads of the process on other nodes do not stop.
    const uint64_t continues = proc_.host_continues();
    if (sig == SIGSTOP) {
        (void)::syscall(SYS_tgkill, self_pid(), ::syscall(SYS_gettid), SIGSTOP);
        proc_.continued(*this, continues);
        return;
    }
    struct sigaction dfl {}, old_act {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, &old_act);
    sigset_t one, prev;
    sigemptyset(&one);
    sigaddset(&one, sig);
    (void)::syscall(SYS_tgkill, self_pid(), ::syscall(SYS_gettid), sig);
    ::pthread_sigmask(SIG_UNBLOCK, &one, &prev);
    ::pthread_sigmask(SIG_SETMASK, &prev, nullptr);
    ::sigaction(sig, &old_act, nullptr);
    proc_.continued(*this, continues);
}

bool GuestThread::build_handler_frame(int sig, const SigInfoFields& info, const KernelSigaction& act) {
    platform::Regs& r = vcpu_->regs();
    const uint64_t xcr0 = proc_.platform().cpu().xcr0;
    auto fpu = vcpu_->save_fpu();
    if (!fpu) {
        log::error("signal delivery: {}", fpu.error().message);
        return false;
    }
    FrameInput in;
    in.regs = from_regs(r);
    in.saved_mask = suspend_saved_mask_ ? *suspend_saved_mask_ : row_.sigmask.load();
    in.sig = sig;
    in.info = info;
    in.handler = act.handler;
    in.flags = act.flags;
    in.restorer = act.restorer;
    in.altstack = row_.altstack;
    in.xsave = *fpu;
    in.xfeatures = xcr0;
    auto img = build_signal_frame(in);
    if (!img) return false;
    uint8_t* dst = proc_.mem().wptr(img->base, img->bytes.size());
    if (!dst) return false;
    std::memcpy(dst, img->bytes.data(), img->bytes.size());
    to_regs(img->entry, r);
    vcpu_->mark_regs_dirty();
    const uint64_t old_mask = row_.sigmask.load();
    uint64_t mask = old_mask | act.mask;
    if (!(act.flags & SA_NODEFER)) mask |= sig_bit(sig);
    row_.sigmask = mask & ~SignalTable::kUnblockable;
    proc_.mask_changed(*this, old_mask);
    suspend_saved_mask_.reset();
    // SS_AUTODISARM: disabled while the handler runs (the frame's uc_stack
    // holds it for rt_sigreturn), so it may switch stacks (swapcontext)
    // and take another signal on the alternate stack anew.
    if (row_.altstack.flags & kSsAutodisarm) row_.altstack = AltStack{};
    return true;
}

int64_t GuestThread::sigreturn() {
    platform::Regs& r = vcpu_->regs();
    const uint8_t* uc = proc_.mem().ptr(r.rsp, sigframe::kUcontextSize);
    auto st = uc ? parse_ucontext(std::span<const uint8_t>(uc, sigframe::kUcontextSize), r.r11) : std::nullopt;
    if (!st) {
        log::error("guest thread {} killed by SIGSEGV: rt_sigreturn with a bad frame at RSP {:#x}", row_.tid, r.rsp);
        proc_.exit_process_signal(SIGSEGV);
    }
    if (st->fpstate && !restore_fpu(st->fpstate)) {
        log::error("guest thread {} killed by SIGSEGV: rt_sigreturn with a bad FPU state at {:#x}", row_.tid,
                   st->fpstate);
        proc_.exit_process_signal(SIGSEGV);
    }
    // The frame's flags are merged with the user flags at the syscall (R11).
    to_regs(st->regs, r);
    r.rflags |= 0x2;  // reserved bit 1
    vcpu_->mark_regs_dirty();
    const uint64_t old_mask = row_.sigmask.load();
    row_.sigmask = st->mask & ~SignalTable::kUnblockable;
    proc_.mask_changed(*this, old_mask);
    // Linux's restore_altstack: the frame's uc_stack becomes the alternate
    // stack again (what a handler changed is undone, an SS_AUTODISARM one
    // re-armed), unless the thread is on the current one (EPERM) or the
    // saved one is not valid; those errors are ignored, as Linux does.
    const AltStack& cur = row_.altstack;
    const bool on = !(cur.flags & SS_DISABLE) && r.rsp > cur.sp && r.rsp - cur.sp <= cur.size;
    if (AltStack next; !on && checked_altstack(st->uc_stack, next) == 0) row_.altstack = next;
    set_regs_replaced();
    return 0;
}

bool GuestThread::wait_with_sigmask(const SyscallRequest& r, int64_t& ret) {
    // Every wait of the poll family takes this path, with the guest's mask
    // of the call or, without one (poll, select, epoll_wait, or a NULL
    // mask), the thread's own: the kick stays blocked from the test of
    // what is deliverable to the host call, which unblocks it atomically.
    // A kick that lands before the host call then ends it at once; without
    // this it ran the host's signal handler in spanvm's code and the wait
    // began after it, missing the signal (cmake's SIGCHLD pipe, waited on
    // with pselect, hung for good).
    uint64_t mask_addr = 0, mask_size = 0;
    switch (r.nr) {
        case SYS_ppoll: mask_addr = r.args[3], mask_size = r.args[4]; break;
        case SYS_epoll_pwait: case SYS_epoll_pwait2: mask_addr = r.args[4], mask_size = r.args[5]; break;
        case SYS_pselect6: {
            if (!r.args[5]) break;
            auto pair = proc_.mem().read<std::array<uint64_t, 2>>(r.args[5]);
            if (!pair) return ret = -EFAULT, true;
            mask_addr = (*pair)[0], mask_size = (*pair)[1];
            break;
        }
        case SYS_poll: case SYS_select: case SYS_epoll_wait: break;
        default: return false;
    }
    const uint64_t saved = row_.sigmask.load();
    uint64_t mask = saved;
    if (mask_addr) {
        if (mask_size != 8) return ret = -EINVAL, true;
        auto m = proc_.mem().read<uint64_t>(mask_addr);
        if (!m) return ret = -EFAULT, true;
        mask = *m & ~SignalTable::kUnblockable;
    }
    SignalTable& st = proc_.signals();
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, kick_signal());
    ::pthread_sigmask(SIG_BLOCK, &block, &old);  // as in wait_for_signal
    if (mask != saved) {
        row_.sigmask = mask;
        proc_.mask_changed(*this, saved);
    }
    if (st.deliverable(row_)) {
        ret = -EINTR;
    } else {
        sigset_t wait_mask = old;
        sigdelset(&wait_mask, kick_signal());
        set_host_wait_mask(&wait_mask);
        ret = host_syscall(proc_.host_ctx(), r.nr, r.args);
        set_host_wait_mask(nullptr);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (mask == saved) return true;
    if (ret == -EINTR && st.deliverable(row_))
        suspend_saved_mask_ = saved;  // the frame saves it; restored after the handler
    else
        row_.sigmask = saved;
    return true;
}

int64_t GuestThread::wait_for_signal(std::optional<uint64_t> suspend_mask) {
    SignalTable& st = proc_.signals();
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, kick_signal());
    // Kick blocked from the test to ppoll, which unblocks it atomically:
    // a kick in between stays pending and ends ppoll at once.
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    if (suspend_mask) {
        suspend_saved_mask_ = row_.sigmask.load();
        row_.sigmask = *suspend_mask & ~SignalTable::kUnblockable;
        proc_.mask_changed(*this, *suspend_saved_mask_);
    }
    row_.state = ThreadState::blocked;
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, kick_signal());
    while (!st.deliverable(row_) && !row_.end_requested.load()) ::ppoll(nullptr, 0, nullptr, &wait_mask);
    row_.state = ThreadState::in_syscall;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return -EINTR;
}

int64_t GuestThread::take_signal(uint64_t set, std::optional<std::chrono::nanoseconds> timeout, uint64_t info_gva) {
    SignalTable& st = proc_.signals();
    set &= ~SignalTable::kUnblockable;  // SIGKILL and SIGSTOP cannot be waited for (Linux drops them)
    auto taken = [&](const SignalTable::Dequeued& d) -> int64_t {
        if (info_gva && !proc_.mem().write(info_gva, encode_siginfo(d.sig, d.info))) return -EFAULT;
        return d.sig;
    };
    if (auto d = st.take(row_, set)) return taken(*d);
    if (timeout && timeout->count() <= 0) return -EAGAIN;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, kick_signal());
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    const uint64_t saved = row_.sigmask.load();
    row_.sigmask = saved & ~set;
    row_.state = ThreadState::blocked;
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, kick_signal());
    const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::nanoseconds{0});
    while (!st.deliverable(row_) && !row_.end_requested.load()) {
        if (!timeout) {
            ::ppoll(nullptr, 0, nullptr, &wait_mask);
            continue;
        }
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left.count() <= 0) break;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        ::ppoll(nullptr, 0, &ts, &wait_mask);
    }
    row_.sigmask = saved;
    proc_.mask_changed(*this, saved & ~set);
    row_.state = ThreadState::in_syscall;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (auto d = st.take(row_, set)) return taken(*d);
    return st.deliverable(row_) ? -EINTR : -EAGAIN;
}

bool GuestThread::read_signalfd(const SyscallRequest& r, int64_t& ret) {
    if (r.nr != SYS_read || proc_.signal_fds().empty()) return false;
    const FdRef f = proc_.fds().acquire(static_cast<int>(r.args[0]));
    if (!f || !f->signalfd()) return false;
    const SignalFd& sfd = *f->signalfd();
    const uint64_t count = r.args[2];
    if (count < kSignalfdSiginfoSize) return ret = -EINVAL, true;
    SignalTable& st = proc_.signals();
    for (;;) {
        uint64_t n = 0;
        while (n + kSignalfdSiginfoSize <= count) {
            auto d = st.take(row_, sfd.mask());
            if (!d) break;
            if (!proc_.mem().write(r.args[1] + n, encode_signalfd_siginfo(d->sig, d->info)))
                return ret = n ? static_cast<int64_t>(n) : -EFAULT, true;
            n += kSignalfdSiginfoSize;
        }
        // Readiness off only when nothing of the mask is left; a post after
        // this test notifies after it, so the eventfd never stays clear
        // with a signal pending (the test below catches one that came
        // between the test and the clear).
        if (!(st.pending(row_) & sfd.mask())) sfd.clear();
        if (n) return ret = static_cast<int64_t>(n), true;
        if (st.pending(row_) & sfd.mask()) continue;
        const int fl = ::fcntl(f->fd(), F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK)) return ret = -EAGAIN, true;
        // Blocking: until a notify, or a kick for a signal to deliver
        // (EINTR, restarted after a SA_RESTART handler as a read is).
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, kick_signal());
        ::pthread_sigmask(SIG_BLOCK, &block, &old);
        sigset_t wait_mask = old;
        sigdelset(&wait_mask, kick_signal());
        row_.state = ThreadState::blocked;
        pollfd p{sfd.notify_fd(), POLLIN, 0};
        while (!st.deliverable(row_) && !(st.pending(row_) & sfd.mask()) && !row_.end_requested.load()) {
            p.revents = 0;
            if (::ppoll(&p, 1, nullptr, &wait_mask) == 1 && (p.revents & POLLIN)) break;
        }
        row_.state = ThreadState::in_syscall;
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if ((st.deliverable(row_) || row_.end_requested.load()) && !(st.pending(row_) & sfd.mask()))
            return ret = -EINTR, true;
    }
}

}  // namespace spanvm::process
