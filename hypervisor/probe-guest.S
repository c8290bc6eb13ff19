/* The KVM probe guest: a 512-byte boot sector that QEMU's SeaBIOS loads
 * from a raw disk.  It does, in order, what a Linux kernel needs from the
 * hypervisor right after its bootloader, which is exactly where a broken
 * nested KVM stops (SeaBIOS and a boot sector run, the kernel never
 * prints): protected mode, long mode with 2 MiB pages over the first
 * GiB, writes to 64 MiB of guest memory (one per 4 KiB page: every one
 * faults into the hypervisor's paging once), 50 million iterations of a
 * loop (guest code at native speed or not), and PIT timer interrupts
 * through the PIC (interrupt delivery and HLT wakeups).  Then it prints
 * PROBE_MARKER on COM1 and exits QEMU through isa-debug-exit (port
 * 0xf4, value 0x21: QEMU exits with status 0x43).
 *
 * Under TCG it finishes in well under a second, which proves the guest
 * itself sound; a KVM that cannot run it within the deadline cannot run
 * a real guest either (measured: on a nested KVM that emulates guest
 * code, SeaBIOS alone takes 4 s and the loop never ends).
 *
 * The code is data: it lives in .rodata between hv_probe_guest and
 * hv_probe_guest_end, and every absolute address is written as A(label)
 * (its offset from the start plus 0x7c00, where the BIOS loads it), so
 * the assembler resolves them and the linker relocates nothing. */

#if defined(__x86_64__) || defined(__i386__)

#define A(x) ((x) - hv_probe_guest + 0x7c00)
#define COM1 0x3f8

        .section .rodata
        .globl hv_probe_guest, hv_probe_guest_end
        .p2align 4
hv_probe_guest:
        .code16
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7c00, %sp
        lgdtl A(gdtr)
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $A(pm32)

        .code32
pm32:   mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        /* Page tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD):
         * identity-map 1 GiB with 512 2 MiB pages. */
        mov $0x1000, %edi
        xor %eax, %eax
        mov $0xc00, %ecx
        rep stosl
        movl $0x2003, 0x1000
        movl $0x3003, 0x2000
        mov $0x3000, %edi
        mov $0x83, %eax
        mov $512, %ecx
1:      mov %eax, (%edi)
        add $0x200000, %eax
        add $8, %edi
        loop 1b
        mov $0x1000, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x20, %eax                  /* PAE */
        mov %eax, %cr4
        mov $0xc0000080, %ecx           /* EFER.LME */
        rdmsr
        or $0x100, %eax
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax            /* PG */
        mov %eax, %cr0
        ljmp $0x18, $A(lm64)

        .code64
lm64:   /* One write per 4 KiB page of 64 MiB from 16 MiB. */
        mov $0x1000000, %edi
        mov $16384, %ecx
1:      mov %ecx, (%rdi)
        add $4096, %rdi
        loop 1b
        /* The loop. */
        mov $50000000, %ecx
1:      dec %ecx
        jnz 1b
        /* IDT at 0x5000 with the timer handler at vector 0x20. */
        mov $0x5000, %edi
        xor %eax, %eax
        mov $0x400, %ecx
        rep stosl
        mov $A(tick), %eax
        mov %ax, 0x5200
        movw $0x18, 0x5202
        movw $0x8e00, 0x5204
        shr $16, %eax
        mov %ax, 0x5206
        lidt A(idtr)
        /* PIC: IRQ 0-7 at vectors 0x20-0x27, only IRQ 0 unmasked. */
        mov $0x11, %al
        out %al, $0x20
        mov $0x20, %al
        out %al, $0x21
        mov $0x04, %al
        out %al, $0x21
        mov $0x01, %al
        out %al, $0x21
        mov $0xfe, %al
        out %al, $0x21
        mov $0xff, %al
        out %al, $0xa1
        /* PIT channel 0, rate generator, 1193 (about 1 kHz). */
        mov $0x34, %al
        out %al, $0x43
        mov $0xa9, %al
        out %al, $0x40
        mov $0x04, %al
        out %al, $0x40
        movl $0, 0x4000                 /* the tick count */
        sti
1:      hlt
        cmpl $20, 0x4000
        jb 1b
        cli
        /* Done: the marker on COM1, then isa-debug-exit. */
        mov $A(marker), %esi
        mov $COM1, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      mov $0x21, %al
        out %al, $0xf4
3:      hlt
        jmp 3b

tick:   incl 0x4000
        push %rax
        mov $0x20, %al
        out %al, $0x20
        pop %rax
        iretq

marker: .asciz "HVCONVERT-KVM-PROBE-OK\n"
        .p2align 3
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
        .quad 0x00cf92000000ffff        /* 0x10: data */
        .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
gdtr:   .word gdtr - gdt - 1
        .long A(gdt)
idtr:   .word 0x0fff
        .quad 0x5000
        .org hv_probe_guest + 510
        .byte 0x55, 0xaa
hv_probe_guest_end:

#endif

        .section .note.GNU-stack, "", %progbits
