/* Which SIGSEGV is which: a misaligned movaps (a general-protection fault, #GP) and a
 * read of an unmapped page (a page fault) both end in SIGSEGV; the signal's siginfo
 * tells them apart. A SA_SIGINFO handler prints si_code and si_addr, then leaves with
 * siglongjmp to run the next case. x86-64 only (the movaps is inline assembly).
 * Build: gcc -O1 fault_kind.c -o fault_kind */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf back;
static volatile int code;
static void *volatile addr;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)sig; (void)ctx;
    code = si->si_code;
    addr = si->si_addr;
    siglongjmp(back, 1);
}

static const char *code_name(int c) {
    return c == SI_KERNEL ? "SI_KERNEL" : c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : "?";
}

static float data[8] __attribute__((aligned(16)));

static void report(const char *what, void *target) {
    printf("%-34s SIGSEGV, si_code %3d (%s), si_addr %s\n", what, code, code_name(code),
           addr == NULL ? "0 (none)" : addr == target ? "= the address read" : "another address");
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);

    char *misaligned = (char *)data + 4;
    if (sigsetjmp(back, 1) == 0) {
        float v[4] __attribute__((aligned(16)));
        __asm__ volatile("movaps (%1), %%xmm0\n\tmovaps %%xmm0, %0" : "=m"(v) : "r"(misaligned) : "xmm0", "memory");
        printf("movaps at data + 4: no fault\n");
    } else {
        report("movaps at data + 4 (misaligned):", misaligned);
    }

    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(page, 4096);                               /* now nothing is mapped there */
    if (sigsetjmp(back, 1) == 0) {
        printf("read of an unmapped page: no fault (%d)\n", *(volatile char *)page);
    } else {
        report("read of an unmapped page:", page);
    }
    return 0;
}
