/* mdriver.c - the malloc lab's driver (lesson 09), after CS:APP's mdriver and memlib.
 *
 *   gcc -O2 -I. -I../01_heap_managers mdriver.c mm_talloc.c ../01_heap_managers/talloc.c -o mdriver
 *   ./mdriver TRACE [REPEATS=5]
 *   gcc -O2 -DMM_REFERENCE -I. mdriver.c mm_libc.c -o mdriver-ref     # glibc / mimalloc
 *
 * TRACE is a numeric trace (what labsupport.allocbench writes):
 *   first line  "IDS OPS", then one operation a line:
 *   a ID SIZE   allocate SIZE bytes as block ID
 *   r ID SIZE   resize block ID to SIZE bytes (mm_realloc)
 *   f ID        free block ID
 *
 * Two processes.  The SCORER (the process started, which prints the report)
 * keeps the trace, the break, the highest break, the table of live blocks, the
 * offsets of the checked pass and the times in its own memory.  The ALLOCATOR
 * runs in a child (fork), which can reach nothing of the scorer's: it asks for
 * each operation and answers over two pipes, and a seccomp filter
 * (prctl(PR_SET_SECCOMP), a raw BPF program: no library) lets its process make
 * no system call but read on its request pipe, write on its answer pipe and on
 * stderr, abort (getpid, gettid, rt_sigprocmask, rt_sigreturn, tgkill/kill of
 * itself with SIGABRT only), and exit.  Any other call
 * (mprotect, mmap, munmap, brk, fork, clone, ptrace, open...) gets SIGSYS; the
 * child's handler names the call to the scorer, which fails the run with it.
 *
 * The heap belongs to the scorer (CS:APP's memlib): a memfd of 1 GiB, mapped
 * shared at a fixed address in both processes before the fork.  mem_sbrk(n),
 * in the child, is a request to the scorer, which moves the break, counts the
 * highest break and answers the old end; the footprint is that highest break,
 * counted in the scorer's memory.  The child can write its whole mapping, but
 * a page of the memfd comes into being only when touched: after every
 * operation the scorer asks the memfd for data past the pages it has handed
 * out (lseek SEEK_DATA), so a touch past the break's page is found and named;
 * bytes past the break in its last page must stay zero (checked after every
 * operation).  The two result arrays got and rptr (8 bytes per operation and
 * per block id), which the child's replays write, are shared too, so not in
 * its anonymous memory: outside a replay they must hold what the scorer
 * expects (all zero; after a replay, rptr all NULL and got NULL on every
 * free), checked at each random scan, at the end of the checked pass, and
 * before and after every replay.
 *
 * 1. Correctness, after every operation, while the child is idle: after
 *    answering it blocks reading its next request, and it can run nothing
 *    else (no threads: clone is refused; no signal handlers of its own:
 *    rt_sigaction is refused), so it cannot change the heap while its bytes
 *    are checked: every payload lies inside the heap, is
 *    aligned (16 bytes for requests of 16 bytes or more; a smaller request only
 *    needs the alignment of the largest power of two that fits in it, as C23
 *    allows: WG14 N2293), overlaps no live block (a treap of live blocks), and
 *    keeps its bytes until it is freed or resized (a pattern the scorer writes
 *    and reads through its own mapping, checked at free, at realloc, and for
 *    blocks still live at the end); mm_realloc keeps the old bytes; mm_malloc(0)
 *    may return NULL.  mm_checkheap() is called after every operation when the
 *    allocator defines it.  The first failing operation is named:
 *    FAIL op N (a 7 24): why.  A crash of the child is named the same way.
 *    The child's anonymous resident memory (the heap is shared, not anonymous)
 *    may grow by RSS_SLACK at most over the whole run (/proc/PID/statm).
 * 2. Utilisation: peak live bytes / peak footprint, in the same pass.
 * 3. Throughput: the trace replayed REPEATS times by the child without checks,
 *    after one warm-up replay; the median time.  Before each replay the scorer
 *    resets the break (memlib's mem_reset_brk) and zeroes the heap the checked
 *    pass opened (so its pages exist), the child's mem_sbrk then works alone up
 *    to the checked pass's highest break.  The time is the child's CPU time
 *    (its clock_getcpuclockid clock, read by the scorer) from the request to
 *    the answer, mm_init included as in CS:APP's eval_mm_speed.  After each
 *    replay every pointer it returned (in a shared array) must be at the offset
 *    the checked pass returned for the same operation.
 *
 * What this does not close: memory the child already holds when the trace
 * starts (talloc's 32 KiB table for ta_check, touched so that mm_checkheap costs
 * an honest allocator nothing; the stack pages the scorer had used) and
 * RSS_SLACK more are not counted, so bookkeeping kept there is not in the
 * footprint; and the replays are run by the child, so a child that wrote the
 * checked pass's offsets without running its allocator, from that memory,
 * would be timed for that.
 *
 * Output (one line each):  OK ops=... / UTIL live=... footprint=... / TIME median=... min=... max=... repeats=...
 *                           or FAIL op N (...): ... / ERROR ...
 *
 * With -DMM_REFERENCE (glibc, or mimalloc by LD_PRELOAD: allocators that take
 * their memory from the kernel themselves, not from mem_sbrk) there is no
 * driver heap and no filter: the child runs the checked pass itself (trusted
 * code) on its own heap, and the footprint is the growth of its anonymous
 * resident memory (/proc/self/statm: resident minus shared, whole pages; the
 * code a forked child maps again is not counted) above what it was before the trace, a
 * different quantity, printed as UTIL ... footprint_rss=...  Its replays are
 * timed by the scorer exactly as the lab path's.
 *
 * The driver's own memory comes from mmap, never from malloc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mm.h"
#ifndef MM_REFERENCE
#include "talloc.h"
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

typedef struct { char kind; int id; size_t size; } op_t;
typedef struct { uintptr_t lo, hi; unsigned pri; int l, r; } node_t;   /* treap of live blocks */

