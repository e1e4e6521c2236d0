// Guest entry and exit of the native platform (see native_vcpu.hpp).
//
// Entry (spanvm_native_enter): save the host's callee-saved registers and
// RSP in the NativeContext, mark in_guest, honour a pending kick, switch the
// FS base to the guest's, then load the guest registers. FS is switched with
// WRFSBASE where the kernel keeps it across context switches (AT_HWCAP2
// FSGSBASE and spanvm_native_fsgsbase_selftest, ctx->wrfsbase = 1; 8 ns)
// and with arch_prctl(ARCH_SET_FS) otherwise (3.4 us on the 2-core CI VM,
// whose kernel loses a WRFSBASE value at the next switch; platform notes):
//   fast: XRSTOR the FPU image (or, after a patched site's lite save, load
//         the vector registers and MXCSR; native_context.hpp fpu_live),
//         POPFQ RFLAGS on the host stack, load the
//         GPRs, RSP last but RCX/R11, and JMP *%rcx. Only valid when the guest
//         wants RCX == RIP and R11 == RFLAGS, i.e. right after a syscall,
//         which leaves them so on Linux too.
//   full: rt_sigreturn from a frame the C++ side built: restores every
//         register, RFLAGS and the FPU in one system call.
// Exit (spanvm_native_signal_entry, on the sigaltstack): SIGSYS from Syscall
// User Dispatch, a CPU exception, or a kick. If in_guest, switch FS back to
// the host's, call spanvm_native_on_guest_signal (C++) to capture the guest
// state from the ucontext, then unwind to spanvm_native_enter's caller with
// the host's registers; the kernel's frame on the sigaltstack is abandoned
// (SA_NODEFER, so no signal stays blocked). If not in_guest, tail-call
// spanvm_native_on_host_signal (kicks to host code, faults in the VMM).
// The syscalls here come from spanvm's text, outside the guest range, so
// Syscall User Dispatch lets them through.

#define CTX_HOST_RSP 0
#define CTX_HOST_FS 8
#define CTX_GUEST_FS 16
#define CTX_IN_GUEST 24
#define CTX_KICK_PENDING 28
#define CTX_FRAME_UC 32
#define CTX_WRFSBASE 56
#define CTX_REGS 64
#define R_RAX (CTX_REGS + 0)
#define R_RBX (CTX_REGS + 8)
#define R_RCX (CTX_REGS + 16)
#define R_RDX (CTX_REGS + 24)
#define R_RSI (CTX_REGS + 32)
#define R_RDI (CTX_REGS + 40)
#define R_RSP (CTX_REGS + 48)
#define R_RBP (CTX_REGS + 56)
#define R_R8 (CTX_REGS + 64)
#define R_R9 (CTX_REGS + 72)
#define R_R10 (CTX_REGS + 80)
#define R_R11 (CTX_REGS + 88)
#define R_R12 (CTX_REGS + 96)
#define R_R13 (CTX_REGS + 104)
#define R_R14 (CTX_REGS + 112)
#define R_R15 (CTX_REGS + 120)
#define R_RIP (CTX_REGS + 128)
#define R_RFLAGS (CTX_REGS + 136)
#define CTX_EXIT_CODE 212
#define CTX_SELF 248
#define CTX_XSAVE 256
#define CTX_FPU_LITE 60
#define CTX_FPU_LIVE 17664
#define CTX_LITE_MXCSR 17668
#define CTX_LITE 17728
#define RFLAGS_TF_AC 0x40100
#define PATCHED_SITE_CODE 0x1002   // kPatchedSiteCode
#define PASSTHROUGH_DONE_CODE 0x1003   // kPassthroughDoneCode
#define CTX_PASSTHROUGH 18240
#define CTX_PASSTHROUGH_COUNT 18256
#define PASSTHROUGH_NR_LIMIT 128   // kPassthroughNrLimit
#define SIGSYS 31
#define RFLAGS_CLEAN 0x202
#define UC_SS_SP 16
#define UC_SS_FLAGS 24
#define ALT_STACK_MAGIC 0x5350414e414c5453
#define SYS_rt_sigreturn 15
#define SYS_arch_prctl 158
#define ARCH_SET_FS 0x1002
#define SYS_nanosleep 35

    .text
    .globl spanvm_native_enter_begin
    .globl spanvm_native_enter_end
    .globl spanvm_native_enter
    .type spanvm_native_enter, @function
    .p2align 4
