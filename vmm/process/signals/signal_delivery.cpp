// Signal delivery into guest handlers (GuestThread's signal half).
//
// Delivery points: after every syscall (before the return to user mode),
// and when KVM_RUN returns EINTR because a sender kicked this vCPU thread
// with the host kick signal (GuestThread::kick_signal). The kick handler sets
// kvm_run->immediate_exit, so a kick that lands while the thread is in VMM
// code makes its next KVM_RUN return at once: no kick is lost.
//
// Syscall restart (kernel handle_signal()): a syscall that returned -EINTR
// because of the kick is restarted (RIP -= 2, RAX = nr) when the handler has
// SA_RESTART and the call is one Linux restarts (ERESTARTSYS): read/write
// family, socket send/recv/accept/connect, wait4, flock, futex wait without
// a timeout. Others (nanosleep, poll, select, epoll_wait, pause, futex wait
// with a timeout) return EINTR, as Linux does with a handler.
#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cpuid.h>
#include <csignal>
#include <atomic>
#include <cstring>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

namespace {

thread_local kvm_run* tl_run = nullptr;

void on_kick(int) {
    if (tl_run) tl_run->immediate_exit = 1;
}

SigRegs from_kvm(const kvm_regs& r) {
    return SigRegs{r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi,
                   r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp, r.rip, r.rflags};
}
void to_kvm(const SigRegs& s, kvm_regs& r) {
    r.r8 = s.r8, r.r9 = s.r9, r.r10 = s.r10, r.r11 = s.r11, r.r12 = s.r12, r.r13 = s.r13, r.r14 = s.r14;
    r.r15 = s.r15, r.rdi = s.rdi, r.rsi = s.rsi, r.rbp = s.rbp, r.rbx = s.rbx, r.rdx = s.rdx, r.rax = s.rax;
    r.rcx = s.rcx, r.rsp = s.rsp, r.rip = s.rip, r.rflags = s.eflags;
}

// Size of the XSAVE image for the guest's XCR0 (standard format): the end
// of the highest enabled component, from CPUID leaf 0xD. 512 (FXSAVE) when
// the guest has no XSAVE.
uint32_t xstate_size(uint64_t xcr0) {
    if (!xcr0) return 512;
    uint32_t size = 576;  // legacy area + XSAVE header
    for (unsigned i = 2; i < 63; ++i) {
        if (!(xcr0 & (1ull << i))) continue;
        unsigned a, b, c, d;
        __cpuid_count(0xD, i, a, b, c, d);
        size = std::max(size, a + b);
    }
    return std::min<uint32_t>(size, kvm::Vcpu::kXsaveBufferSize);
}

bool restartable(uint64_t nr, const kvm_regs& r) {
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

// Whether KVM_GET_XSAVE2 works on this host (-1 unknown). Where it fails
// (seen on PVM, EINVAL), the FPU is saved as FXSAVE through KVM_GET_FPU.
std::atomic<int> g_xsave_ok{-1};

}  // namespace

bool GuestThread::save_fpu(std::vector<uint8_t>& out) {
    if (g_xsave_ok.load() != 0) {
        std::vector<uint8_t> buf(kvm::Vcpu::kXsaveBufferSize);
        if (vcpu_->get_xsave(buf)) {
            g_xsave_ok = 1;
            buf.resize(xstate_size(proc_.machine().cpu_template().xcr0));
            out = std::move(buf);
            return true;
        }
        if (g_xsave_ok.exchange(0) == -1)
            log::debug("KVM_GET_XSAVE2 fails on this host: signal frames save the FPU as FXSAVE (x87/SSE; AVX "
                       "upper halves are not saved across a handler)");
    }
    auto f = vcpu_->get_fpu();
    if (!f) {
        log::error("signal delivery: {}", f.error().message);
        return false;
    }
    FxsaveFields fx{};
    static_assert(sizeof fx.fpr == sizeof f->fpr && sizeof fx.xmm == sizeof f->xmm);
    std::memcpy(fx.fpr, f->fpr, sizeof fx.fpr);
    std::memcpy(fx.xmm, f->xmm, sizeof fx.xmm);
    fx.fcw = f->fcw;
    fx.fsw = f->fsw;
    fx.ftwx = f->ftwx;
    fx.last_opcode = f->last_opcode;
    fx.last_ip = f->last_ip;
    fx.last_dp = f->last_dp;
    fx.mxcsr = f->mxcsr;
    out = fxsave_image(fx);
    return true;
}

bool GuestThread::restore_fpu(uint64_t fpstate) {
    if (g_xsave_ok.load() == 1) {
        const uint32_t xsize = xstate_size(proc_.machine().cpu_template().xcr0);
        const uint8_t* fp = proc_.mem().ptr(fpstate, xsize);
        if (!fp || !fpstate_has_magic(std::span<const uint8_t>(fp, 512), xsize)) return false;
        std::vector<uint8_t> buf(kvm::Vcpu::kXsaveBufferSize);
        // Components beyond the guest's XCR0 image come back as they are now.
        if (!vcpu_->get_xsave(buf)) return false;
        std::memcpy(buf.data(), fp, xsize);
        std::memset(buf.data() + sigframe::kSwBytesOffset, 0, 48);
        return static_cast<bool>(vcpu_->set_xsave(buf));
    }
    const uint8_t* fp = proc_.mem().ptr(fpstate, 512);
    if (!fp) return false;
    const FxsaveFields fx = parse_fxsave(std::span<const uint8_t>(fp, 512));
    kvm_fpu f{};
    std::memcpy(f.fpr, fx.fpr, sizeof fx.fpr);
    std::memcpy(f.xmm, fx.xmm, sizeof fx.xmm);
    f.fcw = fx.fcw;
    f.fsw = fx.fsw;
    f.ftwx = fx.ftwx;
    f.last_opcode = fx.last_opcode;
    f.last_ip = fx.last_ip;
    f.last_dp = fx.last_dp;
    f.mxcsr = fx.mxcsr;
    return static_cast<bool>(vcpu_->set_fpu(f));
}

void GuestThread::bind_kick_target() { tl_run = vcpu_->run_data(); }

int GuestThread::kick_signal() { return SIGRTMIN + 4; }

void GuestThread::install_kick_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking host syscall returns EINTR
    ::sigaction(kick_signal(), &sa, nullptr);
    // A host write to a broken pipe returns EPIPE; the gate turns that into
    // the guest's SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
}