#define MAX_REPEATS 1000
#define MAX_HEAP ((size_t)1 << 30)
#define HEAP_ADDR ((uintptr_t)0x3f0000000000)          /* the heap: a memfd, MAX_HEAP, shared */
#define HEAP ((char *)HEAP_ADDR)
#ifndef RSS_SLACK
#define RSS_SLACK ((size_t)16 << 10)   /* the child's own growth in a run (stack): measured below 8 KiB */
#endif

/* ---- the protocol: fixed-size messages on two pipes ---------------------------------- */
enum { C_INIT = 1, C_MALLOC, C_FREE, C_REALLOC, C_REPLAY, C_SBRK_ANSWER, C_REFPASS };
enum { R_DONE = 1, R_SBRK, R_SYS, R_READY };
typedef struct { int cmd; int pad; size_t size; uintptr_t ptr; } req_t;
typedef struct { int kind; int has_checkheap; long val, val2; } rep_t;
#define REQ_FD 3                         /* in the child: read requests */
#define REP_FD 4                         /* in the child: write answers */

/* ---- the scorer's state (in the child, a copy that counts for nothing) ---------------- */
static op_t *OPS;
static long nops, nids;
static node_t *nodes;
static char **ptr;                       /* scorer: the live payloads (the child's addresses = the scorer's) */
static size_t *len;
static long *ref;                        /* checked pass: offset from HEAP of every result, -1 for NULL */
static size_t brk_ __attribute__((unused)), open_ __attribute__((unused)), peak_;   /* the break, bytes opened (whole pages), highest break */
static long past_break __attribute__((unused));                  /* first byte found written past the break, + 1 */
static int shrink_tried __attribute__((unused)), memfd __attribute__((unused)) = -1;
static pid_t child = -1;
static int req_w = -1, rep_r = -1;       /* the scorer's ends */
static int has_checkheap;
static clockid_t child_clock;
static volatile sig_atomic_t cur = -1;
static volatile sig_atomic_t in_replay;  /* 2: in a timed replay */
static char outbuf[1 << 14];

static char **got;                       /* shared with the child: each replay's results (by operation) */
static char **rptr;                      /* shared with the child: a replay's live pointers (by id) */

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }
static size_t pages(size_t n) { size_t pg = page_size(); return (n + pg - 1) / pg * pg; }

/* the first nonzero byte of p[from, to): its offset + 1, or 0.  Word by word, a page at a time (the
 * OR of a page vectorises), bytes only in the page that has one */
__attribute__((unused)) static long first_nonzero(const unsigned char *p, size_t from, size_t to)
{
    size_t k = from;
    while (k < to && (k & 7)) { if (p[k]) return (long)k + 1; k++; }
    while (to - k >= 4096) {
        uint64_t acc = 0;
        const uint64_t *w = (const uint64_t *)(const void *)(p + k);
        for (size_t j = 0; j < 4096 / 8; j++) acc |= w[j];
        if (acc) break;
        k += 4096;
    }
    for (; k < to; k++) if (p[k]) return (long)k + 1;
    return 0;
}

static void *get_mem(size_t n, int shared)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("ERROR cannot map %zu bytes for the driver\n", n); exit(2); }
    memset(p, 0, n);             /* touch now: the driver's pages are not the allocator's footprint */
    return p;
}

/* the driver's report: formatted here, written with write(2), not through stdio's buffer */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
    if (n > 0 && write(1, buf, (size_t)n) < 0) {}
}

static int readn(int fd, void *buf, size_t n)
{
    size_t got_ = 0;
    while (got_ < n) {
        ssize_t k = read(fd, (char *)buf + got_, n - got_);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got_ += (size_t)k;
    }
    return 0;
}
static void writen(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t k = write(fd, (const char *)buf + put, n - put);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) _exit(2);
        put += (size_t)k;
    }
}

static void op_text(long i, char *buf, size_t n)
{
    const op_t *o = &OPS[i];
    if (o->kind == 'f') snprintf(buf, n, "f %d", o->id);
    else snprintf(buf, n, "%c %d %zu", o->kind, o->id, o->size);
}

static int fail(long i, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(long i, const char *fmt, ...)
{
    char t[64], why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (in_replay == 2) strcpy(t, "a timed replay, after the checked pass");
    else if (i >= 0 && i < nops) op_text(i, t, sizeof t);
    else if (i == -2) strcpy(t, "mm_init");
    else strcpy(t, "end of trace");
    say("FAIL op %ld (%s): %s%s\n", i < 0 ? 0 : i + 1, t, why,
        in_replay == 1 ? " (in a timed replay, after the checked pass: the same code must place the same blocks "
                         "on every pass)" : "");
    if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); child = -1; }
    return 1;
}

static const char *syscall_name(long nr)
{
    switch (nr) {
    case SYS_mmap: return "mmap";
    case SYS_munmap: return "munmap";
    case SYS_mprotect: return "mprotect";
    case SYS_mremap: return "mremap";
    case SYS_madvise: return "madvise";
    case SYS_brk: return "brk";
#ifdef SYS_pkey_mprotect
    case SYS_pkey_mprotect: return "pkey_mprotect";
#endif
#ifdef SYS_fork
    case SYS_fork: return "fork";
#endif
#ifdef SYS_vfork
    case SYS_vfork: return "vfork";
#endif
    case SYS_clone: return "clone";
#ifdef SYS_clone3
    case SYS_clone3: return "clone3";
#endif
    case SYS_ptrace: return "ptrace";
    case SYS_process_vm_writev: return "process_vm_writev";
    case SYS_process_vm_readv: return "process_vm_readv";
#ifdef SYS_open
    case SYS_open: return "open";
#endif
    case SYS_openat: return "openat";
    case SYS_kill: return "kill";
    case SYS_tgkill: return "tgkill";
    case SYS_read: return "read";
    case SYS_write: return "write";
    case SYS_writev: return "writev";
    case SYS_rt_sigaction: return "rt_sigaction";
    case SYS_execve: return "execve";
    case SYS_shmat: return "shmat";
    case SYS_memfd_create: return "memfd_create";
    case SYS_ftruncate: return "ftruncate";
    case SYS_fallocate: return "fallocate";
    default: return "a system call";
    }
}