spanvm_native_enter_begin:
spanvm_native_enter:
    .cfi_startproc
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, CTX_HOST_RSP(%rdi)
    mov %rdi, %rbx
    mov %esi, %r12d
    movl $1, CTX_IN_GUEST(%rbx)
    // A kick that landed while the thread ran VMM code. Checked after
    // in_guest is set: a later kick sees in_guest and aborts the entry.
    cmpl $0, CTX_KICK_PENDING(%rbx)
    jne .Labort
    cmpl $0, CTX_WRFSBASE(%rbx)
    je .Lenter_prctl
    mov CTX_GUEST_FS(%rbx), %rax
    wrfsbase %rax
    jmp .Lenter_fs_done
.Lenter_prctl:
    mov $SYS_arch_prctl, %eax
    mov $ARCH_SET_FS, %edi
    mov CTX_GUEST_FS(%rbx), %rsi
    syscall
    test %rax, %rax
    jnz .Labort
.Lenter_fs_done:
    test %r12d, %r12d
    jnz .Lfull
    cmpl $0, CTX_FPU_LIVE(%rbx)
    jne .Lenter_lite
    mov $-1, %eax
    mov $-1, %edx
    xrstor64 CTX_XSAVE(%rbx)
.Lenter_fpu_done:
    pushq R_RFLAGS(%rbx)
    popfq
    mov %rbx, %rcx
    mov R_RAX(%rcx), %rax
    mov R_RBX(%rcx), %rbx
    mov R_RDX(%rcx), %rdx
    mov R_RSI(%rcx), %rsi
    mov R_RDI(%rcx), %rdi
    mov R_RBP(%rcx), %rbp
    mov R_R8(%rcx), %r8
    mov R_R9(%rcx), %r9
    mov R_R10(%rcx), %r10
    mov R_R12(%rcx), %r12
    mov R_R13(%rcx), %r13
    mov R_R14(%rcx), %r14
    mov R_R15(%rcx), %r15
    mov R_R11(%rcx), %r11
    mov R_RSP(%rcx), %rsp
    mov R_RIP(%rcx), %rcx
    jmp *%rcx
.Lenter_lite:
    // The lite state (native_context.hpp fpu_live): only the vector
    // registers and MXCSR left the CPU; the x87 part never did.
    ldmxcsr CTX_LITE_MXCSR(%rbx)
    cmpl $2, CTX_FPU_LITE(%rbx)
    jne .Lenter_lite_xmm
    vmovdqa CTX_LITE+0(%rbx), %ymm0
    vmovdqa CTX_LITE+32(%rbx), %ymm1
    vmovdqa CTX_LITE+64(%rbx), %ymm2
    vmovdqa CTX_LITE+96(%rbx), %ymm3
    vmovdqa CTX_LITE+128(%rbx), %ymm4
    vmovdqa CTX_LITE+160(%rbx), %ymm5
    vmovdqa CTX_LITE+192(%rbx), %ymm6
    vmovdqa CTX_LITE+224(%rbx), %ymm7
    vmovdqa CTX_LITE+256(%rbx), %ymm8
    vmovdqa CTX_LITE+288(%rbx), %ymm9
    vmovdqa CTX_LITE+320(%rbx), %ymm10
    vmovdqa CTX_LITE+352(%rbx), %ymm11
    vmovdqa CTX_LITE+384(%rbx), %ymm12
    vmovdqa CTX_LITE+416(%rbx), %ymm13
    vmovdqa CTX_LITE+448(%rbx), %ymm14
    vmovdqa CTX_LITE+480(%rbx), %ymm15
    jmp .Lenter_fpu_done
