/* tracerec.c - record a program's malloc/calloc/realloc/free calls as a trace (LD_PRELOAD).
 *
 *   gcc -O2 -fno-builtin -shared -fPIC tracerec.c -o libtracerec.so -ldl
 *   TRACEREC_OUT=prog.trace LD_PRELOAD=./libtracerec.so some-program args...
 *
 * Writes lesson 01's trace format, plus realloc:  alloc ID SIZE / free ID /
 * realloc ID SIZE.  Every block gets a new number; a pointer the recorder never
 * saw allocated (one from before it started) is left out.  The real allocator
 * (the next malloc in the lookup order: glibc's) still serves every call.
 * Threads: one lock around the bookkeeping, so the trace is one interleaving;
 * TRACEREC_THREADS=1 adds "# t N" to each line (N: 0 for the first thread that
 * allocated, 1 for the next...).
 * Length: TRACEREC_MAX=N stops recording after N operations (a last line
 * "# capped after N operations" says so); the pointer table (4 Mi slots) also
 * stops it when 3 Mi blocks are live at once.
 * Processes: only the process started with TRACEREC_OUT records. The library
 * removes TRACEREC_OUT from the environment when it is loaded, so programs it
 * starts (exec) run unrecorded; a forked child stops recording at the fork
 * (its copy of the unwritten buffer is dropped: the parent writes it).  Each
 * child the process starts (fork, vfork, posix_spawn, system) and each exec
 * adds a line "# child process not recorded (how)", so a reader can tell "no
 * allocations" from "the work happened in a child" (vfork is served by fork).
 * Recursion: dlsym may allocate while the real functions are looked up; those
 * calls get static memory (boot_alloc), per thread.
 * Limits: memalign/posix_memalign/aligned_alloc are not recorded (their frees
 * are then unknown pointers and left out); a process ending in _exit or a
 * crash loses the last unwritten buffer (up to 64 KiB of lines).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);

static int out_fd = -1, started, tag_threads, capped;
static __thread int in_hook __attribute__((tls_model("initial-exec")));
static __thread int my_thread __attribute__((tls_model("initial-exec")));   /* 0: not numbered yet */
static int threads_seen;
static long max_ops = -1, ops_done, live_count;
static volatile int lock_word;
#define SLOTS (1 << 22)                    /* open addressing: pointer -> id */
static char buf[1 << 16];
static size_t used;
static long next_id;

static uintptr_t *keys;
static long *vals;

static char boot[1 << 14];                 /* dlsym may call calloc before we know the real one */
static size_t boot_used;

