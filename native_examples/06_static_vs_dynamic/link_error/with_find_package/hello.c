/* hello.c - the smallest program that allocates: enough to see what gets linked. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *p = malloc(64);
    snprintf(p, 64, "hello from a program linked with mimalloc-static");
    puts(p);
    free(p);
    return 0;
}
