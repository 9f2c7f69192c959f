/* redirect.c - how an allocator takes over malloc/free in a Windows process.
 *
 *   redirect.exe MODE [naive]
 *
 * MODE:
 *   none  no patch: every call goes to the C runtime (msvcrt.dll)
 *   iat   patch this program's import address table (IAT) slots for malloc/free:
 *         only calls made by this program are redirected
 *   iat-plugin  patch plugin.dll's IAT slots instead
 *   iat-all     patch the IAT slots of both modules (program and plugin.dll)
 *   crt   patch the entry points of malloc/free inside msvcrt.dll itself:
 *         every caller is redirected (the program, plugin.dll, the CRT's own _strdup)
 * naive  the new free() trusts every pointer it gets and hands it to its own heap's
 *         HeapFree; without it, blocks the new allocator did not make are handed back
 *         to the C runtime's free. Either way it checks ownership BEFORE it writes
 *         into a block's header: it never writes into memory it does not own.
 *
 * The patch is applied in main(), after the C runtime started and after some blocks
 * were already allocated: the situation of an allocator that is "loaded too late".
 * The new allocator counts calls per calling module, and counts frees of blocks
 * it never allocated ("foreign" blocks).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the new allocator: a header in front of each block, on a heap of its own ---- */
#define MAGIC 0x4E455741u            /* "NEWA" */
typedef struct { unsigned magic, pad; size_t size; } header;   /* 16 bytes */

static HANDLE new_heap;
static int counting, naive;
static int mallocs_by[3], frees_by[3];      /* 0 program, 1 plugin.dll, 2 msvcrt.dll */
static int foreign_frees, foreign_freed_by_crt, heapfree_failed;
static HMODULE mod_program, mod_plugin, mod_crt;

static void *(*crt_malloc)(size_t);   /* the C runtime's own entry points */
static void (*crt_free)(void *);

static int caller_index(void *ret)
{
    HMODULE m = NULL;
    GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                       GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, (LPCSTR)ret, &m);
    if (m == mod_program) return 0;
    if (m == mod_plugin) return 1;
    if (m == mod_crt) return 2;
    return -1;
}

static void call_crt_free(void *p);

__attribute__((noinline)) static void *new_malloc(size_t n)
{
    header *h = HeapAlloc(new_heap, 0, sizeof(header) + n);
    if (!h) return NULL;
    h->magic = MAGIC;
    h->size = n;
    if (counting) {
        int i = caller_index(__builtin_return_address(0));
        if (i >= 0) mallocs_by[i]++;
    }
    return h + 1;
}

__attribute__((noinline)) static void new_free(void *p)
{
    if (!p) return;
    header *h = (header *)p - 1;
    if (counting) {
        int i = caller_index(__builtin_return_address(0));
        if (i >= 0) frees_by[i]++;
    }
    /* Is it ours? A real allocator asks its own metadata (mimalloc: is this
       address in one of my segments?). Here: HeapValidate on our heap, then the tag. */
    int ours = HeapValidate(new_heap, 0, h) && h->magic == MAGIC;
    if (!ours) {
        if (counting) foreign_frees++;
        if (!naive) {                  /* hand it back to the allocator that made it */
            call_crt_free(p);
            if (counting) foreign_freed_by_crt++;
            return;
        }
        /* naive: trust it anyway. HeapFree with a pointer that is not a block of
           new_heap (undefined on Windows; Wine checks and returns FALSE). */
        if (!HeapFree(new_heap, 0, h) && counting) heapfree_failed++;
        return;
    }
    h->magic = 0;                      /* only now, in our own block's header */
    if (!HeapFree(new_heap, 0, h) && counting) heapfree_failed++;
}

/* ---- patch 1: one module's import address table ---- */
static void **iat_slot(HMODULE module, const char *dll, const char *name)
{
    BYTE *base = (BYTE *)module;
    IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(base + ((IMAGE_DOS_HEADER *)base)->e_lfanew);
    IMAGE_DATA_DIRECTORY dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    for (IMAGE_IMPORT_DESCRIPTOR *d = (void *)(base + dir.VirtualAddress); d->Name; d++) {
        if (_stricmp((char *)base + d->Name, dll) != 0) continue;
        IMAGE_THUNK_DATA *names = (void *)(base + d->OriginalFirstThunk);
        IMAGE_THUNK_DATA *slots = (void *)(base + d->FirstThunk);
        for (; names->u1.AddressOfData; names++, slots++) {
            if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal)) continue;
            IMAGE_IMPORT_BY_NAME *ibn = (void *)(base + names->u1.AddressOfData);
            if (strcmp((char *)ibn->Name, name) == 0) return (void **)&slots->u1.Function;
        }
    }
    return NULL;
}

static void patch_slot(void **slot, void *value)
{
    DWORD old;
    VirtualProtect(slot, sizeof *slot, PAGE_READWRITE, &old);
    *slot = value;
    VirtualProtect(slot, sizeof *slot, old, &old);
}

