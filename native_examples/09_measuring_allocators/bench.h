/* bench.h - what every workload of lesson 09 shares: a fast reproducible random
 * generator, a clock, and one line of results:
 *
 *   RESULT wall=SECONDS cpu=SECONDS user=S sys=S maxrss_kb=K rss_kb=K minflt=N majflt=N check=X
 *
 * wall: CLOCK_MONOTONIC around the measured loop only (not process start-up);
 * cpu: CPU time of the process (all threads) over the same loop
 * (CLOCK_PROCESS_CPUTIME_ID, read at bench_start() and at report());
 * user, sys: the whole process's, start-up included, from getrusage;
 * maxrss_kb: peak resident memory in KiB, VmHWM from /proc/self/status (see
 * below); rss_kb: resident memory at the end (/proc/self/statm); minflt: minor
 * page faults (getrusage).
 *
 * Why not getrusage's ru_maxrss for the peak: on Linux it survives execve, so a
 * small program started by a big process (a Python kernel forking it) reports
 * the parent's peak.  ru_maxrss is printed too, as ru_maxrss_kb, to see it.
 * check: a checksum of the data written, so the compiler cannot drop the work.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

static inline uint64_t rng_next(uint64_t *s)          /* xorshift64*: same numbers everywhere */
{
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_seed(uint64_t seed) { return seed * 0x9E3779B97F4A7C15ULL + 1; }

/* mixed small sizes: 70 % 8..64 B, 25 % 64..512 B, 5 % 512..max B */
static inline size_t mixed_size(uint64_t *s, size_t max)
{
    uint64_t r = rng_next(s);
    unsigned pick = (unsigned)(r % 100);
    size_t lo = 8, hi = 64;
    if (pick >= 95 && max > 512) { lo = 512; hi = max; }
    else if (pick >= 70) { lo = 64; hi = max < 512 ? max : 512; }
    if (hi > max) hi = max;
    if (lo > hi) lo = hi;
    return lo + (size_t)((r >> 8) % (hi - lo + 1));
}

static inline double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static double bench_cpu0;

static inline double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* the start of the measured loop: returns the wall clock, remembers the CPU clock */
static inline double bench_start(void)
{
    bench_cpu0 = cpu_now();
    return wall_now();
}

static inline long rss_now_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline long hwm_kb(void)               /* VmHWM: this program's own peak RSS */
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) { kb = strtol(line + 6, NULL, 10); break; }
    fclose(f);
    return kb;
}

static inline void report(double wall_start, uint64_t check)
{
    double wall = wall_now() - wall_start, cpu = cpu_now() - bench_cpu0;
    long rss = rss_now_kb(), hwm = hwm_kb();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
    double sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    printf("RESULT wall=%.6f cpu=%.6f user=%.6f sys=%.6f maxrss_kb=%ld ru_maxrss_kb=%ld rss_kb=%ld minflt=%ld majflt=%ld check=%llu\n",
           wall, cpu, user, sys, hwm, ru.ru_maxrss, rss, ru.ru_minflt, ru.ru_majflt,
           (unsigned long long)check);
}

static inline long arg(int argc, char **argv, int i, long dflt)
{
    return i < argc ? strtol(argv[i], NULL, 0) : dflt;
}

#endif
