/* The framework: allocates with mimalloc's API directly. */
#include <mimalloc.h>
#include <string.h>

char *fw_greeting(void)
{
    char *s = mi_malloc(32);
    if (s)
        strcpy(s, "hello from the framework");
    return s;
}

void fw_release(char *s) { mi_free(s); }
