/* mapfile.c: a file mapped into memory, read and written through page faults.
 *
 *   ./mapfile faults FILE MIB  write a MIB MiB file, ask the kernel to drop it from
 *                              the page cache, then map it and read one byte per
 *                              page, twice (two mappings): faults, major faults and
 *                              mincore()'s count of cached pages at each stage
 *   ./mapfile share FILE       two processes (parent and a forked child) each map
 *                              the same 4-page file: MAP_SHARED writes are seen by
 *                              the other process and by read(); a MAP_PRIVATE
 *                              mapping copies a page on its first write
 * Build: gcc -O1 mapfile.c -o mapfile
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vmstat.h"

#define PAGE 4096L

static long cached_pages(void *addr, size_t len) {
    size_t pages = (len + PAGE - 1) / PAGE;
    unsigned char *vec = malloc(pages);
    if (mincore(addr, len, vec) != 0) { perror("mincore"); exit(1); }
    long n = 0;
    for (size_t i = 0; i < pages; i++) n += vec[i] & 1;
    free(vec);
    return n;
}

static void read_pass(const char *what, int fd, size_t len) {
    char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    long before_cached = cached_pages(p, len);
    struct vmstat a, b;
    vmstat_read(&a);
    unsigned long sum = 0;
    for (size_t i = 0; i < len; i += PAGE) sum += (unsigned char)p[i];
    vmstat_read(&b);
    printf("%-15s pages %5zu, in the page cache before %5ld, page faults %5ld (major %ld), "
           "in the page cache after %5ld\n", what, len / PAGE, before_cached,
           b.minflt - a.minflt + b.majflt - a.majflt, b.majflt - a.majflt, cached_pages(p, len));
    if (sum == 1) printf("(never)\n");    /* use sum, so the reads are not optimised away */
    munmap(p, len);
}

static int faults(const char *path, long mib) {
    size_t len = (size_t)mib << 20;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); return 1; }
    char buf[PAGE];
    memset(buf, 0, sizeof buf);
    for (size_t off = 0; off < len; off += PAGE) {
        buf[0] = (char)(off / PAGE);
        if (write(fd, buf, PAGE) != PAGE) { perror("write"); return 1; }
    }
    fsync(fd);                                         /* clean pages can be dropped ... */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);      /* ... and this asks the kernel to */
    read_pass("first mapping", fd, len);
    read_pass("second mapping", fd, len);
    close(fd);
    return 0;
}

static void wait_byte(int fd) { char c; if (read(fd, &c, 1) != 1) exit(1); }
static void send_byte(int fd) { if (write(fd, "x", 1) != 1) exit(1); }

static int share(const char *path) {
    size_t len = 4 * PAGE;
    setvbuf(stdout, NULL, _IONBF, 0);       /* two processes print: no buffer to copy at fork */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0) { perror(path); return 1; }
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) { perror("pipe"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {                                    /* the child: its own mapping */
        close(to_child[1]);                    /* so a read sees EOF if the parent dies */
        close(to_parent[0]);
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        strcpy(m, "written by the child");             /* page 0 */
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        printf("child  sees in page 1 of its MAP_SHARED mapping: \"%s\"\n", m + PAGE);
        printf("child  sees in page 3 of its MAP_SHARED mapping: \"%s\"\n", m + 3 * PAGE);
        strcpy(m + 2 * PAGE, "child wrote page 2");
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);                       /* EOF for the parent if the child dies */
    char *shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *private = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    wait_byte(to_parent[0]);
    printf("parent sees in page 0 of its MAP_SHARED mapping: \"%s\"\n", shared);
    strcpy(shared + PAGE, "written by the parent");
    char on_disk[64] = "";
    pread(fd, on_disk, sizeof on_disk - 1, PAGE);
    printf("read() of the file at page 1, before msync:      \"%s\"\n", on_disk);
    msync(shared, len, MS_SYNC);                       /* now it is on the disk, too */
    strcpy(private + 3 * PAGE, "private to the parent");   /* copy-on-write: one page copied */
    send_byte(to_child[1]);
    wait_byte(to_parent[0]);
    printf("parent sees in page 2 of its MAP_PRIVATE mapping: \"%s\" (a page it never wrote)\n", private + 2 * PAGE);
    memset(on_disk, 0, sizeof on_disk);
    pread(fd, on_disk, sizeof on_disk - 1, 3 * PAGE);
    printf("read() of the file at page 3:                     \"%s\" (the private write is not in the file)\n", on_disk);
    /* how much of each mapping is private to this process, from its own smaps */
    char buf[1 << 16];
    vmstat_slurp("/proc/self/smaps", buf, sizeof buf);
    const char *names[2] = {"MAP_SHARED", "MAP_PRIVATE"};
    char *starts[2] = {shared, private};
    for (int k = 0; k < 2; k++) {
        char head[32];
        snprintf(head, sizeof head, "\n%lx-", (unsigned long)starts[k]);
        char *at = strstr(buf, head);
        /* (Rss is left out: how many neighbours fault-around maps varies from run to run) */
        printf("parent's %-11s mapping: Private_Dirty %ld kB\n", names[k],
               at ? vmstat_field(at, "\nPrivate_Dirty:") : -1);
    }
    send_byte(to_child[1]);
    waitpid(pid, NULL, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "faults")) return faults(argv[2], atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "share")) return share(argv[2]);
    fprintf(stderr, "usage: %s faults FILE MIB | share FILE\n", argv[0]);
    return 2;
}
