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

/* Called before the child exits with os._exit(), which skips C's exit handlers. */
void labsupport_crash_flush_all(void)
{
    fflush(NULL);
}
