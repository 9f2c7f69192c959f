/* winapp.c - a Windows program that loads winlib.dll and frees what it gets.
 *
 *   winapp.exe MODE DLL [N]
 *
 * MODE:
 *   heaps       which C runtime each module uses, and which heap each allocates from
 *   owners      which heap owns the DLL's string and the program's block
 *   wrong-free  free() the DLL's string with the program's C runtime: was it freed?
 *   fixed       win_free() the DLL's string: was it freed?
 * Both then repeat that with N more strings of 16 KiB (default 512) and report
 * whether the DLL's heap grew.
 *   reuse       N times (default 600): get a string from the DLL, free() it from the
 *               program; does the DLL hand out the address just freed again? (only
 *               if that free really freed it). Small strings, then strings of 16 KiB.
 */
#include <windows.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *(*greeting)(const char *);
static void (*lib_free)(void *);
static HANDLE (*lib_heap)(void);
static const char *(*lib_malloc_module)(void);

static const char *my_malloc_module(void)
{
    static char name[MAX_PATH];
    HMODULE m = NULL;
    /* __imp_malloc is this module's import address table slot for malloc:
       the loader wrote the address of the C runtime's malloc into it. */
    extern void *(*__imp_malloc)(size_t);
    void *(*f)(size_t) = __imp_malloc;
    if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                            GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCSTR)f, &m)) return "?";
    GetModuleFileNameA(m, name, sizeof name);
    char *slash = strrchr(name, '\\');
    return slash ? slash + 1 : name;
}

static const char *yes(int b) { return b ? "yes" : "no"; }

/* What does `heap` say about the block at p? HeapWalk visits every block of a heap
   and tells allocated ("busy") blocks from free ones. */
static const char *block_state(HANDLE heap, void *p)
{
    PROCESS_HEAP_ENTRY e;
    const char *state = "-";
    e.lpData = NULL;
    HeapLock(heap);
    while (HeapWalk(heap, &e)) {
        if (e.lpData == p) {
            state = (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) ? "in use" : "free";
            break;
        }
    }
    HeapUnlock(heap);
    return state;
}

/* Bytes in allocated blocks of a heap, summed over HeapWalk. */
static size_t heap_bytes_in_use(HANDLE heap)
{
    PROCESS_HEAP_ENTRY e;
    size_t total = 0;
    e.lpData = NULL;
    HeapLock(heap);
    while (HeapWalk(heap, &e))
        if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) total += e.cbData;
    HeapUnlock(heap);
    return total;
}

static void show_owner(const char *what, void *p, HANDLE process, HANDLE mine, HANDLE dlls)
{
    const char *a = block_state(process, p), *b = block_state(mine, p), *c = block_state(dlls, p);
    printf("%-28s process heap: %-6s  program's CRT heap: %-6s  DLL's CRT heap: %s\n",
           what, a, b, mine == dlls ? "(the same heap)" : c);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) { fprintf(stderr, "usage: winapp MODE DLL\n"); return 2; }
    const char *mode = argv[1];
    HMODULE dll = LoadLibraryA(argv[2]);
    if (!dll) { fprintf(stderr, "LoadLibrary(%s) failed: %lu\n", argv[2], GetLastError()); return 2; }
    greeting = (void *)GetProcAddress(dll, "win_greeting");
    lib_free = (void *)GetProcAddress(dll, "win_free");
    lib_heap = (void *)GetProcAddress(dll, "win_crt_heap");
    lib_malloc_module = (void *)GetProcAddress(dll, "win_malloc_module");
    if (!greeting || !lib_free || !lib_heap || !lib_malloc_module) { fprintf(stderr, "missing export\n"); return 2; }

    HANDLE process = GetProcessHeap();
    HANDLE mine = (HANDLE)_get_heap_handle();
    HANDLE dlls = lib_heap();

    if (strcmp(mode, "heaps") == 0) {
        printf("program's malloc lives in: %s\n", my_malloc_module());
        printf("DLL's malloc lives in:     %s\n", lib_malloc_module());
        printf("program's CRT heap is the process heap: %s\n", yes(mine == process));
        printf("DLL's CRT heap is the process heap:     %s\n", yes(dlls == process));
        printf("program and DLL share one CRT heap:     %s\n", yes(mine == dlls));
        return 0;
    }

    char *from_dll = greeting("world");
    char *from_app = malloc(32);
    strcpy(from_app, "the program's block");

    if (strcmp(mode, "owners") == 0) {
        show_owner("string from the DLL:", from_dll, process, mine, dlls);
        show_owner("block from the program:", from_app, process, mine, dlls);
        lib_free(from_dll);
        free(from_app);
    } else if (strcmp(mode, "wrong-free") == 0 || strcmp(mode, "fixed") == 0) {
        int wrong = strcmp(mode, "wrong-free") == 0;
        printf("%s on the DLL's string...\n", wrong ? "free() from the program" : "win_free()");
        if (wrong) free(from_dll); else lib_free(from_dll);
        printf("...returned\n");
        /* Was it really freed? Do the same with n strings of 16 KiB (512: 8 MiB)
           and see whether the DLL's heap grows. */
        int n = argc > 3 ? atoi(argv[3]) : 512;
        if (n == 0) { free(from_app); printf("exit normally\n"); return 0; }
        static char name[16 * 1024];
        memset(name, 'x', sizeof name - 16);
        size_t before = heap_bytes_in_use(dlls);
        for (int i = 0; i < n; i++) {
            char *s = greeting(name);
            if (wrong) free(s); else lib_free(s);
        }
        size_t after = heap_bytes_in_use(dlls);
        long mib = (long)(((after > before ? after - before : 0) + (1 << 19)) >> 20);
        printf("%d more strings of 16 KiB (%d MiB), freed the same way: the DLL's heap ",
               n, n / 64);
        if (mib < 2) printf("stayed flat (grew by less than 2 MiB)\n");
        else printf("grew by %ld MiB\n", mib);
        free(from_app);
    } else if (strcmp(mode, "reuse") == 0) {
        int n = argc > 3 ? atoi(argv[3]) : 600;
        static char big[16 * 1024];
        memset(big, 'x', sizeof big - 16);
        const char *names[2] = {"world", big}, *labels[2] = {"small strings:", "16 KiB strings:"};
        lib_free(from_dll);
        for (int k = 0; k < 2; k++) {
            int reused = 0, first = -1;
            char *prev = NULL;
            for (int i = 0; i < n; i++) {
                char *s = greeting(names[k]);
                if (s == prev && reused++ == 0) first = i;
                prev = s;
                free(s);                                  /* the program's free: wrong */
            }
            printf("%-16s the address just freed came back %d of %d times", labels[k], reused, n - 1);
            if (first > 0) printf(" (from string %d on)", first);
            printf("\n");
        }
        free(from_app);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("exit normally\n");
    return 0;
}
