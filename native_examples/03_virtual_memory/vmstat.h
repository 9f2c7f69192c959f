/* vmstat.h: the numbers Linux keeps about a process's memory, read from inside it.
 *
 *   struct vmstat s; vmstat_read(&s);
 *
 * VmSize (VSZ) comes from /proc/self/status; Rss, Pss, USS, Anonymous and Swap from
 * /proc/self/smaps_rollup, which the kernel counts by walking the page tables
 * (exact). status's VmRSS comes from counters kept in per-CPU batches and can be
 * off by dozens of pages (measured: up to 192 KiB while a program touched pages).
 * Minor and major page faults come from getrusage().
 * Everything is read with open/read into stack buffers (no malloc), so reading
 * the numbers does not change them much. Sizes in KiB, as the kernel prints them.
 * See proc(5) and Documentation/filesystems/proc.rst.
 */
#ifndef VMSTAT_H
#define VMSTAT_H
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct vmstat {
    long vsz_kib, status_rss_kib, rss_anon_kib, rss_file_kib;   /* /proc/self/status */
    long rss_kib, pss_kib, uss_kib, swap_kib, anon_huge_kib;    /* /proc/self/smaps_rollup */
    long anon_kib;                                        /* smaps_rollup Anonymous: */
    long minflt, majflt;                                  /* getrusage(RUSAGE_SELF) */
};

static inline long vmstat_field(const char *text, const char *name) {
    const char *p = strstr(text, name);      /* "Name:   1234 kB" */
    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static inline int vmstat_slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return 0;
}

static inline void vmstat_read(struct vmstat *s) {
    char buf[4096];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->minflt = ru.ru_minflt;
    s->majflt = ru.ru_majflt;
    vmstat_slurp("/proc/self/status", buf, sizeof buf);
    s->vsz_kib = vmstat_field(buf, "\nVmSize:");
    s->status_rss_kib = vmstat_field(buf, "\nVmRSS:");   /* kept in per-CPU batches: approximate */
    s->rss_anon_kib = vmstat_field(buf, "\nRssAnon:");
    s->rss_file_kib = vmstat_field(buf, "\nRssFile:");
    vmstat_slurp("/proc/self/smaps_rollup", buf, sizeof buf);
    s->rss_kib = vmstat_field(buf, "\nRss:");            /* counted from the page tables: exact */
    s->pss_kib = vmstat_field(buf, "\nPss:");
    s->uss_kib = vmstat_field(buf, "\nPrivate_Clean:") + vmstat_field(buf, "\nPrivate_Dirty:");
    s->swap_kib = vmstat_field(buf, "\nSwap:");
    s->anon_huge_kib = vmstat_field(buf, "\nAnonHugePages:");
    s->anon_kib = vmstat_field(buf, "\nAnonymous:");      /* private anonymous pages, resident */
}

/* Resident KiB, counted by walking the page tables (Rss of /proc/self/smaps_rollup). */
static inline long vmstat_rss_kib(void) {
    char buf[4096];
    if (vmstat_slurp("/proc/self/smaps_rollup", buf, sizeof buf) < 0) return -1;
    return vmstat_field(buf, "\nRss:");
}

static inline long vmstat_minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}
#endif
