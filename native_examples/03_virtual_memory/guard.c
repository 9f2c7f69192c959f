/* guard.c: pages you may not touch, and what the kernel says when you do.
 *
 *   ./guard page      map 4 pages, make page 2 PROT_NONE (a guard page), write to
 *                     page 1 (fine), then to byte 100 of page 2: a SIGSEGV whose
 *                     handler prints where it hit, as an offset into the mapping
 *   ./guard unmapped  the same, writing just past the end of the mapping
 *   ./guard stack     recurse until the stack hits its limit; the handler (on an
 *                     alternate stack, since the normal one is full) prints how
 *                     deep it got and how far below the deepest frame it faulted
 *   ./guard stack-plain  the same recursion with no handler: plain SIGSEGV
 *
 * The handler uses only async-signal-safe calls (snprintf into a buffer is not
 * on POSIX's list but does not allocate here; write and _exit are), then ends
 * the process with exit code 3.
 * Build: gcc -O0 guard.c -o guard
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define PAGE 4096L

static char *base;                      /* the 4-page mapping of "page" and "unmapped" */
static volatile uintptr_t deepest;      /* lowest stack address reached by the recursion */
static volatile long depth;
static uintptr_t top;                   /* a local variable of main(): near the top of the stack */

static void say(const char *text) { write(1, text, strlen(text)); }

static void on_segv(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)ctx;
    char msg[256];
    const char *code = info->si_code == SEGV_ACCERR ? "SEGV_ACCERR (mapped, but the access is not allowed)"
                     : info->si_code == SEGV_MAPERR ? "SEGV_MAPERR (nothing mapped there)" : "other";
    uintptr_t addr = (uintptr_t)info->si_addr;
    if (deepest) {
        snprintf(msg, sizeof msg, "SIGSEGV after %ld nested calls; si_code %s\n"
                 "stack used: %ld KiB; fault address: %ld bytes below the deepest frame's local variable\n",
                 depth, code, (long)(top - deepest) / 1024, (long)(deepest - addr));
    } else {
        long off = (long)(addr - (uintptr_t)base);
        snprintf(msg, sizeof msg, "SIGSEGV; si_code %s\nfault address: offset %ld into the mapping "
                 "= page %ld, byte %ld\n", code, off, off / PAGE, off % PAGE);
    }
    say(msg);
    _exit(3);
}

static void install(int on_alt_stack) {
    if (on_alt_stack) {
        static char alt[64 * 1024];
        stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
        sigaltstack(&ss, NULL);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | (on_alt_stack ? SA_ONSTACK : 0);
    sigaction(SIGSEGV, &sa, NULL);
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static long recurse(long n) {
    volatile char frame[1000];          /* about 1 KiB of stack per call */
    frame[0] = (char)n;
    depth = n;
    deepest = (uintptr_t)&frame[0];
    return recurse(n + 1) + frame[0];   /* not a tail call: every frame stays */
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "page") || !strcmp(mode, "unmapped")) {
        install(0);
        /* 5 pages, the last one given back: nothing is mapped right after the 4 */
        base = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(base + 4 * PAGE, PAGE);
        mprotect(base + 2 * PAGE, PAGE, PROT_NONE);
        base[1 * PAGE + 100] = 1;
        printf("wrote byte 100 of page 1: fine\n");
        if (!strcmp(mode, "page")) base[2 * PAGE + 100] = 1;
        else base[4 * PAGE + 100] = 1;
        printf("never printed\n");
        return 0;
    }
    if (!strcmp(mode, "stack") || !strcmp(mode, "stack-plain")) {
        struct rlimit rl;
        getrlimit(RLIMIT_STACK, &rl);
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (64u << 20)) {
            /* `ulimit -s unlimited` (common on HPC logins): the recursion would grow until
             * memory runs out. The stack grows only while it stays under the *current*
             * limit, so lower it to the usual 8 MiB first (a process may lower its own). */
            printf("stack limit (RLIMIT_STACK) was %s; set to 8192 KiB for this run\n",
                   rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "over 64 MiB");
            rl.rlim_cur = 8u << 20;
            if (setrlimit(RLIMIT_STACK, &rl) != 0) { perror("setrlimit"); return 1; }
        }
        printf("stack limit (RLIMIT_STACK): %ld KiB\n", (long)rl.rlim_cur / 1024);
        volatile char here = 0;
        top = (uintptr_t)&here;
        if (!strcmp(mode, "stack")) install(1);
        return (int)recurse(0);
    }
    fprintf(stderr, "usage: %s page | unmapped | stack | stack-plain\n", argv[0]);
    return 2;
}
