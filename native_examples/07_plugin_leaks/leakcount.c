/* leakcount: a counting allocator, preloaded into a program (LD_PRELOAD=libleakcount.so).
 *
 * It interposes malloc, calloc, realloc, free and the aligned and array variants
 * (aligned_alloc, posix_memalign, memalign, valloc, pvalloc, reallocarray), hands the
 * work to glibc (__libc_malloc, __libc_memalign...), and keeps a table of live blocks: size, the address of the
 * code that called malloc, and an "epoch". From that it reports live blocks and bytes
 * per module (the .so whose code called malloc) and per call site, and it can make
 * the N-th allocation fail (fault injection).
 *
 * The program talks to it through weak symbols, so the same program runs without it:
 *   leakcount_mark(i)          print one line per module: "leakcount I MODULE BLOCKS BYTES"
 *   leakcount_arm(n)           start a new epoch; count allocations; the n-th fails (0: none)
 *   leakcount_arm_from(n)      the same, but the n-th and every later allocation fail
 *                              (persistent out-of-memory, as SQLite's tests call it)
 *   leakcount_disarm()         stop; returns how many allocations the epoch made
 *   leakcount_epoch_live(&b)   live blocks (and bytes) made during the last epoch, except
 *                              those glibc itself keeps (made by ld.so, or by libc.so on
 *                              its own behalf)
 * During an armed epoch a block that libc allocates for its caller (strdup, asprintf,
 * fopen...) is charged to the first frame outside libc.so (a backtrace), so a leaked
 * strdup counts as the caller's leak.
 *   leakcount_sites(fd)        the call sites of those blocks, one line each
 *   leakcount_history(&f)      how many times leakcount_arm has been called, ever (and in
 *                              f how many allocations it has made fail): a caller that
 *                              re-arms behind the sweep's back shows here
 *   leakcount_disarms()        how many times leakcount_disarm has been called, ever: a
 *                              caller that disarms behind the sweep's back shows here
 * Environment: LEAKCOUNT_TRACK=armed tracks only armed epochs (cheap in a big process);
 * LEAKCOUNT_FD=n writes marks there instead of stderr.
 * Not thread-safe beyond a spin lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define SLOTS (1u << 18)
#define TOMB ((void *)1)

struct slot { void *ptr; size_t size; void *caller; long epoch; };
static struct slot table[SLOTS];
static long live_blocks, epoch, armed, fail_at, seen, dropped, persistent, arms, injected, disarms;
static int track_all = -1, lock_word;
static __thread int inside;          /* our own calls (dladdr...) are not counted */

static void lock(void) { while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) ; }
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static size_t hash(void *p) { return ((size_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 46; }

static int tracking(void)
{
    if (track_all < 0) {
        const char *t = getenv("LEAKCOUNT_TRACK");
        track_all = !(t && strcmp(t, "armed") == 0);
    }
    return !inside && (track_all || armed);
}

static void insert(void *p, size_t size, void *caller)
{
    lock();
    for (size_t i = hash(p), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
        if (table[i].ptr == NULL || table[i].ptr == TOMB) {
            table[i] = (struct slot){p, size, caller, armed ? epoch : 0};
            live_blocks++;
            unlock();
            return;
        }
    }
    dropped++;                                   /* table full: not counted */
    unlock();
}

static void erase(void *p)
{
    if (!inside)                 /* inside: leakcount_mark already holds the lock */
        lock();
    for (size_t i = hash(p), n = 0; n < SLOTS && table[i].ptr; i = (i + 1) & (SLOTS - 1), n++) {
        if (table[i].ptr == p) {
            table[i].ptr = TOMB;
            live_blocks--;
            break;
        }
    }
    if (!inside)
        unlock();
}

static void *libc_base, *self_base;

/* Called in a constructor: backtrace() loads libgcc's unwinder the first time (with
 * malloc and dlopen), which must not happen inside an allocation. */
__attribute__((constructor)) static void warm_up(void)
{
    Dl_info info;
    void *frames[4];
    inside++;
    if (dladdr((void *)__libc_malloc, &info))
        libc_base = info.dli_fbase;
    if (dladdr((void *)warm_up, &info))
        self_base = info.dli_fbase;
    backtrace(frames, 4);
    inside--;
}

/* Armed: a block libc.so allocates for its caller belongs to the first frame outside
 * libc.so and this shim. */
static void *charged_to(void *caller)
{
    Dl_info info;
    if (!armed || !libc_base || !dladdr(caller, &info) || info.dli_fbase != libc_base)
        return caller;
    void *frames[24];
    inside++;
    int n = backtrace(frames, 24);
    inside--;
    for (int i = 1; i < n; i++)
        if (dladdr(frames[i], &info) && info.dli_fbase != libc_base && info.dli_fbase != self_base)
            return frames[i];
    return caller;
}

static int inject(void)          /* 1: this allocation must fail */
{
    if (!armed || inside)
        return 0;
    ++seen;
    int fails = persistent ? fail_at && seen >= fail_at : seen == fail_at;
    injected += fails;
    return fails;
}

void *malloc(size_t n)
{
    if (inject()) { errno = ENOMEM; return NULL; }
    void *p = __libc_malloc(n);
    if (p && tracking())
        insert(p, n, charged_to(__builtin_return_address(0)));
    return p;
}

void *calloc(size_t a, size_t b)
{
    if (inject()) { errno = ENOMEM; return NULL; }
    void *p = __libc_calloc(a, b);
    if (p && tracking())
        insert(p, a * b, charged_to(__builtin_return_address(0)));
    return p;
}

void *realloc(void *old, size_t n)
{
    if (old == NULL)
        return malloc(n);
    if (inject()) { errno = ENOMEM; return NULL; }
    void *p = __libc_realloc(old, n);
    if (p || n == 0) {
        erase(old);
        if (p && tracking())
            insert(p, n, charged_to(__builtin_return_address(0)));
    }
    return p;
}

static void *aligned(size_t align, size_t n, void *caller)
{
    if (inject()) { errno = ENOMEM; return NULL; }
    void *p = __libc_memalign(align, n);
    if (p && tracking())
        insert(p, n, charged_to(caller));
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return aligned(align, n, __builtin_return_address(0));
}

void *memalign(size_t align, size_t n)
{
    return aligned(align, n, __builtin_return_address(0));
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0)
        return EINVAL;
    void *p = aligned(align, n, __builtin_return_address(0));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return aligned((size_t)sysconf(_SC_PAGESIZE), n, __builtin_return_address(0));
}

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return aligned(page, (n + page - 1) / page * page, __builtin_return_address(0));
}

