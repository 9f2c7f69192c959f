/* plugin.c - a Windows DLL that allocates with its own calls to the C runtime.
 * It has its own import address table, separate from the program's. */
#include <stdlib.h>

#define API __declspec(dllexport)

static void *kept;

/* allocate and free n small blocks */
API void plugin_work(int n)
{
    for (int i = 0; i < n; i++) {
        void *volatile p = malloc(16 + i);
        free(p);
    }
}

/* keep one block now, free it later */
API void plugin_keep(void) { kept = malloc(48); }
API void plugin_release(void) { free(kept); kept = NULL; }
