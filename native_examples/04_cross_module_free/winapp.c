/* winapp.c - a Windows program that loads winlib.dll and frees what it gets.
 *
 *   winapp.exe MODE DLL
 *
 * MODE:
 *   heaps       which C runtime each module uses, and which heap each allocates from
 *   owners      which heap owns the DLL's string and the program's block
 *   wrong-free  free() the DLL's string with the program's C runtime, then look again
 *   fixed       each block goes back to the module that allocated it
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

/* HeapValidate(heap, 0, p) checks one block: TRUE if p is a live block of that heap. */
static void show_owner(const char *what, void *p, HANDLE process, HANDLE mine, HANDLE dlls)
{
    printf("%-28s process heap: %-3s  program's CRT heap: %-3s  DLL's CRT heap: %s\n", what,
           yes(HeapValidate(process, 0, p)), yes(HeapValidate(mine, 0, p)),
           yes(HeapValidate(dlls, 0, p)));
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
    } else if (strcmp(mode, "wrong-free") == 0) {
        printf("free() from the program on the DLL's string...\n");
        free(from_dll);
        printf("...returned\n");
        show_owner("the DLL's string afterwards:", from_dll, process, mine, dlls);
    } else if (strcmp(mode, "fixed") == 0) {
        lib_free(from_dll);
        free(from_app);
        printf("fixed: each block went back to the module that allocated it\n");
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("exit normally\n");
    return 0;
}
