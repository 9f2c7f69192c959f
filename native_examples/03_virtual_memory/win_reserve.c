/* win_reserve.c: reserve and commit with the Windows API (VirtualAlloc), and the
 * numbers Windows keeps: working set, private bytes, commit charge.
 *
 *   win_reserve.exe         reserve 1 GiB, commit 64 MiB, touch 8 MiB, touch a
 *                           reserved but uncommitted page, decommit, release;
 *                           then ask to commit twice the commit limit at once
 *
 * Built with MinGW-w64 (x86_64-w64-mingw32-gcc win_reserve.c -o win_reserve.exe -lpsapi);
 * the lesson runs it under Wine, which implements these calls on top of Linux's
 * mmap/mprotect: its numbers are Wine's, not Windows'.
 * Docs: VirtualAlloc, VirtualQuery, VirtualFree, GetProcessMemoryInfo,
 * GetPerformanceInfo on Microsoft Learn.
 */
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>

static char *region;

static void counters(const char *step) {
    PROCESS_MEMORY_COUNTERS_EX pmc;
    memset(&pmc, 0, sizeof pmc);
    GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&pmc, sizeof pmc);
    printf("%-36s working set %8llu KiB  private bytes %8llu KiB  commit (PagefileUsage) %8llu KiB  faults %6lu\n",
           step, (unsigned long long)pmc.WorkingSetSize / 1024,
           (unsigned long long)pmc.PrivateUsage / 1024, (unsigned long long)pmc.PagefileUsage / 1024,
           (unsigned long)pmc.PageFaultCount);
}

static const char *state_name(DWORD s) {
    return s == MEM_COMMIT ? "MEM_COMMIT" : s == MEM_RESERVE ? "MEM_RESERVE" : s == MEM_FREE ? "MEM_FREE" : "?";
}

static void query(const char *what, char *p) {
    MEMORY_BASIC_INFORMATION mbi;
    VirtualQuery(p, &mbi, sizeof mbi);
    printf("  VirtualQuery(%s): %s, %llu KiB in this state from there\n", what, state_name(mbi.State),
           (unsigned long long)mbi.RegionSize / 1024);
}

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *e) {
    EXCEPTION_RECORD *r = e->ExceptionRecord;
    if (r->ExceptionCode == EXCEPTION_ACCESS_VIOLATION) {
        ULONG_PTR addr = r->ExceptionInformation[1];
        printf("  access violation (0x%08lX), %s at offset %llu MiB into the reservation\n",
               (unsigned long)r->ExceptionCode, r->ExceptionInformation[0] == 1 ? "write" : "read",
               (unsigned long long)(addr - (ULONG_PTR)region) >> 20);
        /* skip the faulting instruction? simpler: commit the page and retry */
        VirtualAlloc((void *)addr, 1, MEM_COMMIT, PAGE_READWRITE);
        printf("  the handler committed that page; the write is retried and succeeds\n");
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    SIZE_T GiB = (SIZE_T)1 << 30, MiB = (SIZE_T)1 << 20;
    counters("start");
    region = VirtualAlloc(NULL, GiB, MEM_RESERVE, PAGE_NOACCESS);
    printf("VirtualAlloc(1 GiB, MEM_RESERVE): %s\n", region ? "succeeded" : "FAILED");
    query("start", region);
    counters("after MEM_RESERVE 1 GiB");
    char *c = VirtualAlloc(region, 64 * MiB, MEM_COMMIT, PAGE_READWRITE);
    printf("VirtualAlloc(64 MiB, MEM_COMMIT): %s\n", c == region ? "succeeded" : "FAILED");
    query("start", region);
    query("start + 64 MiB", region + 64 * MiB);
    counters("after MEM_COMMIT 64 MiB");
    for (SIZE_T i = 0; i < 8 * MiB; i += 4096) region[i] = 1;
    counters("after writing 8 MiB of it");
    AddVectoredExceptionHandler(1, on_fault);
    printf("writing to start + 100 MiB (reserved, not committed):\n");
    ((volatile char *)region)[100 * MiB] = 1;
    query("start + 100 MiB", region + 100 * MiB);
    VirtualFree(region, 64 * MiB, MEM_DECOMMIT);
    query("start", region);
    counters("after MEM_DECOMMIT 64 MiB");
    VirtualFree(region, 0, MEM_RELEASE);
    counters("after MEM_RELEASE");

    PERFORMANCE_INFORMATION pi;
    pi.cb = sizeof pi;
    GetPerformanceInfo(&pi, sizeof pi);
    SIZE_T limit = pi.CommitLimit * pi.PageSize;
    printf("GetPerformanceInfo: CommitLimit %llu MiB, CommitTotal %llu MiB, PhysicalTotal %llu MiB\n",
           (unsigned long long)limit / MiB, (unsigned long long)pi.CommitTotal * pi.PageSize / MiB,
           (unsigned long long)pi.PhysicalTotal * pi.PageSize / MiB);
    char *big = VirtualAlloc(NULL, 2 * limit, MEM_RESERVE, PAGE_NOACCESS);
    printf("VirtualAlloc(2 x CommitLimit, MEM_RESERVE): %s\n", big ? "succeeded" : "FAILED");
    if (big) VirtualFree(big, 0, MEM_RELEASE);
    big = VirtualAlloc(NULL, 2 * limit, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    printf("VirtualAlloc(2 x CommitLimit, MEM_COMMIT): %s", big ? "succeeded\n" : "FAILED");
    if (!big) printf(", GetLastError() = %lu\n", (unsigned long)GetLastError());
    if (big) VirtualFree(big, 0, MEM_RELEASE);
    return 0;
}
