/*
 * spanvm process-mode guest shim: the only code of spanvm's that runs inside
 * the guest. It is copied into the entry-stub page (memory::layout::kStubGpa), which
 * is mapped user R+X. Every entry exits to the VMM on its FIRST instruction
 * with an `out` to a port that names the entry; the VMM then completes the
 * return to user mode itself (RIP, RFLAGS, CS, SS), so no sysret/iret runs in
 * the guest (both are emulated or missing on PVM, see platform-notes).
 *
 *   +0x000  syscall entry (MSR_LSTAR)        out %al, $0xE0
 *   +0x100  exception vector i (i < 32)      out %al, $(0xA0 + i)  at +0x100 + 8*i
 *
 * The bytes after each `out` never execute in a correct VMM; they are ud2 +
 * a jump back so a VMM bug shows up as a loop of exits, never as runaway code.
 *
 * Assembled into the host binary as read-only data, not executed by the host.
 */
    .section .rodata.spanvm_shim, "a"
    .balign 4096
    .globl spanvm_shim_start
    .globl spanvm_shim_end
spanvm_shim_start:
syscall_entry:
    outb %al, $0xE0
    ud2
    jmp syscall_entry

    .org spanvm_shim_start + 0x100
vectors:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 8
1:  outb %al, $(0xA0 + \v)
    ud2
    jmp 1b
    .endr
spanvm_shim_end:
    .section .note.GNU-stack, "", @progbits