.Lenter_lite_xmm:
    movdqa CTX_LITE+0(%rbx), %xmm0
    movdqa CTX_LITE+32(%rbx), %xmm1
    movdqa CTX_LITE+64(%rbx), %xmm2
    movdqa CTX_LITE+96(%rbx), %xmm3
    movdqa CTX_LITE+128(%rbx), %xmm4
    movdqa CTX_LITE+160(%rbx), %xmm5
    movdqa CTX_LITE+192(%rbx), %xmm6
    movdqa CTX_LITE+224(%rbx), %xmm7
    movdqa CTX_LITE+256(%rbx), %xmm8
    movdqa CTX_LITE+288(%rbx), %xmm9
    movdqa CTX_LITE+320(%rbx), %xmm10
    movdqa CTX_LITE+352(%rbx), %xmm11
    movdqa CTX_LITE+384(%rbx), %xmm12
    movdqa CTX_LITE+416(%rbx), %xmm13
    movdqa CTX_LITE+448(%rbx), %xmm14
    movdqa CTX_LITE+480(%rbx), %xmm15
    jmp .Lenter_fpu_done
.Lfull:
    mov CTX_FRAME_UC(%rbx), %rsp
    mov $SYS_rt_sigreturn, %eax
    syscall
    ud2                     // rt_sigreturn does not return here
.Labort:
    movl $0, CTX_KICK_PENDING(%rbx)
    movl $0, CTX_IN_GUEST(%rbx)
    mov $-1, %eax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .cfi_endproc
spanvm_native_enter_end:
    .size spanvm_native_enter, . - spanvm_native_enter

    .globl spanvm_native_signal_entry
    .globl spanvm_native_signal_entry_end
    .type spanvm_native_signal_entry, @function
    .p2align 4
spanvm_native_signal_entry:
    .cfi_startproc
    // Only native vCPU threads have an altstack, set up by attach_thread():
    // its first page holds {NativeContext*, kAltStackMagic}. The kernel's
    // ucontext holds the thread's altstack (uc_stack, SS_DISABLE if none);
    // RSP is not trusted for that.
    testl $2, UC_SS_FLAGS(%rdx)
    jnz .Lhost
    mov UC_SS_SP(%rdx), %rax
    movabs $ALT_STACK_MAGIC, %r10
    cmp %r10, -4096+8(%rax)
    jne .Lhost
    mov -4096(%rax), %rax
    test %rax, %rax
    jz .Lhost
    cmpl $0, CTX_IN_GUEST(%rax)
    je .Lhost
    // The interrupted state is in the kernel's frame (ucontext); the
    // registers here are ours to use.
    mov %rax, %r12
    mov %edi, %r13d
    mov %rsi, %r14
    mov %rdx, %r15
    cmpl $0, CTX_WRFSBASE(%r12)
    je .Lexit_prctl
    mov CTX_HOST_FS(%r12), %rax
    wrfsbase %rax
    jmp .Lexit_fs_done
.Lexit_prctl:
    mov $SYS_arch_prctl, %eax
    mov $ARCH_SET_FS, %edi
    mov CTX_HOST_FS(%r12), %rsi
    syscall
.Lexit_fs_done:
    movl $0, CTX_IN_GUEST(%r12)
    mov %r12, %rdi
    mov %r13d, %esi
    mov %r14, %rdx
    mov %r15, %rcx
    mov %rsp, %rbx
    and $-16, %rsp
    call spanvm_native_on_guest_signal   // returns the exit code in eax
    cmp $-2, %eax
    je .Lnested
    mov CTX_HOST_RSP(%r12), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
.Lnested:
    // A signal that interrupted this very entry before it cleared in_guest
    // (SA_NODEFER lets a kick nest): return to the outer entry normally,
    // which carries on; the kick stays pending (C side). in_guest goes back
    // to 1 because the outer entry may not have tested it yet.
    // The rt_sigreturn is made here rather than by `ret` into the
    // restorer: a further kick that lands before it completes then has its
    // RIP in this entry, so it nests the same way, instead of being taken
    // for a guest exit at the restorer's RIP (which would save spanvm's
    // registers as the guest's and leave this frame on the altstack to be
    // overwritten). RBX is RSP at entry (the frame's return address);
    // rt_sigreturn wants RSP just past it, as after the restorer's `ret`.
    movl $1, CTX_IN_GUEST(%r12)
    lea 8(%rbx), %rsp
    mov $SYS_rt_sigreturn, %eax
    syscall
    ud2                     // rt_sigreturn does not return here
