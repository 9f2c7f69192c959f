/* numbers.c: one process, several steps, every number called "memory" at each.
 *
 *   ./numbers FILE     (FILE: a scratch file of 16 MiB is written there)
 *
 * Prints one line per step:  step VSZ RSS PSS USS Anon Swap faults tableRss tablePss
 * (KiB, faults cumulative since the program started). VSZ is VmSize from
 * /proc/self/status; RSS, PSS, USS (Private_Clean + Private_Dirty), Anon
 * (Anonymous: resident anonymous pages, the ones a leak adds) and Swap are
 * from /proc/self/smaps_rollup; tableRss/tablePss are the Rss and Pss of the
 * read-only data of libtable.so, read from /proc/self/smaps.
 * Build: gcc -O1 numbers.c -o numbers -L. -ltable -Wl,-rpath,'$ORIGIN'
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vmstat.h"

const void *table_address(void);        /* libtable.so */
unsigned long table_touch(void);

static void table_sizes(long *rss, long *pss) {
    static char buf[1 << 17];
    vmstat_slurp("/proc/self/smaps", buf, sizeof buf);
    *rss = *pss = -1;
    /* find the region that contains the table: the maps line "start-end ..." around it */
    unsigned long want = (unsigned long)table_address();
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *dash;
        unsigned long lo = strtoul(line, &dash, 16), hi;
        if (*dash != '-') continue;
        hi = strtoul(dash + 1, NULL, 16);
        if (lo <= want && want < hi) {
            *rss = vmstat_field(line, "\nRss:");
            *pss = vmstat_field(line, "\nPss:");
            return;
        }
    }
}

static void row(const char *step) {
    struct vmstat s;
    long trss, tpss;
    vmstat_read(&s);
    table_sizes(&trss, &tpss);
    printf("%-28s %8ld %7ld %7ld %7ld %7ld %5ld %7ld %5ld %5ld\n", step, s.vsz_kib, s.rss_kib, s.pss_kib,
           s.uss_kib, s.anon_kib, s.swap_kib, s.minflt, trss, tpss);
}

static void wait_byte(int fd) { char c; if (read(fd, &c, 1) != 1) exit(1); }
static void send_byte(int fd) { if (write(fd, "x", 1) != 1) exit(1); }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE\n", argv[0]); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    const size_t MiB = 1u << 20;
    printf("%-28s %8s %7s %7s %7s %7s %5s %7s %5s %5s\n", "step", "VSZ", "RSS", "PSS", "USS", "Anon", "Swap",
           "faults", "tRSS", "tPSS");
    row("start");
    char *arena = mmap(NULL, 256 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(arena, 256 * MiB, MADV_NOHUGEPAGE);
    row("reserve 256 MiB");
    mprotect(arena, 64 * MiB, PROT_READ | PROT_WRITE);
    row("commit 64 MiB of it");
    memset(arena, 1, 32 * MiB);
    row("write 32 MiB of it");
    char *volatile unused = malloc(32 * MiB);
    row("malloc 32 MiB, not written");
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)(16 * MiB)) != 0) { perror(argv[1]); return 1; }
    const volatile char *file = mmap(NULL, 16 * MiB, PROT_READ, MAP_SHARED, fd, 0);
    for (size_t i = 0; i < 16 * MiB; i += 4096) (void)file[i];
    row("map a 16 MiB file, read it");
    table_touch();
    row("read libtable's 1 MiB");
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);                    /* so a read sees EOF if the parent dies */
        close(to_parent[0]);
        table_touch();                         /* the child maps the same library pages */
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        memset(arena, 2, 16 * MiB);           /* copy-on-write: the child gets its own 16 MiB */
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);                       /* EOF for the parent if the child dies */
    wait_byte(to_parent[0]);
    row("fork: child shares pages");
    send_byte(to_child[1]);
    wait_byte(to_parent[0]);
    row("child writes 16 MiB (COW)");
    send_byte(to_child[1]);
    waitpid(pid, NULL, 0);
    row("child exits");
    madvise(arena, 32 * MiB, MADV_DONTNEED);
    row("MADV_DONTNEED the 32 MiB");
    free(unused);
    munmap(arena, 256 * MiB);
    row("free + munmap");
    return 0;
}
