/* x86's alignment-check flag: EFLAGS.AC (bit 18). With it set (and CR0.AM, which Linux
 * sets), every misaligned data access in user mode raises #AC, delivered as SIGBUS.
 *   ./alignment_check off   read 8 bytes at byte 1 of a buffer: works
 *   ./alignment_check on    set AC, do the same read: SIGBUS (BUS_ADRALN), which a
 *                           handler reports (exit code 3)
 * The flag is set and cleared around the one instruction: library code (printf,
 * memcpy) reads misaligned words on purpose and would fault too. x86-64 only. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void) { fprintf(stderr, "alignment_check: x86-64 only\n"); return 3; }
#else
static unsigned char buf[16] __attribute__((aligned(16))) = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

static void on_sigbus(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)ctx;
    /* the kernel does not clear AC for the handler: clear it before any library call */
    __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    static const char adraln[] = "SIGBUS, si_code BUS_ADRALN (invalid address alignment)\n";
    static const char other[] = "SIGBUS, another si_code\n";
    if (info->si_code == BUS_ADRALN) write(1, adraln, sizeof adraln - 1);
    else write(1, other, sizeof other - 1);
    _exit(3);
}

int main(int argc, char **argv) {
    int on = argc > 1 && strcmp(argv[1], "on") == 0;
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigaction(SIGBUS, &sa, NULL);
    const unsigned char *p = buf + 1;                 /* not a multiple of 8 */
    uint64_t v;
    if (on)
        __asm__ volatile("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(p) : "memory");
    if (on)
        __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    printf("read 8 bytes at byte 1: 0x%016llx\n", (unsigned long long)v);
    return 0;
}
#endif
