/* overcommit.c: what Linux promises, and when it says no.
 *
 *   ./overcommit sizes      ask for private writable memory of 1/2 and of 2x the
 *                           machine's RAM + swap in one mmap, the same 2x with
 *                           PROT_NONE and with MAP_NORESERVE, then the 2x PROT_NONE
 *                           reservation made writable with mprotect (the commit), and
 *                           8 mallocs of 1/2 RAM + swap each (none of it touched)
 *   ./overcommit commit     the system's Committed_AS (/proc/meminfo) around each step:
 *                           reserve 1 GiB PROT_NONE, mprotect 256 MiB of it writable,
 *                           touch 8 MiB, mprotect it back to PROT_NONE, munmap; then
 *                           the same reservation with MAP_NORESERVE. A refused mprotect
 *                           (mode 2 at CommitLimit) prints "refused (ENOMEM)" and
 *                           the step goes on to munmap
 *   ./overcommit touch MIB  malloc MIB MiB and write it 16 MiB at a time (with a
 *                           5 ms pause each), printing how far it got: run it
 *                           under a memory cap
 *
 * Nothing here touches more memory than "touch" is asked to. Whether the big
 * requests succeed depends on /proc/sys/vm/overcommit_memory (0: heuristic, 1:
 * always, 2: strict accounting against CommitLimit); see the kernel's
 * Documentation/mm/overcommit-accounting.rst.
 * Build: gcc -O1 overcommit.c -o overcommit
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void try_mmap(const char *what, size_t bytes, int prot, int flags, double ram) {
    void *p = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    printf("%-52s %5.2fx RAM+swap: %s\n", what, bytes / ram,
           p == MAP_FAILED ? strerror(errno) : "succeeded");
    if (p != MAP_FAILED) munmap(p, bytes);
}

/* Reserve `bytes` with PROT_NONE (never charged), then make all of it writable: the
 * step Linux charges against the commit (mm/mprotect.c, mprotect_fixup). */
static void try_commit(const char *what, size_t bytes, int flags, double ram) {
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED) {
        printf("%-52s %5.2fx RAM+swap: reservation failed: %s\n", what, bytes / ram, strerror(errno));
        return;
    }
    int rc = mprotect(p, bytes, PROT_READ | PROT_WRITE);
    printf("%-52s %5.2fx RAM+swap: %s\n", what, bytes / ram, rc ? strerror(errno) : "succeeded");
    munmap(p, bytes);
}

static int sizes(void) {
    struct sysinfo si;
    sysinfo(&si);
    double ram = ((double)si.totalram + si.totalswap) * si.mem_unit;
    size_t half = (size_t)(ram / 2), twice = (size_t)(ram * 2);
    try_mmap("mmap read/write, private", half, PROT_READ | PROT_WRITE, 0, ram);
    try_mmap("mmap read/write, private", twice, PROT_READ | PROT_WRITE, 0, ram);
    try_mmap("mmap PROT_NONE (a reservation)", twice, PROT_NONE, 0, ram);
    try_mmap("mmap read/write, MAP_NORESERVE", twice, PROT_READ | PROT_WRITE, MAP_NORESERVE, ram);
    try_commit("reserve PROT_NONE, then mprotect all READ|WRITE", twice, 0, ram);
    try_commit("the same, reserved with MAP_NORESERVE", twice, MAP_NORESERVE, ram);
    void *blocks[8];
    int got = 0;
    for (int i = 0; i < 8; i++)
        if ((blocks[i] = malloc(half)) != NULL) got++;
    printf("%-52s %5.2fx RAM+swap: %d of 8 succeeded\n", "8 x malloc(1/2 RAM+swap), together", 8 * (half / ram), got);
    for (int i = 0; i < 8; i++) free(blocks[i]);
    return 0;
}

/* Committed_AS in KiB: the kernel's sum of every process's commit (mm/util.c) */
static long committed_as(void) {
    char buf[8192];
    FILE *f = fopen("/proc/meminfo", "r");
    long kb = -1;
    if (!f) return -1;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "Committed_AS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

static long mark;
static void since(const char *what) {
    long now = committed_as();
    printf("%-44s Committed_AS %+9ld KiB\n", what, now - mark);
    mark = committed_as();
}

static int commit(void) {
    const size_t GiB = 1u << 30, MiB = 1u << 20;
    for (int noreserve = 0; noreserve <= 1; noreserve++) {
        printf("%s\n", noreserve ? "# with MAP_NORESERVE" : "# plain reservation");
        mark = committed_as();
        char *p = mmap(NULL, GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0), -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        madvise(p, GiB, MADV_NOHUGEPAGE);
        since("mmap 1 GiB PROT_NONE (reserve)");
        if (mprotect(p, 256 * MiB, PROT_READ | PROT_WRITE) != 0) {
            /* refused: in mode 2 when less than 256 MiB is left under CommitLimit (or past
             * RLIMIT_DATA): nothing was charged, nothing may be written */
            printf("%-44s refused (%s)\n", "mprotect 256 MiB READ|WRITE (commit)",
                   errno == ENOMEM ? "ENOMEM" : strerror(errno));
            mark = committed_as();
        } else {
            since("mprotect 256 MiB READ|WRITE (commit)");
            memset(p, 1, 8 * MiB);
            since("write 8 MiB of it");
            mprotect(p, 256 * MiB, PROT_NONE);
            since("mprotect the 256 MiB back to PROT_NONE");
        }
        munmap(p, GiB);
        since("munmap");
    }
    return 0;
}

static int touch(long mib) {
    size_t size = (size_t)mib << 20;
    setvbuf(stdout, NULL, _IONBF, 0);     /* killed from outside: nothing may wait in a buffer */
    char *p = malloc(size);
    if (!p) { printf("malloc(%ld MiB) returned NULL\n", mib); return 1; }
    printf("malloc(%ld MiB) succeeded\n", mib);
    for (size_t done = 0; done < size; done += 16u << 20) {
        memset(p + done, 1, 16u << 20);
        printf("touched %zu MiB\n", (done >> 20) + 16);
        usleep(5000);     /* 5 ms per 16 MiB: the course's memory cap looks every 20 ms */
    }
    free(p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "sizes")) return sizes();
    if (argc >= 2 && !strcmp(argv[1], "commit")) return commit();
    if (argc >= 3 && !strcmp(argv[1], "touch")) return touch(atol(argv[2]));
    fprintf(stderr, "usage: %s sizes | commit | touch MIB\n", argv[0]);
    return 2;
}
