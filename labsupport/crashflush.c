/* Keep a crashing child's C output without paying a system call per character.
 *
 * An isolated child (labsupport.isolate) writes C stdout/stderr to files. With
 * stdio unbuffered, nothing is lost when the code crashes, but every putchar is a
 * write(2): 50 MB printed one character at a time took 57 s. With line buffering
 * the same output is a few thousand writes; what a crash would lose is the part
 * of the buffer not yet written. This handler writes exactly that part, with
 * write(2) only (async-signal-safe, no stdio lock taken: the crash may have
 * happened inside printf or inside malloc), then lets the signal kill the process
 * as before, so the parent still sees SIGSEGV, SIGABRT, ...
 *
 * glibc only: the pending bytes are read from the public fields _IO_write_base
 * and _IO_write_ptr of struct _IO_FILE (<bits/types/struct_FILE.h>).
 * An alternate signal stack lets the handler run after a stack overflow too.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char alt_stack[64 * 1024];
static char out_buf[8192];      /* our own buffer: stdout may already hold a 1-byte one */

static void write_pending(FILE *f)
{
    char *p = f->_IO_write_base, *end = f->_IO_write_ptr;
    int fd = fileno(f);
    if (!p || !end || end <= p || fd < 0)
        return;
    while (p < end) {
        ssize_t n = write(fd, p, (size_t)(end - p));
        if (n <= 0)
            return;
        p += n;
    }
    f->_IO_write_ptr = f->_IO_write_base;   /* never write the same bytes twice */
}

static void on_crash(int sig)
{
    write_pending(stdout);
    write_pending(stderr);
    signal(sig, SIG_DFL);       /* SA_RESETHAND did this already; be explicit */
    raise(sig);                 /* die of the same signal, as the parent expects */
}

/* Line-buffer C stdout (stderr stays unbuffered) and install the handler.
 * Returns 0 on success. */
int labsupport_crash_flush_install(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    stack_t ss;
    struct sigaction sa;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    if (sigaltstack(&ss, NULL) != 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
    setvbuf(stderr, NULL, _IONBF, 0);
    return 0;
}

/* ---- In the notebook kernel itself: a last word before a direct C call kills it ----
 *
 * labsupport.lastword calls labsupport_guard_install(fd) in the kernel. When a
 * C function called directly (not isolated) faults, this handler writes one
 * record to fd: the signal, the faulting address, the call noted last
 * (labsupport_guard_note: "write_null() from cell 12") and the process's memory
 * map (/proc/self/maps, to place the address in the heap, a library, a stack or
 * nowhere). Only open/read/write: async-signal-safe. Then it hands the signal
 * to the handler that was there before (Python's faulthandler, which adds the
 * Python traceback), so the process still dies of the same signal. */
#include <fcntl.h>

static int guard_fd = -1;
static char last_call[512];
static struct sigaction previous[32];

void labsupport_guard_note(const char *what)
{
    size_t i = 0;
    if (what)
        for (; what[i] && i < sizeof last_call - 1; i++)
            last_call[i] = what[i];
    last_call[i] = 0;
}

static void put(const char *s) { (void)!write(guard_fd, s, strlen(s)); }

static void put_hex(unsigned long v)
{
    char buf[19] = "0x";
    int n = 0;
    unsigned long t = v;
    do { n++; t >>= 4; } while (t);
    for (int i = n - 1; i >= 0; i--, v >>= 4)
        buf[2 + i] = "0123456789abcdef"[v & 15];
    buf[2 + n] = 0;
    put(buf);
}

static void put_dec(int v)
{
    char buf[12];
    int n = 0;
    do { buf[10 - n++] = (char)('0' + v % 10); v /= 10; } while (v && n < 10);
    buf[11] = 0;
    put(buf + 11 - n);
}

static void on_kernel_crash(int sig, siginfo_t *info, void *ctx)
{
    if (guard_fd >= 0) {
        put("signal ");
        put_dec(sig);
        put("\naddress ");
        put_hex((unsigned long)info->si_addr);
        put("\ncall ");
        put(last_call);
        put("\nmaps\n");
        int m = open("/proc/self/maps", O_RDONLY);
        if (m >= 0) {
            char buf[4096];
            ssize_t n;
            while ((n = read(m, buf, sizeof buf)) > 0)
                if (write(guard_fd, buf, (size_t)n) < 0)
                    break;
            close(m);
        }
        put("end\n");
    }
    (void)ctx;
    sigaction(sig, &previous[sig], NULL);   /* faulthandler's, or the default */
    raise(sig);
}

int labsupport_guard_install(int fd)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    struct sigaction sa;
    stack_t old;
    guard_fd = fd;
    if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
        sigaltstack(&ss, NULL);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_kernel_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, &previous[sigs[i]]) != 0)
            return -1;
    return 0;
}

/* Called before the child exits with os._exit(), which skips C's exit handlers. */
void labsupport_crash_flush_all(void)
{
    fflush(NULL);
}