/* why the child stopped answering: it died (a signal) or exited */
static int child_gone(long i, int status)
{
    const char *why = "the allocator's process ended without answering";
    char buf[120];
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        why = sig == SIGSEGV ? "the allocator crashed (SIGSEGV)" : sig == SIGBUS ? "the allocator crashed (SIGBUS)"
            : sig == SIGABRT ? "the allocator crashed (SIGABRT: an assert or abort)"
            : sig == SIGSYS ? "the allocator's process made a system call the lab's seccomp filter refuses (SIGSYS, "
                              "with signals blocked, as glibc's fork does, so the call could not be named)"
            : sig == SIGKILL ? "the allocator's process was killed (SIGKILL)" : NULL;
        if (!why) { snprintf(buf, sizeof buf, "the allocator's process died by signal %d", sig); why = buf; }
    } else if (WIFEXITED(status)) {
#ifdef MM_REFERENCE
        if (WEXITSTATUS(status) == 1) { child = -1; return 1; }      /* it said why itself (FAIL ...) */
#endif
        snprintf(buf, sizeof buf, "the allocator's process exited (status %d) in the middle of the trace",
                 WEXITSTATUS(status));
        why = buf;
    }
    child = -1;
    return fail(i, "%s", why);
}

#ifndef MM_REFERENCE
/* bytes opened (whole page) but past the break must stay zero: 0, or the first written offset + 1 */
static long written_past(size_t from, size_t to)
{
    return first_nonzero((const unsigned char *)HEAP, from, to);
}

/* a page of the memfd past the pages handed out exists: the child touched it.  0 if none, else offset + 1 */
static long touched_past(void)
{
    static blkcnt_t seen = -1;           /* the memfd's allocated blocks at the last look: */
    struct stat st;                      /* fstat is cheap, SEEK_DATA over 1 GiB is not */
    if (fstat(memfd, &st) == 0 && st.st_blocks == seen) return 0;
    seen = st.st_blocks;
    off_t at = lseek(memfd, (off_t)open_, SEEK_DATA);
    return at < 0 ? 0 : (long)at + 1;
}

/* the scorer's mem_sbrk: grow the break for the child; the old end, or -1 */
static uintptr_t grant(long incr)
{
    if (incr < 0) { shrink_tried = 1; return (uintptr_t)-1; }     /* as memlib: the heap never shrinks */
    if ((size_t)incr > MAX_HEAP - brk_) return (uintptr_t)-1;
    size_t was = brk_, used = was + (size_t)incr;
    if (!past_break && was < open_) past_break = written_past(was, open_);
    if (pages(used) > open_) open_ = pages(used);
    brk_ = used;
    if (used > peak_) peak_ = used;
    return HEAP_ADDR + was;
}
#endif

/* A process's anonymous resident bytes from its statm: resident minus shared pages (the
   shared heap is not anonymous; a forked child maps its code again as it runs) */
__attribute__((unused)) static long anon_bytes(const char *statm)
{
    char buf[128];
    int fd = open(statm, O_RDONLY);
    long n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *s = buf;
    strtol(s, &s, 10);
    long res = strtol(s, &s, 10), shared = strtol(s, NULL, 10);
    return (res - shared) * sysconf(_SC_PAGESIZE);
}
__attribute__((unused)) static long child_anon(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)child);
    return anon_bytes(path);
}

/* send one request to the (idle) child, serve its mem_sbrk requests, wait until it has answered
 * and is idle again (blocked reading its next request).  0 and *out on success; 1 after a FAIL line. */
static int call(long i, req_t q, rep_t *out)
{
    int st;
    writen(req_w, &q, sizeof q);
    for (;;) {
        rep_t r;
        if (readn(rep_r, &r, sizeof r) != 0) {
            waitpid(child, &st, 0);
            return child_gone(i, st);
        }
        if (r.kind == R_SBRK) {
#ifndef MM_REFERENCE
            if (in_replay) return fail(i, "a timed replay asked the driver for memory");
            req_t a = {C_SBRK_ANSWER, 0, 0, grant(r.val)};
            writen(req_w, &a, sizeof a);
            continue;
#else
            return fail(i, "the reference allocator asked for the driver's heap");
#endif
        }
        if (r.kind == R_SYS) {
            waitpid(child, &st, 0);
            child = -1;
            return fail(i, "the allocator's process called %s (system call %ld), which the lab's seccomp filter "
                           "refuses: its process may only ask the driver for heap (mem_sbrk) and answer; the "
                           "driver alone maps, protects and counts memory", syscall_name(r.val), r.val);
        }
        if (r.kind != R_DONE) return fail(i, "the allocator's process sent the driver a message it never sends");
        *out = r;
        break;
    }
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    char buf[160], t[64];
    if (in_replay == 2) strcpy(t, "a timed replay, after the checked pass");
    else if (cur >= 0 && cur < nops) op_text(cur, t, sizeof t); else strcpy(t, "mm_init");
    int n = snprintf(buf, sizeof buf, "FAIL op %ld (%s): the allocator took too long\n", (long)cur + 1, t);
    if (write(1, buf, (size_t)n) < 0) {}
    if (child > 0) kill(child, SIGKILL);
    _exit(1);
}

/* ---- a treap keyed by block start (the scorer's) ------------------------------ */
static int root = -1;
static void split(int t, uintptr_t key, int *a, int *b)      /* a: lo < key, b: lo >= key */
{
    if (t < 0) { *a = *b = -1; return; }
    if (nodes[t].lo < key) { split(nodes[t].r, key, &nodes[t].r, b); *a = t; }
    else { split(nodes[t].l, key, a, &nodes[t].l); *b = t; }
}
static int merge(int a, int b)
{
    if (a < 0) return b;
    if (b < 0) return a;
    if (nodes[a].pri > nodes[b].pri) { nodes[a].r = merge(nodes[a].r, b); return a; }
    nodes[b].l = merge(a, nodes[b].l);
    return b;
}
static int rightmost(int t) { while (t >= 0 && nodes[t].r >= 0) t = nodes[t].r; return t; }
static int leftmost(int t) { while (t >= 0 && nodes[t].l >= 0) t = nodes[t].l; return t; }