void GuestThread::kick_host_thread(int host_tid) {
    if (host_tid > 0) ::syscall(SYS_tgkill, ::getpid(), host_tid, kick_signal());
}

void GuestThread::deliver_signals(int64_t syscall_nr) {
    SignalTable& st = proc_.signals();
    bool first = true;
    for (int guard = 0; guard <= SignalTable::kMaxSignal && st.deliverable(row_); ++guard) {
        auto d = st.dequeue(row_);
        if (!d) break;
        if (d->act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) continue;
        if (d->act.handler == reinterpret_cast<uint64_t>(SIG_DFL) || d->sig == SIGKILL) {
            if (!SignalTable::default_terminates(d->sig)) continue;
            // SIGPIPE ends `prog | head` quietly, as a shell shows it.
            if (d->sig != SIGPIPE) log::error("guest thread {} killed by SIG{}", row_.tid, sig_name(d->sig));
            proc_.exit_process(128 + d->sig);
        }
        kvm_regs& r = vcpu_->sync_regs();
        if (first && syscall_nr >= 0 && static_cast<int64_t>(r.rax) == -EINTR && (d->act.flags & SA_RESTART) &&
            restartable(static_cast<uint64_t>(syscall_nr), r)) {
            r.rax = static_cast<uint64_t>(syscall_nr);
            r.rip -= 2;  // back onto the `syscall` instruction
        }
        first = false;
        if (!build_handler_frame(d->sig, d->info, d->act)) {
            log::error("guest thread {} killed by SIGSEGV: cannot write the SIG{} frame below RSP {:#x}", row_.tid,
                       sig_name(d->sig), r.rsp);
            proc_.exit_process(128 + SIGSEGV);
        }
    }
    if (suspend_saved_mask_) {  // sigsuspend with no handler run: the old mask returns
        row_.sigmask = *suspend_saved_mask_;
        suspend_saved_mask_.reset();
    }
}

bool GuestThread::build_handler_frame(int sig, const SigInfoFields& info, const KernelSigaction& act) {
    kvm_regs& r = vcpu_->sync_regs();
    const uint64_t xcr0 = proc_.machine().cpu_template().xcr0;
    std::vector<uint8_t> fpu;
    if (!save_fpu(fpu)) return false;
    FrameInput in;
    in.regs = from_kvm(r);
    in.saved_mask = suspend_saved_mask_ ? *suspend_saved_mask_ : row_.sigmask.load();
    in.sig = sig;
    in.info = info;
    in.handler = act.handler;
    in.flags = act.flags;
    in.restorer = act.restorer;
    in.altstack = row_.altstack;
    in.xsave = fpu;
    in.xfeatures = xcr0;
    auto img = build_signal_frame(in);
    if (!img) return false;
    uint8_t* dst = proc_.mem().ptr(img->base, img->bytes.size());
    if (!dst) return false;
    std::memcpy(dst, img->bytes.data(), img->bytes.size());
    to_kvm(img->entry, r);
    vcpu_->mark_regs_dirty();
    uint64_t mask = row_.sigmask.load() | act.mask;
    if (!(act.flags & SA_NODEFER)) mask |= sig_bit(sig);
    row_.sigmask = mask & ~SignalTable::kUnblockable;
    suspend_saved_mask_.reset();
    return true;
}

int64_t GuestThread::sigreturn() {
    kvm_regs& r = vcpu_->sync_regs();
    const uint8_t* uc = proc_.mem().ptr(r.rsp, sigframe::kUcontextSize);
    auto st = uc ? parse_ucontext(std::span<const uint8_t>(uc, sigframe::kUcontextSize), r.r11) : std::nullopt;
    if (!st) {
        log::error("guest thread {} killed by SIGSEGV: rt_sigreturn with a bad frame at RSP {:#x}", row_.tid, r.rsp);
        proc_.exit_process(128 + SIGSEGV);
    }
    if (st->fpstate && !restore_fpu(st->fpstate)) {
        log::error("guest thread {} killed by SIGSEGV: rt_sigreturn with a bad FPU state at {:#x}", row_.tid,
                   st->fpstate);
        proc_.exit_process(128 + SIGSEGV);
    }
    // The frame's flags are merged with the user flags at the syscall (R11).
    to_kvm(st->regs, r);
    r.rflags |= 0x2;  // reserved bit 1
    vcpu_->mark_regs_dirty();
    row_.sigmask = st->mask & ~SignalTable::kUnblockable;
    set_regs_replaced();
    return 0;
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
    }
    row_.state = ThreadState::blocked;
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, kick_signal());
    while (!st.deliverable(row_)) ::ppoll(nullptr, 0, nullptr, &wait_mask);
    row_.state = ThreadState::in_syscall;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return -EINTR;
}

}  // namespace spanvm::process
