/* lifecycle.c: a process's address space at four moments of its life.
 *
 *   ./lifecycle OUTDIR DATAFILE
 *
 * At each step the program copies its own /proc/self/smaps (the memory map with
 * sizes) to OUTDIR/N-step.smaps, so the lesson can draw it:
 *   1-start    just after main() starts
 *   2-malloc   after malloc(64 MiB), of which the first 8 MiB are written
 *   3-dlopen   after dlopen("libz.so.1"): a shared library the program did not link
 *   4-mmap     after mapping DATAFILE read-only and reading all of it
 * Build: gcc -O1 lifecycle.c -o lifecycle -ldl
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *outdir;

static void snapshot(const char *step) {
    char path[4096], buf[65536];
    snprintf(path, sizeof path, "%s/%s.smaps", outdir, step);
    int in = open("/proc/self/smaps", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) { perror(path); exit(1); }
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) { perror("write"); exit(1); }
    close(in);
    close(out);
    printf("snapshot %s\n", step);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s OUTDIR DATAFILE\n", argv[0]); return 2; }
    outdir = argv[1];
    snapshot("1-start");

    size_t big = 64u << 20;
    char *volatile block = malloc(big);               /* above the mmap threshold: its own mapping */
    memset(block, 1, 8u << 20);                        /* only the first 8 MiB are touched */
    snapshot("2-malloc");

    void *z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!z) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    snapshot("3-dlopen");

    int fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[2]); return 1; }
    const unsigned char *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) { perror("mmap"); return 1; }
    unsigned long sum = 0;
    for (off_t i = 0; i < st.st_size; i += 4096) sum += data[i];   /* read one byte per page */
    snapshot("4-mmap");
    printf("read %ld pages of the file (checksum %lu)\n", (long)(st.st_size / 4096), sum % 7);
    return 0;
}
