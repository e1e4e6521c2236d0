// long spanvm_cancellable_syscall(const volatile uint32_t* kicks /* rdi */,
//                                 uint32_t seen /* esi */,
//                                 const long call[7] /* rdx: nr, a..f */)
// (host_kick.hpp). A kick handled in [spanvm_cancellable_begin,
// spanvm_cancellable_end) has its RIP moved to spanvm_cancellable_cancel by
// on_host_kick; `end` is the instruction after `syscall`, so a kick that
// interrupted the call itself (EINTR, RIP = end) keeps the call's result,
// and one the kernel would restart (RIP back on `syscall`) cancels it.
// A leaf: no stack, no FS; it clobbers what `syscall` clobbers.

#define ERESTARTNOINTR 513

    .text
    .globl spanvm_cancellable_syscall
    .globl spanvm_cancellable_begin
    .globl spanvm_cancellable_end
    .globl spanvm_cancellable_cancel
    .type spanvm_cancellable_syscall, @function
    .p2align 4
spanvm_cancellable_syscall:
    .cfi_startproc
spanvm_cancellable_begin:
    cmp (%rdi), %esi
    jne spanvm_cancellable_cancel
    mov %rdx, %r11
    mov 0(%r11), %rax
    mov 8(%r11), %rdi
    mov 16(%r11), %rsi
    mov 24(%r11), %rdx
    mov 32(%r11), %r10
    mov 40(%r11), %r8
    mov 48(%r11), %r9
    syscall
spanvm_cancellable_end:
    ret
spanvm_cancellable_cancel:
    mov $-ERESTARTNOINTR, %rax
    ret
    .cfi_endproc
    .size spanvm_cancellable_syscall, . - spanvm_cancellable_syscall

    .section .note.GNU-stack, "", @progbits