.Lhost:
    jmp spanvm_native_on_host_signal
    .cfi_endproc
spanvm_native_signal_entry_end:
    .size spanvm_native_signal_entry, . - spanvm_native_signal_entry

    // Entry from a patched syscall site (site_patcher.hpp): the per-site
    // stub ran the displaced instruction, set RCX to the RIP after the
    // `syscall` and jumped here. The state is exactly what a trapped
    // `syscall` would leave: RCX = RIP, and R11 gets RFLAGS below, the two
    // registers `syscall` clobbers. The thread's GS base is its
    // NativeContext (NativeVcpu::run), FS is still the guest's, RSP the
    // guest's (nothing is pushed there: the guest's red zone and stack
    // stay untouched).
    //
    // Fast path (pass-through syscalls, native_context.hpp `passthrough`):
    // the call is one whose result is the host kernel's for this very
    // thread and which takes no pointer, so the entry makes it itself with
    // the guest's argument registers in place (Syscall User Dispatch lets
    // it through: this text lies above guest RAM) and returns to the guest:
    // no FS switch, no FPU save, no C++. Guest-visible state afterwards is
    // Linux's: RAX = result, RCX = return RIP, R11 = RFLAGS at the call,
    // every other register, RFLAGS and RSP unchanged (the host `syscall`
    // preserves all but RAX, RCX, R11; the vector registers are untouched),
    // the guest stack unwritten. Guests with TF or AC set take the slow path.
    //
    // Slow path: saves the guest state into the context, switches to the
    // host FS and returns from spanvm_native_enter with SIGSYS and exit_code
    // kPatchedSiteCode (a `syscall` exit, as the SIGSYS path's
    // SYS_USER_DISPATCH).
    //
    // Kicks (the invariant: no kick is lost, and no call runs twice).
    // in_guest stays 1 from the stub to the jump back (fast path) or to
    // the end of the slow path. A kick whose RIP is in this entry is nested
    // (spanvm_native_on_guest_signal): it sets kick_pending and returns
    // here, having switched FS to the host's (its signal entry does).
    //  * Before the fast path's `syscall` (RIP <= it): the call runs anyway
    //    and the check after it sees kick_pending.
    //  * In the commit window [spanvm_native_fast_window,
    //    spanvm_native_fast_window_end), i.e. from the instruction after the
    //    `syscall` up to and including the final `jmp *%rcx`: the kick also
    //    rewrites the interrupted RIP to spanvm_native_fast_abort (an
    //    rseq-style abort), so a kick after the check cannot slip into the
    //    guest unseen, and the guest never runs with the host FS.
    //  * The check (kick_pending != 0) and the abort both take the slow
    //    exit with exit_code kPassthroughDoneCode: the call is done, RAX is
    //    its result and the saved RIP is past the `syscall`; run() reports
    //    `interrupted` and the kick stays pending (the next entry aborts).
    //  * In the slow path: pending for the next entry, as before; after
    //    in_guest is 0 it is a host kick. Either way the next entry aborts.
    // Each pass-through call is counted once, before the `syscall`
    // (passthrough_count, the thread table's syscall count).
    .globl spanvm_native_syscall_entry
    .globl spanvm_native_syscall_entry_end
    .globl spanvm_native_fast_window
    .globl spanvm_native_fast_window_end
    .globl spanvm_native_fast_abort
    .type spanvm_native_syscall_entry, @function
    .p2align 4
spanvm_native_syscall_entry:
    .cfi_startproc
    mov %gs:CTX_SELF, %r11
    mov %rsp, R_RSP(%r11)
    mov CTX_HOST_RSP(%r11), %rsp
    pushfq
    popq R_RFLAGS(%r11)
    // RFLAGS is saved: the tests below may clobber it.
    cmp $PASSTHROUGH_NR_LIMIT, %rax
    jae .Lsys_slow
    bt %rax, CTX_PASSTHROUGH(%r11)
    jnc .Lsys_slow
    testl $RFLAGS_TF_AC, R_RFLAGS(%r11)
    jnz .Lsys_slow
    mov %rcx, R_RIP(%r11)
    mov CTX_PASSTHROUGH_COUNT(%r11), %rcx
    lock incq (%rcx)
    syscall                 // RAX = nr, RDI..R9 the guest's; clobbers RCX, R11
