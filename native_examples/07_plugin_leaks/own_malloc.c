/* own_malloc: a program that carries its own malloc (mimalloc's static library linked in,
 * so `malloc` is defined, and exported, by the executable itself) and leaks one block.
 * heaptrack blocks forever on such a program; valgrind still replaces its malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *lost = malloc(100);
    strcpy(lost, "never freed");
    lost = NULL;
    printf("done\n");
    return 0;
}