static void lock(void) { while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {} }
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static void flush(void)
{
    for (size_t off = 0; off < used; ) {
        ssize_t n = write(out_fd, buf + off, used - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    used = 0;
}

static void put_num(unsigned long v)
{
    char d[24];
    int k = 0;
    do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (k) buf[used++] = d[--k];
}

static void put_str(const char *s) { size_t n = strlen(s); memcpy(buf + used, s, n); used += n; }

static void emit(const char *what, long id, long size)
{
    if (out_fd < 0) return;
    if (used > sizeof buf - 96) flush();
    put_str(what);
    put_num((unsigned long)id);
    if (size >= 0) { buf[used++] = ' '; put_num((unsigned long)size); }
    if (tag_threads) {
        if (!my_thread) my_thread = ++threads_seen;
        put_str(" # t ");
        put_num((unsigned long)(my_thread - 1));
    }
    buf[used++] = '\n';
}

static int recording(void)                 /* under the lock: may this call still be recorded? */
{
    if (out_fd < 0 || capped) return 0;
    if ((max_ops >= 0 && ops_done >= max_ops) || live_count >= SLOTS / 4 * 3) {
        capped = 1;
        if (used > sizeof buf - 96) flush();
        put_str("# capped after ");
        put_num((unsigned long)ops_done);
        put_str(" operations\n");
        return 0;
    }
    ops_done++;
    return 1;
}

static size_t slot_of(uintptr_t p)
{
    size_t h = (size_t)((p >> 4) * 0x9E3779B97F4A7C15ULL) & (SLOTS - 1);
    while (keys[h] && keys[h] != p) h = (h + 1) & (SLOTS - 1);
    return h;
}
static void remember(void *p, long id) { size_t h = slot_of((uintptr_t)p); keys[h] = (uintptr_t)p; vals[h] = id; live_count++; }
static long forget(void *p)                /* -1 if unknown; backward-shift delete */
{
    size_t h = slot_of((uintptr_t)p);
    if (!keys[h]) return -1;
    long id = vals[h];
    keys[h] = 0;
    live_count--;
    for (size_t j = (h + 1) & (SLOTS - 1); keys[j]; j = (j + 1) & (SLOTS - 1)) {
        size_t want = (size_t)((keys[j] >> 4) * 0x9E3779B97F4A7C15ULL) & (SLOTS - 1);
        if ((j > h && (want <= h || want > j)) || (j < h && want <= h && want > j)) {
            keys[h] = keys[j]; vals[h] = vals[j]; keys[j] = 0; h = j;
        }
    }
    return id;
}

static void at_exit(void) { lock(); flush(); unlock(); }

static void *boot_alloc(size_t n)          /* while dlsym runs: static memory, never freed */
{
    size_t want = (n + 15) & ~(size_t)15;
    if (boot_used + want > sizeof boot) return NULL;
    void *p = boot + boot_used;
    boot_used += want;
    return p;                              /* static memory: already zero */
}

static void setup_locked(void)
{
    in_hook = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    keys = mmap(NULL, SLOTS * sizeof *keys, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    vals = mmap(NULL, SLOTS * sizeof *vals, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const char *path = getenv("TRACEREC_OUT");
    const char *max = getenv("TRACEREC_MAX");
    const char *thr = getenv("TRACEREC_THREADS");
    if (max && *max) max_ops = atol(max);
    tag_threads = thr && *thr == '1';
    if (path && keys != MAP_FAILED && vals != MAP_FAILED)
        out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    in_hook = 0;
}

static void setup(void)                    /* once, before the first recorded call */
{
    if (__atomic_load_n(&started, __ATOMIC_ACQUIRE)) return;
    lock();
    int first = !started;
    if (first) setup_locked();
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    unlock();
    if (first) atexit(at_exit);            /* outside the lock: atexit may allocate */
}

static void mark_locked(const char *how)  /* a child process the trace will not contain */
{
    if (out_fd < 0) return;
    if (used > sizeof buf - 96) flush();
    put_str("# child process not recorded (");
    put_str(how);
    put_str(")\n");
}
static void mark(const char *how)          /* written now: exec replaces the process, a shell may _exit */
{
    setup();
    lock();
    mark_locked(how);
    if (out_fd >= 0) flush();
    unlock();
}
static void fork_prepare(void) { lock(); }
static void fork_parent(void) { mark_locked("fork"); if (out_fd >= 0) flush(); unlock(); }   /* a shell may end in _exit */
static void fork_child(void)               /* the child records nothing: the parent owns the trace */
{
    used = 0;
    if (out_fd >= 0) close(out_fd);
    out_fd = -1;
    unlock();
}

__attribute__((constructor)) static void tracerec_init(void)
{
    setup();
    unsetenv("TRACEREC_OUT");              /* exec'd children: not recorded (unsetenv does not allocate) */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int is_boot(void *p) { return (char *)p >= boot && (char *)p < boot + sizeof boot; }

void *malloc(size_t n)
{
    if (in_hook) return boot_alloc(n);
    setup();
    lock();
    void *p = real_malloc(n);
    if (p && recording()) { remember(p, next_id); emit("alloc ", next_id++, (long)n); }
    unlock();
    return p;
}

void *calloc(size_t k, size_t n)
{
    if (in_hook) return boot_alloc(k * n);
    setup();
    lock();
    void *p = real_calloc(k, n);
    if (p && recording()) { remember(p, next_id); emit("alloc ", next_id++, (long)(k * n)); }
    unlock();
    return p;
}

void *realloc(void *old, size_t n)
{
    if (old && is_boot(old)) return NULL;
    if (in_hook) return NULL;
    setup();
    lock();
    void *p = real_realloc(old, n);
    if (out_fd >= 0 && !capped) {
        if (!old) {
            if (p && recording()) { remember(p, next_id); emit("alloc ", next_id++, (long)n); }
        } else if (p || n == 0) {
            long id = forget(old);
            if (id >= 0 && recording()) {
                if (p) { remember(p, id); emit("realloc ", id, (long)n); }
                else emit("free ", id, -1);
            }
        }
    }
    unlock();
    return p;
}

void free(void *p)
{
    if (!p || is_boot(p)) return;
    setup();
    lock();
    if (out_fd >= 0 && !capped) {
        long id = forget(p);
        if (id >= 0 && recording()) emit("free ", id, -1);
    }
    real_free(p);
    unlock();
}

/* ---- children: said, not recorded ----------------------------------------------- */
#include <spawn.h>
pid_t vfork(void) { return fork(); }       /* fork is a correct vfork; the fork handlers mark it */
int execve(const char *path, char *const argv[], char *const envp[])
{
    static int (*real)(const char *, char *const[], char *const[]);
    mark("exec");
    if (!real) real = (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execve");
    return real(path, argv, envp);
}
int execv(const char *path, char *const argv[])
{
    static int (*real)(const char *, char *const[]);
    mark("exec");
    if (!real) real = (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execv");
    return real(path, argv);
}
int execvp(const char *file, char *const argv[])
{
    static int (*real)(const char *, char *const[]);
    mark("exec");
    if (!real) real = (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execvp");
    return real(file, argv);
}
int execvpe(const char *file, char *const argv[], char *const envp[])
{
    static int (*real)(const char *, char *const[], char *const[]);
    mark("exec");
    if (!real) real = (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execvpe");
    return real(file, argv, envp);
}
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);
int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                char *const argv[], char *const envp[])
{
    static spawn_fn real;
    mark("posix_spawn");
    if (!real) real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
    return real(pid, path, fa, at, argv, envp);
}
int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                 char *const argv[], char *const envp[])
{
    static spawn_fn real;
    mark("posix_spawn");
    if (!real) real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
    return real(pid, file, fa, at, argv, envp);
}
int system(const char *command)
{
    static int (*real)(const char *);
    if (command) mark("system");
    if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "system");
    return real(command);
}
