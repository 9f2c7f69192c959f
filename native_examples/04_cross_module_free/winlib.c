/* winlib.c - a Windows DLL that hands out heap memory.
 *
 * Lesson 04 builds it twice:
 *   MinGW-w64  x86_64-w64-mingw32-gcc -shared   -> binds to msvcrt.dll
 *   zig        zig cc -target x86_64-windows-gnu -> binds to the UCRT
 *                                                  (api-ms-win-crt-*.dll -> ucrtbase.dll)
 */
#include <windows.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API __declspec(dllexport)

/* Returns a new string. Give it back with win_free(). */
API char *win_greeting(const char *name)
{
    size_t n = strlen(name) + sizeof "hello, ";
    char *s = malloc(n);
    if (s) snprintf(s, n, "hello, %s", name);
    return s;
}

/* The matching free, exported by the module that allocates. */
API void win_free(void *p)
{
    free(p);
}

/* The heap this module's C runtime allocates from. */
API HANDLE win_crt_heap(void)
{
    return (HANDLE)_get_heap_handle();
}

/* The file name of the DLL that this module's malloc lives in. */
API const char *win_malloc_module(void)
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