static int insert(int id, char *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (n ? n : 1);
    int a, b;
    split(root, lo, &a, &b);
    int before = rightmost(a), after = leftmost(b);
    int clash = before >= 0 && nodes[before].hi > lo ? before : after >= 0 && nodes[after].lo < hi ? after : -1;
    if (clash < 0) {
        nodes[id] = (node_t){lo, hi, (unsigned)rand(), -1, -1};
        a = merge(a, id);
    }
    root = merge(a, b);
    return clash;
}
static void erase(int id)
{
    int a, b, m, c;
    split(root, nodes[id].lo, &a, &b);
    split(b, nodes[id].lo + 1, &m, &c);
    root = merge(a, c);
}

static size_t need_align(size_t n) { return n >= 16 ? 16 : n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1; }
/* A block's bytes: a pattern of its id, written when it is allocated, checked when it is freed or
 * resized and at the end (as CS:APP's driver does). */
static unsigned char pattern(int id, size_t k) { return (unsigned char)(id * 131 + k * 7 + 1); }
static void fill(int id, char *p, size_t from, size_t n) { for (size_t k = from; k < n; k++) p[k] = (char)pattern(id, k); }
static long changed(int id, const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) if ((unsigned char)p[k] != pattern(id, k)) return (long)k;
    return -1;
}

#ifndef MM_REFERENCE
/* The pattern can be computed, and the allocator's process has the trace: it could keep bookkeeping
 * inside live blocks and write their pattern back just before each is freed.  So, after operations
 * chosen at random by the scorer (a ChaCha keystream, 8 rounds, RFC 8439's block function, keyed by
 * getrandom after the fork: the child has neither key nor stream), every live block is checked.
 * A change found this way is kept, not reported at once: the run goes on exactly as it would have,
 * and it is reported only when nothing else failed, so an allocator that simply breaks a block
 * fails at the same operation, with the same message, on every run. */
static uint32_t chacha_key[8];
static uint64_t chacha_counter;
static uint32_t stream[16];
static int stream_left;
#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QR(a, b, c, d) (a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), \
                        a += b, d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))
static uint32_t random32(void)
{
    if (!stream_left) {
        uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}, x[16];
        memcpy(in + 4, chacha_key, sizeof chacha_key);
        in[12] = (uint32_t)chacha_counter; in[13] = (uint32_t)(chacha_counter >> 32);
        chacha_counter++;
        memcpy(x, in, sizeof x);
        for (int r = 0; r < 8; r += 2) {
            QR(x[0], x[4], x[8], x[12]); QR(x[1], x[5], x[9], x[13]); QR(x[2], x[6], x[10], x[14]); QR(x[3], x[7], x[11], x[15]);
            QR(x[0], x[5], x[10], x[15]); QR(x[1], x[6], x[11], x[12]); QR(x[2], x[7], x[8], x[13]); QR(x[3], x[4], x[9], x[14]);
        }
        for (int k = 0; k < 16; k++) stream[k] = x[k] + in[k];
        stream_left = 16;
    }
    return stream[--stream_left];
}
static void random_key(void)
{
    size_t k = 0;
    while (k < sizeof chacha_key) {
        ssize_t g = getrandom((char *)chacha_key + k, sizeof chacha_key - k, 0);
        if (g <= 0) { printf("ERROR cannot read random bytes (getrandom)\n"); exit(2); }
        k += (size_t)g;
    }
}
#define SCAN_ONE_IN 32                   /* after each operation, every live block is checked with this chance */
static long hidden_op = -1, hidden_at;   /* the first change a scan found: operation, byte */
static int hidden_id;
static int scan_now(void) { return random32() % SCAN_ONE_IN == 0; }
static void scan_live(long i)
{
    if (hidden_op >= 0) return;
    for (int id = 0; id < nids; id++) {
        long at;
        if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0) { hidden_op = i; hidden_id = id; hidden_at = at; return; }
    }
}

/* got and rptr are shared with the child (its replays write them), so they are not in its anonymous
 * memory: outside a replay they must hold what the scorer expects, to the end of their pages.
 * after_replay 0: all zero; 1: what a replay leaves (rptr all NULL, got NULL on every free).
 * 0 if so, else 1 + the first wrong byte's offset, with *which naming the array */
static long results_touched(int after_replay, const char **which)
{
    size_t ng = pages((size_t)nops * sizeof *got + 1), nr = pages((size_t)nids * sizeof *rptr + 1);
    const unsigned char *g = (const unsigned char *)got, *r = (const unsigned char *)rptr;
    long at;
    *which = "rptr";
    if ((at = first_nonzero(r, 0, nr))) return at;
    *which = "got";
    if (!after_replay) return first_nonzero(g, 0, ng);
    for (long i = 0; i < nops; i++) if (OPS[i].kind == 'f' && got[i]) return i * (long)sizeof *got + 1;
    return first_nonzero(g, (size_t)nops * sizeof *got, ng);
}
static int results_check(long i, int after_replay, const char *when)
{
    const char *which;
    long at = results_touched(after_replay, &which);
    if (!at) return 0;
    return fail(i, "the allocator wrote the driver's result arrays (%s, byte %ld), shared with its process "
                   "and not counted in its memory, %s: the allocator keeps memory outside the heap",
                which, at - 1, when);
}
#endif

static int placed(long i, int id, char *p, size_t n, const char *what)
{
#ifndef MM_REFERENCE
    if (p < HEAP || p > HEAP + brk_ || (size_t)(HEAP + brk_ - p) < n) {
        if (p >= HEAP && p < HEAP + MAX_HEAP)
            return fail(i, "the %s payload [%zu, %zu) runs past the end of the heap (mem_sbrk has handed out %zu bytes)",
                        what, (size_t)(p - HEAP), (size_t)(p - HEAP) + n, brk_);
        return fail(i, "the %s payload lies outside the heap that mem_sbrk handed out: its memory came from "
                       "somewhere else (the C library's malloc, mmap, a static array)", what);
    }
#endif
    if ((uintptr_t)p % need_align(n))
        return fail(i, "payload is not %zu-byte aligned (address ends in 0x%x)", need_align(n),
                    (unsigned)((uintptr_t)p & 0xf));
    int clash = insert(id, p, n);
    if (clash >= 0) return fail(i, "the %s block overlaps live block %d", what, clash);
    return 0;
}