void *reallocarray(void *old, size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) { errno = ENOMEM; return NULL; }
    if (old == NULL) {
        if (inject()) { errno = ENOMEM; return NULL; }
        void *p = __libc_malloc(n);
        if (p && tracking())
            insert(p, n, charged_to(__builtin_return_address(0)));
        return p;
    }
    if (inject()) { errno = ENOMEM; return NULL; }
    void *p = __libc_realloc(old, n);
    if (p || n == 0) {
        erase(old);
        if (p && tracking())
            insert(p, n, charged_to(__builtin_return_address(0)));
    }
    return p;
}

void free(void *p)
{
    if (!p)
        return;
    erase(p);
    __libc_free(p);
}

void leakcount_arm(long n)
{
    lock();
    epoch++;
    arms++;
    armed = 1;
    fail_at = n;
    seen = 0;
    persistent = 0;
    unlock();
}

void leakcount_arm_from(long n)
{
    leakcount_arm(n);
    persistent = 1;
}

long leakcount_disarm(void)
{
    disarms++;
    armed = 0;
    return seen;
}

long leakcount_history(long *failures)
{
    if (failures)
        *failures = injected;
    return arms;
}

long leakcount_disarms(void)
{
    return disarms;
}

static const char *module_of(void *caller, const char **func);

/* glibc's own modules keep some blocks on purpose and free them later themselves
 * (the loader's, dlerror()'s message after a failed dlopen): not counted as leaks. */
static int system_module(const char *m)
{
    return strncmp(m, "ld-linux", 8) == 0 || strncmp(m, "libc.so", 7) == 0;
}

long leakcount_epoch_live(long *bytes)
{
    long blocks = 0, total = 0;
    const char *func;
    inside++;
    lock();
    for (size_t i = 0; i < SLOTS; i++)
        if (table[i].ptr && table[i].ptr != TOMB && table[i].epoch == epoch && epoch
            && !system_module(module_of(table[i].caller, &func))) {
            blocks++;
            total += (long)table[i].size;
        }
    unlock();
    inside--;
    if (bytes)
        *bytes = total;
    return blocks;
}

static const char *module_of(void *caller, const char **func)
{
    Dl_info info;
    *func = "?";
    if (!dladdr(caller, &info) || !info.dli_fname)
        return "?";
    if (info.dli_sname)
        *func = info.dli_sname;
    const char *slash = strrchr(info.dli_fname, '/');
    const char *name = slash ? slash + 1 : info.dli_fname;
    return *name ? name : "(program)";
}

#define MAXMOD 32
void leakcount_mark(long iteration)
{
    const char *names[MAXMOD];
    long blocks[MAXMOD] = {0}, bytes[MAXMOD] = {0};
    int nmod = 0;
    static int fd = -1;
    if (fd < 0) {
        const char *f = getenv("LEAKCOUNT_FD");
        fd = f ? atoi(f) : 2;
    }
    inside++;
    lock();
    for (size_t i = 0; i < SLOTS; i++) {
        if (!table[i].ptr || table[i].ptr == TOMB)
            continue;
        const char *func, *m = module_of(table[i].caller, &func);
        int k = 0;
        while (k < nmod && strcmp(names[k], m) != 0)
            k++;
        if (k == nmod) {
            if (nmod == MAXMOD)
                continue;
            names[nmod++] = m;
        }
        blocks[k]++;
        bytes[k] += (long)table[i].size;
    }
    unlock();
    char line[256];
    for (int k = 0; k < nmod; k++) {
        int n = snprintf(line, sizeof line, "leakcount %ld %s %ld %ld\n", iteration, names[k],
                         blocks[k], bytes[k]);
        if (write(fd, line, (size_t)n) < 0)
            break;
    }
    inside--;
}

void leakcount_sites(int fd)
{
    char line[256];
    inside++;
    lock();
    for (size_t i = 0; i < SLOTS; i++) {
        if (!table[i].ptr || table[i].ptr == TOMB || table[i].epoch != epoch || !epoch)
            continue;
        const char *func, *m = module_of(table[i].caller, &func);
        if (system_module(m))
            continue;
        int n = snprintf(line, sizeof line, "site %s %s %zu\n", m, func, table[i].size);
        if (write(fd, line, (size_t)n) < 0)
            break;
    }
    unlock();
    inside--;
}
