/* tools.c: one process, read by the tools people use, next to the kernel's own counters.
 *
 *   ./tools FILE      write 32 MiB of anonymous memory, map FILE (16 MiB, written first)
 *                     and read it, then print what ps, pmap and getrusage report for this
 *                     process, and the lines of /proc/self/status they come from (KiB)
 *
 * ps's RSS and top's RES/SHR come from the kernel's per-process counters (VmRSS, which
 * is RssAnon + RssFile + RssShmem); pmap -x adds up /proc/PID/smaps; ru_maxrss is the
 * peak of VmRSS (VmHWM), in KiB on Linux (in bytes on macOS).
 * Build: gcc -O1 tools.c -o tools
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "vmstat.h"

static void run(const char *label, const char *fmt) {
    char cmd[256], line[512], last[512] = "";
    snprintf(cmd, sizeof cmd, fmt, (int)getpid());
    FILE *p = popen(cmd, "r");
    if (!p) { printf("%-32s (could not run)\n", label); return; }
    while (fgets(line, sizeof line, p)) strcpy(last, line);
    pclose(p);
    last[strcspn(last, "\n")] = 0;
    printf("%-32s %s\n", label, last[0] ? last : "(no output: not installed?)");
}

static void status_line(const char *name) {
    char buf[4096];
    vmstat_slurp("/proc/self/status", buf, sizeof buf);
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    printf("%-32s %ld kB\n", name, vmstat_field(buf, key));
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE\n", argv[0]); return 2; }
    const size_t MiB = 1u << 20;
    char *anon = mmap(NULL, 32 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(anon, 32 * MiB, MADV_NOHUGEPAGE);
    memset(anon, 1, 32 * MiB);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)(16 * MiB)) != 0) { perror(argv[1]); return 1; }
    const volatile char *file = mmap(NULL, 16 * MiB, PROT_READ, MAP_SHARED, fd, 0);
    for (size_t i = 0; i < 16 * MiB; i += 4096) (void)file[i];
    fflush(stdout);
    run("ps -o vsz=,rss=", "ps -o vsz=,rss= -p %d");
    run("pmap -x (total: VSZ RSS Dirty)", "pmap -x %d | tail -n 1");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%-32s %ld (KiB on Linux)\n", "getrusage ru_maxrss", ru.ru_maxrss);
    const char *names[] = {"VmSize", "VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "VmSwap"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) status_line(names[i]);
    return 0;
}