/* ---- reading the trace ------------------------------------------------------- */
static void read_trace(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { printf("ERROR cannot read %s\n", path); exit(2); }
    size_t textlen = (size_t)st.st_size + 1;
    char *text = get_mem(textlen, 0);
    for (size_t k = 0; k < (size_t)st.st_size; ) {
        ssize_t n = read(fd, text + k, (size_t)st.st_size - k);
        if (n <= 0) { printf("ERROR cannot read %s\n", path); exit(2); }
        k += (size_t)n;
    }
    close(fd);
    char *s = text;
    nids = strtol(s, &s, 10);
    nops = strtol(s, &s, 10);
    if (nids < 0 || nops < 0 || nids > (1L << 26) || nops > (1L << 26)) { printf("ERROR bad header in %s\n", path); exit(2); }
    OPS = get_mem((size_t)nops * sizeof *OPS + 1, 0);
    for (long i = 0; i < nops; i++) {
        while (*s == ' ' || *s == '\n') s++;
        char k = *s++;
        long id = strtol(s, &s, 10), size = 0;
        if (k == 'a' || k == 'r') size = strtol(s, &s, 10);
        if ((k != 'a' && k != 'r' && k != 'f') || id < 0 || id >= nids || size < 0) {
            printf("ERROR op %ld of %s is not 'a ID SIZE', 'r ID SIZE' or 'f ID'\n", i + 1, path);
            exit(2);
        }
        OPS[i] = (op_t){k, (int)id, (size_t)size};
    }
    munmap(text, textlen);
    mprotect(OPS, pages((size_t)nops * sizeof *OPS + 1), PROT_READ);
    nodes = get_mem((size_t)nids * sizeof(node_t), 0);
    ptr = get_mem((size_t)nids * sizeof(char *), 0);
    len = get_mem((size_t)nids * sizeof(size_t), 0);
    ref = get_mem((size_t)nops * sizeof(long) + 1, 0);
    got = get_mem((size_t)nops * sizeof(char *) + 1, 1);
    rptr = get_mem((size_t)nids * sizeof(char *) + 1, 1);
}

/* ======================= the child: the allocator's process ======================= */
static int c_mode;                       /* 1: checked pass (mem_sbrk asks the scorer); 2: a replay */
static size_t c_brk, c_limit, c_rpeak;
static int c_rover;

#ifndef MM_REFERENCE
void *mem_sbrk(intptr_t incr)
{
    if (c_mode == 2) {                   /* a replay: no request, up to the checked pass's highest break */
        if (incr < 0) return (void *)-1;
        if ((size_t)incr > c_limit - c_brk) { c_rover = 1; return (void *)-1; }
        char *old = HEAP + c_brk;
        c_brk += (size_t)incr;
        if (c_brk > c_rpeak) c_rpeak = c_brk;
        return old;
    }
    if (c_mode != 1) return (void *)-1;
    rep_t r = {R_SBRK, 0, (long)incr, 0};
    writen(REP_FD, &r, sizeof r);
    req_t a;
    if (readn(REQ_FD, &a, sizeof a) != 0 || a.cmd != C_SBRK_ANSWER) _exit(2);
    if (a.ptr == (uintptr_t)-1) return (void *)-1;
    c_brk = a.ptr - HEAP_ADDR + (size_t)incr;
    return (void *)a.ptr;
}
void *mem_heap_lo(void) { return HEAP; }
void *mem_heap_hi(void) { return HEAP + c_brk - 1; }
size_t mem_heapsize(void) { return c_brk; }
size_t mem_pagesize(void) { return page_size(); }

/* talloc.c's ta_check keeps a 32 KiB table of its own: touch it before the pass (a heap whose
 * first block is broken makes ta_check clear the whole table and stop), so that the pass's
 * memory growth is the allocator's */
static void touch_ta_check(void)
{
    size_t n = ((size_t)1 << 22) - 128;
    unsigned char *a = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) return;
    ta_heap h = {0};
    h.base = a;
    h.size = n;
    *(size_t *)a = TA_USED;
    *(size_t *)(a + n - TA_TAG) = TA_USED;
    *(size_t *)(a + TA_TAG) = 3;
    char msg[8];
    ta_check(&h, msg, sizeof msg);
    munmap(a, n);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    rep_t r = {R_SYS, 0, si->si_syscall, 0};
    if (write(REP_FD, &r, sizeof r) < 0) {}
    syscall(SYS_exit_group, 3);
}

#if defined(__x86_64__)
#define LAB_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define LAB_ARCH AUDIT_ARCH_AARCH64
#else
#error "the lab's seccomp filter names x86-64 and aarch64 only"
#endif
#define ARG_LO(k) (offsetof(struct seccomp_data, args) + 8 * (k))   /* little-endian: the low 32 bits */
#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JEQ(v, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (t), (f))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