spanvm_native_fast_window:
    mov %gs:CTX_SELF, %r11
    cmpl $0, CTX_KICK_PENDING(%r11)
    jne spanvm_native_fast_abort
    mov R_RIP(%r11), %rcx
    pushq R_RFLAGS(%r11)
    popfq                   // the guest's RFLAGS, as `sysret` would load from R11
    mov R_RFLAGS(%r11), %r11
    mov %gs:R_RSP, %rsp
    jmp *%rcx
spanvm_native_fast_window_end:
spanvm_native_fast_abort:
    // The call ran (RAX = its result); RSP, RCX, R11 and RFLAGS may be
    // anything the window left. R_RIP, R_RSP, R_RFLAGS hold the guest's.
    mov %gs:CTX_SELF, %r11
    mov CTX_HOST_RSP(%r11), %rsp
    mov R_RIP(%r11), %rcx
    movl $PASSTHROUGH_DONE_CODE, CTX_EXIT_CODE(%r11)
    cld                     // TF and AC are clear (else no fast path)
    jmp .Lsys_save
.Lsys_slow:
    // exit_code may be set while in_guest is 1: a kick nested here returns
    // before spanvm_native_on_guest_signal touches it, and the host path
    // never does.
    movl $PATCHED_SITE_CODE, CTX_EXIT_CODE(%r11)
    // DF, AC, TF clear for the host (the C ABI): CLD, and the POPFQ (25 ns
    // here) only where the guest had AC or TF set.
    cld
    testl $RFLAGS_TF_AC, R_RFLAGS(%r11)
    jz .Lsys_save
    pushq $RFLAGS_CLEAN
    popfq
.Lsys_save:
    mov %rax, R_RAX(%r11)
    mov %rbx, R_RBX(%r11)
    mov %rcx, R_RCX(%r11)
    mov %rcx, R_RIP(%r11)
    mov %rdx, R_RDX(%r11)
    mov %rsi, R_RSI(%r11)
    mov %rdi, R_RDI(%r11)
    mov %rbp, R_RBP(%r11)
    mov %r8, R_R8(%r11)
    mov %r9, R_R9(%r11)
    mov %r10, R_R10(%r11)
    mov %r12, R_R12(%r11)
    mov %r13, R_R13(%r11)
    mov %r14, R_R14(%r11)
    mov %r15, R_R15(%r11)
    mov R_RFLAGS(%r11), %rax
    mov %rax, R_R11(%r11)
    mov %r11, %rbx
    // The FPU. With fpu_lite (XCR0 within x87|SSE|AVX|PKRU): only what
    // spanvm's C++ may clobber, the vector registers and MXCSR, into
    // `lite`, and fpu_live = 1 (the invariant is in native_context.hpp);
    // VZEROUPPER then gives the host clean upper halves. Otherwise a
    // standard-format XSAVE into the image rt_sigreturn and XRSTOR take;
    // bytes 464..511 (fpx_sw_bytes) are software's and stay as they are.
    cmpl $0, CTX_FPU_LITE(%rbx)
    je .Lsys_xsave
    stmxcsr CTX_LITE_MXCSR(%rbx)
    cmpl $2, CTX_FPU_LITE(%rbx)
    jne .Lsys_lite_xmm
    vmovdqa %ymm0, CTX_LITE+0(%rbx)
    vmovdqa %ymm1, CTX_LITE+32(%rbx)
    vmovdqa %ymm2, CTX_LITE+64(%rbx)
    vmovdqa %ymm3, CTX_LITE+96(%rbx)
    vmovdqa %ymm4, CTX_LITE+128(%rbx)
    vmovdqa %ymm5, CTX_LITE+160(%rbx)
    vmovdqa %ymm6, CTX_LITE+192(%rbx)
    vmovdqa %ymm7, CTX_LITE+224(%rbx)
    vmovdqa %ymm8, CTX_LITE+256(%rbx)
    vmovdqa %ymm9, CTX_LITE+288(%rbx)
    vmovdqa %ymm10, CTX_LITE+320(%rbx)
    vmovdqa %ymm11, CTX_LITE+352(%rbx)
    vmovdqa %ymm12, CTX_LITE+384(%rbx)
    vmovdqa %ymm13, CTX_LITE+416(%rbx)
    vmovdqa %ymm14, CTX_LITE+448(%rbx)
    vmovdqa %ymm15, CTX_LITE+480(%rbx)
    vzeroupper
    jmp .Lsys_lite_done