/* ---- patch 2: the C runtime's entry points ---- */
/* Overwrite the first 12 bytes of a function with:  mov rax, target ; jmp rax */
typedef struct { BYTE *at; BYTE saved[12]; } code_patch;
static code_patch malloc_patch, free_patch;

static void write_code(BYTE *at, const BYTE *bytes)
{
    DWORD old;
    VirtualProtect(at, 12, PAGE_EXECUTE_READWRITE, &old);
    memcpy(at, bytes, 12);
    VirtualProtect(at, 12, old, &old);
    FlushInstructionCache(GetCurrentProcess(), at, 12);
}

static void jump_patch(code_patch *cp, void *function, void *target)
{
    BYTE jump[12] = {0x48, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xE0};
    memcpy(jump + 2, &target, 8);
    cp->at = function;
    memcpy(cp->saved, cp->at, 12);
    write_code(cp->at, jump);
}

/* The C runtime's free, even while its entry point jumps to us: put the original
   bytes back for the call (fine for one thread; real redirectors build a trampoline). */
static void call_crt_free(void *p)
{
    if (!free_patch.at) { crt_free(p); return; }
    BYTE jump[12];
    memcpy(jump, free_patch.at, 12);
    write_code(free_patch.at, free_patch.saved);
    crt_free(p);
    write_code(free_patch.at, jump);
}

/* ---- the scenario ---- */
typedef void (*fn_void)(void);
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "none";
    naive = argc > 2 && strcmp(argv[2], "naive") == 0;

    mod_program = GetModuleHandleA(NULL);
    mod_crt = GetModuleHandleA("msvcrt.dll");
    mod_plugin = LoadLibraryA("plugin.dll");
    if (!mod_plugin) { fprintf(stderr, "plugin.dll not found\n"); return 2; }
    void (*plugin_work)(int) = (void *)GetProcAddress(mod_plugin, "plugin_work");
    fn_void plugin_keep = (fn_void)GetProcAddress(mod_plugin, "plugin_keep");
    fn_void plugin_release = (fn_void)GetProcAddress(mod_plugin, "plugin_release");
    crt_malloc = (void *)GetProcAddress(mod_crt, "malloc");
    crt_free = (void *)GetProcAddress(mod_crt, "free");
    new_heap = HeapCreate(0, 0, 0);

    /* Before the patch: the program and the plugin each keep one block. */
    char *volatile early = malloc(64);
    plugin_keep();

    int iat_program = strcmp(mode, "iat") == 0 || strcmp(mode, "iat-all") == 0;
    int iat_plugin = strcmp(mode, "iat-plugin") == 0 || strcmp(mode, "iat-all") == 0;
    if (iat_program) {
        patch_slot(iat_slot(mod_program, "msvcrt.dll", "malloc"), (void *)new_malloc);
        patch_slot(iat_slot(mod_program, "msvcrt.dll", "free"), (void *)new_free);
    }
    if (iat_plugin) {
        patch_slot(iat_slot(mod_plugin, "msvcrt.dll", "malloc"), (void *)new_malloc);
        patch_slot(iat_slot(mod_plugin, "msvcrt.dll", "free"), (void *)new_free);
    }
    if (iat_program || iat_plugin) {
        /* done */
    } else if (strcmp(mode, "crt") == 0) {
        jump_patch(&malloc_patch, (void *)crt_malloc, (void *)new_malloc);
        jump_patch(&free_patch, (void *)crt_free, (void *)new_free);
    } else if (strcmp(mode, "none") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }

    counting = 1;
    for (int i = 0; i < 3; i++) {            /* 3 blocks by the program */
        void *volatile p = malloc(32);
        free(p);
    }
    plugin_work(3);                          /* 3 blocks by the plugin */
    char *volatile s = _strdup("made inside the C runtime");   /* 1 block by msvcrt.dll */
    free(s);
    free(early);                             /* blocks from before the patch */
    plugin_release();
    counting = 0;

    /* undo the patches before printing (printf may allocate) */
    if (malloc_patch.at) write_code(malloc_patch.at, malloc_patch.saved);
    if (free_patch.at) write_code(free_patch.at, free_patch.saved);

    printf("mode %s%s: after the patch, calls that reached the new allocator\n",
           mode, naive ? " (naive free)" : "");
    printf("  malloc from the program:   %d of 3\n", mallocs_by[0]);
    printf("  malloc from plugin.dll:    %d of 3\n", mallocs_by[1]);
    printf("  malloc inside msvcrt.dll:  %d of 1 (_strdup)\n", mallocs_by[2]);
    printf("  free from the program:     %d of 5\n", frees_by[0]);
    printf("  free from plugin.dll:      %d of 4\n", frees_by[1]);
    printf("  blocks the new free() never allocated: %d", foreign_frees);
    if (foreign_frees && !naive) printf(" -> handed back to msvcrt's free");
    if (foreign_frees && naive) printf(" -> its HeapFree failed for %d", heapfree_failed);
    printf("\n");
    return 0;
}