/* the filter: what the allocator's process may still do once it runs learner code */
static void lock_down(pid_t me)
{
    struct sock_filter f[] = {
        LD(offsetof(struct seccomp_data, arch)),
        JEQ(LAB_ARCH, 1, 0), RET(SECCOMP_RET_KILL_PROCESS),
        LD(offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1), RET(SECCOMP_RET_KILL_PROCESS),   /* x32 */
#endif
        /* read: only the request pipe */
        JEQ(SYS_read, 0, 4), LD(ARG_LO(0)), JEQ(REQ_FD, 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_TRAP),
        /* write: only the answer pipe and stderr (an assert's message) */
        JEQ(SYS_write, 0, 5), LD(ARG_LO(0)), JEQ(REP_FD, 1, 0), JEQ(2, 0, 1), RET(SECCOMP_RET_ALLOW),
        RET(SECCOMP_RET_TRAP),
        JEQ(SYS_writev, 0, 4), LD(ARG_LO(0)), JEQ(2, 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_TRAP),
        /* kill, tgkill: only itself, only SIGABRT (abort, assert) */
        JEQ(SYS_kill, 0, 6), LD(ARG_LO(0)), JEQ((unsigned)me, 0, 3), LD(ARG_LO(1)),
        JEQ(SIGABRT, 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_TRAP),
        JEQ(SYS_tgkill, 0, 6), LD(ARG_LO(0)), JEQ((unsigned)me, 0, 3), LD(ARG_LO(2)),
        JEQ(SIGABRT, 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_TRAP),
        /* and what abort needs to end the process */
        JEQ(SYS_exit_group, 6, 0), JEQ(SYS_exit, 5, 0), JEQ(SYS_getpid, 4, 0), JEQ(SYS_gettid, 3, 0),
        JEQ(SYS_rt_sigprocmask, 2, 0), JEQ(SYS_rt_sigreturn, 1, 0), JEQ(SYS_restart_syscall, 0, 1),
        RET(SECCOMP_RET_ALLOW),
        RET(SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        static const char msg[] = "ERROR cannot install the lab's seccomp filter\n";
        if (write(2, msg, sizeof msg - 1) < 0) {}
        _exit(2);
    }
}
#endif

__attribute__((unused)) static long rss_bytes_self(void)
{
    return anon_bytes("/proc/self/statm");
}

#ifdef MM_REFERENCE
/* the reference path's checked pass, in the child (trusted code: glibc or mimalloc) */
static int ref_pass(long *peak_live_out, long *peak_fp_out)
{
    size_t live = 0, peak_live = 0, peak_fp = 0;
    long base = rss_bytes_self();
    if (mm_init() != 0) { say("FAIL op 0 (mm_init): mm_init returned an error\n"); return 1; }
    for (long i = 0; i < nops; i++) {
        const op_t *o = &OPS[i];
        int id = o->id;
        long at;
        cur = i;
        if (o->kind == 'a') {
            char *p = mm_malloc(o->size);
            if (!p && o->size) return fail(i, "mm_malloc returned NULL");
            if (p && placed(i, id, p, o->size, "new")) return 1;
            if (p) fill(id, p, 0, o->size);
            ptr[id] = p; len[id] = o->size; live += o->size;
        } else if (o->kind == 'f') {
            if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was freed", id, at);
            if (ptr[id]) { erase(id); mm_free(ptr[id]); }
            live -= len[id]; ptr[id] = NULL; len[id] = 0;
        } else {
            size_t old = len[id];
            if (ptr[id] && (at = changed(id, ptr[id], old)) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was resized", id, at);
            if (ptr[id]) erase(id);
            char *p = mm_realloc(ptr[id], o->size);
            if (!p && o->size) return fail(i, "mm_realloc returned NULL");
            size_t keep = old < o->size ? old : o->size;
            if (p && placed(i, id, p, o->size, "resized")) return 1;
            if (p && (at = changed(id, p, keep)) >= 0)
                return fail(i, "mm_realloc did not keep the old bytes: byte %ld differs", at);
            if (p) fill(id, p, keep, o->size);
            live += o->size - old; ptr[id] = p; len[id] = p ? o->size : 0;
        }
        if (live > peak_live) peak_live = live;
        long fp = rss_bytes_self() - base;
        if (fp > 0 && (size_t)fp > peak_fp) peak_fp = (size_t)fp;
    }
    cur = -1;
    for (int id = 0; id < nids; id++) {
        long at;
        if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
            return fail(-1, "block %d, still live at the end of the trace, was overwritten at byte %ld", id, at);
    }
    for (int id = 0; id < nids; id++) if (ptr[id]) { erase(id); mm_free(ptr[id]); ptr[id] = NULL; }
    *peak_live_out = (long)peak_live;
    *peak_fp_out = (long)peak_fp;
    return 0;
}
#endif

/* one timed replay, in the child: mm_init and the whole trace, no checks */
static void child_replay(size_t limit, rep_t *r)
{
    c_mode = 2; c_brk = c_rpeak = 0; c_rover = 0; c_limit = limit;
    if (mm_init() != 0) { r->val = -1; c_mode = 0; return; }
    for (long i = 0; i < nops; i++) {
        const op_t *o = &OPS[i];
        if (o->kind == 'a') { got[i] = rptr[o->id] = mm_malloc(o->size); if (o->size && got[i]) got[i][0] = 1; }
        else if (o->kind == 'f') { if (rptr[o->id]) mm_free(rptr[o->id]); rptr[o->id] = NULL; }
        else { got[i] = rptr[o->id] = mm_realloc(rptr[o->id], o->size); if (o->size && got[i]) got[i][0] = 1; }
    }
    for (long id = 0; id < nids; id++) if (rptr[id]) { mm_free(rptr[id]); rptr[id] = NULL; }
    c_mode = 0;
    r->val = c_rover ? -2 : (long)c_rpeak;
}

static void child_main(int req_r, int rep_w)
{
#ifndef MM_REFERENCE
    pid_t me = getpid();
#endif
    if (dup2(req_r, REQ_FD) != REQ_FD || dup2(rep_w, REP_FD) != REP_FD) _exit(2);
#ifndef MM_REFERENCE
    /* the scorer's memory is the scorer's: its copy here goes, and every descriptor but the two pipes and stderr */
    munmap(nodes, (size_t)nids * sizeof(node_t)); munmap(len, (size_t)nids * sizeof(size_t));
    munmap(ref, (size_t)nops * sizeof(long) + 1); munmap(ptr, (size_t)nids * sizeof(char *));
    close(0);
    close(1);
    for (int fd = REP_FD + 1; fd < 1024; fd++) close(fd);
    touch_ta_check();
    void *volatile warm = malloc(1);     /* glibc's arena made now (assert's message needs it): */
    free(warm);                          /* volatile, or gcc drops the pair */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    signal(SIGALRM, SIG_DFL);
    alarm(0);
    lock_down(me);
#else
    for (int fd = REP_FD + 1; fd < 1024; fd++) close(fd);
#endif
    rep_t ready = {R_READY, mm_checkheap != 0, 0, 0};
    writen(REP_FD, &ready, sizeof ready);
    for (;;) {
        req_t q;
        if (readn(REQ_FD, &q, sizeof q) != 0) _exit(0);
        rep_t r = {R_DONE, 0, 0, 0};
        switch (q.cmd) {
#ifndef MM_REFERENCE
        case C_INIT: c_mode = 1; r.val = mm_init(); break;
        case C_MALLOC: c_mode = 1; r.val = (long)(uintptr_t)mm_malloc(q.size); break;
        case C_FREE: c_mode = 1; mm_free((void *)q.ptr); break;
        case C_REALLOC: c_mode = 1; r.val = (long)(uintptr_t)mm_realloc((void *)q.ptr, q.size); break;
#else
        case C_REFPASS: {
            long pl = 0, pf = 0;
            if (ref_pass(&pl, &pf)) _exit(1);
            r.val = pl; r.val2 = pf;
            break;
        }
#endif
        case C_REPLAY: child_replay(q.size, &r); break;
        default: _exit(2);
        }
#ifndef MM_REFERENCE
        if (q.cmd == C_MALLOC || q.cmd == C_FREE || q.cmd == C_REALLOC)
            r.val2 = mm_checkheap ? mm_checkheap(0) : 0;      /* after every operation, when defined */
#endif
        writen(REP_FD, &r, sizeof r);
    }
}

/* ============================ the scorer ============================ */
static void start_child(void)
{
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) { printf("ERROR cannot make the driver's pipes\n"); exit(2); }
    fflush(stdout);
    child = fork();
    if (child < 0) { printf("ERROR cannot fork the allocator's process\n"); exit(2); }
    if (child == 0) {
        close(a[1]); close(b[0]);
        child_main(a[0], b[1]);
        _exit(0);
    }
    close(a[0]); close(b[1]);
    req_w = a[1]; rep_r = b[0];
    rep_t r;
    int st;
    if (readn(rep_r, &r, sizeof r) != 0 || r.kind != R_READY) {
        waitpid(child, &st, 0);
        child = -1;
        say("ERROR the allocator's process did not start (the lab's seccomp filter could not be installed?)\n");
        exit(2);
    }
    has_checkheap = r.has_checkheap;
    if (clock_getcpuclockid(child, &child_clock) != 0) { say("ERROR cannot read the allocator's CPU clock\n"); exit(2); }
}

#ifndef MM_REFERENCE
static int after_op(long i)
{
    if (past_break)
        return fail(i, "the allocator wrote past the end of the heap (at byte %ld, beyond the break "
                       "mem_sbrk had handed out) before growing it", past_break - 1);
    long w = written_past(brk_, open_);
    if (w) return fail(i, "the allocator wrote past the end of the heap (at byte %ld, beyond the break)", w - 1);
    long t = touched_past();
    if (t)
        return fail(i, "the allocator touched memory past the end of the heap that mem_sbrk handed out "
                       "(the page at byte %ld, beyond the %zu bytes opened)", t - 1, open_);
    return 0;
}

/* 1 + 2: correctness and utilisation, the child doing each operation when asked */
static int check_pass(size_t *peak_live, long anon_base)
{
    size_t live = 0;
    rep_t r;
    *peak_live = 0;
    cur = -1;
    if (call(-2, (req_t){C_INIT, 0, 0, 0}, &r)) return 1;
    if (r.val != 0) return fail(-2, "mm_init returned an error");
    if (after_op(-2)) return 1;
    for (long i = 0; i < nops; i++) {
        const op_t *o = &OPS[i];
        int id = o->id;
        long at;
        cur = i;
        if (o->kind == 'a') {
            if (call(i, (req_t){C_MALLOC, 0, o->size, 0}, &r)) return 1;
            char *p = (char *)(uintptr_t)r.val;
            if (!p && o->size) return fail(i, "mm_malloc returned NULL");
            if (after_op(i)) return 1;
            if (p && placed(i, id, p, o->size, "new")) return 1;
            if (p) fill(id, p, 0, o->size);
            ref[i] = p ? (long)(p - HEAP) : -1;
            ptr[id] = p; len[id] = o->size; live += o->size;
        } else if (o->kind == 'f') {
            if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was freed", id, at);
            if (ptr[id]) {
                erase(id);
                if (call(i, (req_t){C_FREE, 0, 0, (uintptr_t)ptr[id]}, &r)) return 1;
                if (after_op(i)) return 1;
            }
            live -= len[id]; ptr[id] = NULL; len[id] = 0;
        } else {
            size_t old = len[id];
            if (ptr[id] && (at = changed(id, ptr[id], old)) >= 0)
                return fail(i, "block %d was overwritten at byte %ld before it was resized", id, at);
            if (ptr[id]) erase(id);
            if (call(i, (req_t){C_REALLOC, 0, o->size, (uintptr_t)ptr[id]}, &r)) return 1;
            char *p = (char *)(uintptr_t)r.val;
            if (!p && o->size) return fail(i, "mm_realloc returned NULL");
            if (after_op(i)) return 1;
            size_t keep = !ptr[id] ? 0 : old < o->size ? old : o->size;
            if (p && placed(i, id, p, o->size, "resized")) return 1;
            if (p && (at = changed(id, p, keep)) >= 0)
                return fail(i, "mm_realloc did not keep the old bytes: byte %ld differs", at);
            if (p) fill(id, p, keep, o->size);
            ref[i] = p ? (long)(p - HEAP) : -1;
            live += o->size - old; ptr[id] = p; len[id] = p ? o->size : 0;
        }
        if (has_checkheap && r.val2 != 0)
            return fail(i, "mm_checkheap() says the heap is broken after this operation");
        if (scan_now()) {
            if (results_check(i, 0, "during the checked pass")) return 1;
            scan_live(i);
        }
        if (live > *peak_live) *peak_live = live;
    }
    cur = -1;
    long grew = child_anon() - anon_base;
    if (grew > 0 && (size_t)grew > RSS_SLACK)
        return fail(-1, "the allocator's process's memory grew by %zu bytes during the pass outside the heap "
                        "mem_sbrk opened (the driver's own need stays under %zu): the allocator keeps memory "
                        "outside the heap", (size_t)grew, (size_t)RSS_SLACK);
    long past = written_past(brk_, open_);
    if (past) return fail(-1, "the allocator wrote past the end of the heap (at byte %ld, beyond the break)", past - 1);
    for (int id = 0; id < nids; id++) {
        long at;
        if (ptr[id] && (at = changed(id, ptr[id], len[id])) >= 0)
            return fail(-1, "block %d, still live at the end of the trace, was overwritten at byte %ld", id, at);
    }
    for (int id = 0; id < nids; id++)
        if (ptr[id]) {
            erase(id);
            if (call(-1, (req_t){C_FREE, 0, 0, (uintptr_t)ptr[id]}, &r)) return 1;
            ptr[id] = NULL;
        }
    if (after_op(-1)) return 1;
    if (results_check(-1, 0, "during the checked pass")) return 1;
    if (hidden_op >= 0)
        return fail(hidden_op, "block %d, live, had byte %ld changed after this operation, and its bytes were put "
                               "back before anything else looked: the allocator kept something inside a live block",
                    hidden_id, hidden_at);
    if (*peak_live > peak_) { say("ERROR peak live %zu above the footprint %zu\n", *peak_live, peak_); return 1; }
    return 0;
}
#endif

/* 3: one timed replay: the child's CPU time from the request to its answer */
static int replays_done __attribute__((unused));
static int replay(double *dt)
{
    struct timespec t0, t1;
    rep_t r;
#ifndef MM_REFERENCE
    if (results_check(-1, replays_done > 0, replays_done ? "between two replays" : "before the first replay")) return 1;
#endif
    memset(rptr, 0, (size_t)nids * sizeof *rptr);
    memset(got, 0, (size_t)nops * sizeof *got);
#ifndef MM_REFERENCE
    memset(HEAP, 0, open_);                       /* a fresh heap, as the checked pass had, its pages there */
#endif
    in_replay = 2;
    clock_gettime(child_clock, &t0);
    if (call(-1, (req_t){C_REPLAY, 0, peak_, 0}, &r)) return 1;
    clock_gettime(child_clock, &t1);
    in_replay = 0;
    *dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (r.val == -1) { in_replay = 2; return fail(-1, "mm_init returned an error in a timed replay"); }
#ifndef MM_REFERENCE
    in_replay = 1;
    if (r.val == -2)
        return fail(-1, "a timed replay asked mem_sbrk for more than the %zu bytes the checked pass reached", peak_);
    long t = touched_past();
    if (t)
        return fail(-1, "the allocator touched memory past the end of the heap that mem_sbrk handed out "
                        "(the page at byte %ld, beyond the %zu bytes opened)", t - 1, open_);
    for (long i = 0; i < nops; i++) {
        const op_t *o = &OPS[i];
        if (o->kind == 'f') continue;
        long off = got[i] ? (long)(got[i] - HEAP) : -1;
        if (off != ref[i]) {
            if (off < 0) return fail(i, "%s returned NULL", o->kind == 'a' ? "mm_malloc" : "mm_realloc");
            return fail(i, "returned heap offset %ld, where the checked pass returned %ld", off, ref[i]);
        }
    }
    if ((size_t)r.val != peak_)
        return fail(-1, "a timed replay's highest break was %ld bytes, the checked pass's %zu", r.val, peak_);
    in_replay = 0;
    replays_done++;
    if (results_check(-1, 1, "at the end of a replay")) return 1;
#endif
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);           /* stdio must not call malloc */
    if (argc < 2) { printf("usage: mdriver TRACE [REPEATS]\n"); return 2; }
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (repeats < 0 || repeats > MAX_REPEATS) repeats = 5;
    read_trace(argv[1]);
    srand(1);
#ifndef MM_REFERENCE
    memfd = memfd_create("mdriver-heap", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)MAX_HEAP) != 0) { printf("ERROR cannot make the heap (memfd)\n"); return 2; }
    void *h = mmap(HEAP, MAX_HEAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 0);
    if (h != HEAP) { printf("ERROR cannot map the heap at %#lx\n", (unsigned long)HEAP_ADDR); return 2; }
    madvise(HEAP, MAX_HEAP, MADV_NOHUGEPAGE);     /* a touched page is one page of the memfd, not 2 MiB */