.Lsys_lite_xmm:
    movdqa %xmm0, CTX_LITE+0(%rbx)
    movdqa %xmm1, CTX_LITE+32(%rbx)
    movdqa %xmm2, CTX_LITE+64(%rbx)
    movdqa %xmm3, CTX_LITE+96(%rbx)
    movdqa %xmm4, CTX_LITE+128(%rbx)
    movdqa %xmm5, CTX_LITE+160(%rbx)
    movdqa %xmm6, CTX_LITE+192(%rbx)
    movdqa %xmm7, CTX_LITE+224(%rbx)
    movdqa %xmm8, CTX_LITE+256(%rbx)
    movdqa %xmm9, CTX_LITE+288(%rbx)
    movdqa %xmm10, CTX_LITE+320(%rbx)
    movdqa %xmm11, CTX_LITE+352(%rbx)
    movdqa %xmm12, CTX_LITE+384(%rbx)
    movdqa %xmm13, CTX_LITE+416(%rbx)
    movdqa %xmm14, CTX_LITE+448(%rbx)
    movdqa %xmm15, CTX_LITE+480(%rbx)
.Lsys_lite_done:
    movl $1, CTX_FPU_LIVE(%rbx)
    jmp .Lsys_fpu_done
.Lsys_xsave:
    mov $-1, %eax
    mov $-1, %edx
    xsaveopt64 CTX_XSAVE(%rbx)
.Lsys_fpu_done:
    cmpl $0, CTX_WRFSBASE(%rbx)
    je .Lsys_prctl
    mov CTX_HOST_FS(%rbx), %rax
    wrfsbase %rax
    jmp .Lsys_fs_done
.Lsys_prctl:
    mov $SYS_arch_prctl, %eax
    mov $ARCH_SET_FS, %edi
    mov CTX_HOST_FS(%rbx), %rsi
    syscall
.Lsys_fs_done:
    // From here a kick takes the host path, which leaves exit_code alone.
    movl $0, CTX_IN_GUEST(%rbx)
    mov $SIGSYS, %eax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .cfi_endproc
spanvm_native_syscall_entry_end:
    .size spanvm_native_syscall_entry, . - spanvm_native_syscall_entry

    .globl spanvm_native_xsave
    .type spanvm_native_xsave, @function
    .p2align 4
spanvm_native_xsave:
    .cfi_startproc
    mov $-1, %eax
    mov $-1, %edx
    xsave64 (%rdi)
    ret
    .cfi_endproc
    .size spanvm_native_xsave, . - spanvm_native_xsave

    .globl spanvm_native_fsgsbase_selftest
    .type spanvm_native_fsgsbase_selftest, @function
    .p2align 4
spanvm_native_fsgsbase_selftest:
    .cfi_startproc
    push %rbx
    push %r12
    sub $24, %rsp
    rdfsbase %rbx           // the thread's own FS base (TLS), restored below
    mov %rdi, %r12
    wrfsbase %r12
    mov $2, %r8d            // syscall keeps r8
.Lselftest_sleep:
    movq $0, (%rsp)         // struct timespec { 0 s, 200 us }
    movq $200000, 8(%rsp)
    mov $SYS_nanosleep, %eax
    mov %rsp, %rdi
    xor %esi, %esi
    syscall
    dec %r8d
    jnz .Lselftest_sleep
    rdfsbase %rax
    wrfsbase %rbx
    cmp %r12, %rax
    sete %al
    movzbl %al, %eax
    add $24, %rsp
    pop %r12
    pop %rbx
    ret
    .cfi_endproc
    .size spanvm_native_fsgsbase_selftest, . - spanvm_native_fsgsbase_selftest

    .section .note.GNU-stack, "", @progbits