#endif
    signal(SIGALRM, on_alarm);
    alarm(60);
    start_child();
#ifndef MM_REFERENCE
    random_key();                                 /* after the fork: the child has no copy */
#endif
    size_t peak_live;
    long live_out = 0;
#ifndef MM_REFERENCE
    long anon_base = child_anon();
    if (check_pass(&peak_live, anon_base)) return 1;
    live_out = (long)peak_live;
    say("OK ops=%ld\n", nops);
    say("UTIL live=%zu footprint=%zu%s\n", peak_live, peak_, shrink_tried ? " shrink_refused=1" : "");
#else
    rep_t r;
    if (call(-1, (req_t){C_REFPASS, 0, 0, 0}, &r)) return 1;
    live_out = r.val;
    peak_ = (size_t)r.val2;
    (void)peak_live;
    say("OK ops=%ld\n", nops);
    say("UTIL live=%ld footprint_rss=%zu\n", live_out, peak_);
#endif
    (void)live_out;
    if (repeats > 0) {
        double t[MAX_REPEATS], dt;
        if (replay(&dt)) return 1;                            /* warm-up */
        for (int k = 0; k < repeats; k++) {
            if (replay(&dt)) return 1;
            t[k] = dt;
        }
#ifndef MM_REFERENCE
        long grew = child_anon() - anon_base;
        if (grew > 0 && (size_t)grew > RSS_SLACK) {
            fail(-1, "the allocator's process's memory grew by %zu bytes over the replays outside the heap "
                     "(the driver's own need stays under %zu): the allocator keeps memory outside the heap",
                 (size_t)grew, (size_t)RSS_SLACK);
            return 1;
        }
#endif
        qsort(t, (size_t)repeats, sizeof t[0], cmp);
        say("TIME median=%.9f min=%.9f max=%.9f repeats=%d\n", t[repeats / 2], t[0], t[repeats - 1], repeats);
    }
    if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); }
    return 0;
}
