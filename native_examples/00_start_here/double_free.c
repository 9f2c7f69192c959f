/* double_free.c: freeing one block twice, caught and not caught by glibc.
 *
 *   ./double_free caught      malloc, free, free: glibc's tcache notices, abort()
 *   ./double_free unnoticed   fill the tcache first, then free a, b, a: nothing notices
 *
 * A separate program, so the heap starts empty and the outcome is the same on
 * every run: what glibc can detect depends on the heap's history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int caught(void) {
    char *volatile p = malloc(32);   /* volatile: keep the compiler from "helping" */
    printf("freeing p once...\n");
    free(p);
    printf("...and twice\n");
    free(p);
    printf("this line is never printed\n");
    return 0;
}

static int unnoticed(void) {
    void *fill[7];
    for (int i = 0; i < 7; i++) fill[i] = malloc(32);
    char *volatile a = malloc(32), *volatile b = malloc(32);
    for (int i = 0; i < 7; i++) free(fill[i]);      /* this size's tcache is now full (7) */
    free(a); free(b); free(a);                        /* a twice, with b in between */
    for (int i = 0; i < 7; i++) fill[i] = malloc(32); /* empty the tcache again */
    char *x = malloc(32), *y = malloc(32), *z = malloc(32);
    printf("three new blocks; are the first and the third the same memory? %s\n",
           x == z ? "yes" : "no");
    (void)y;
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);        /* nothing lost when abort() ends the process */
    if (argc == 2 && strcmp(argv[1], "caught") == 0) return caught();
    if (argc == 2 && strcmp(argv[1], "unnoticed") == 0) return unnoticed();
    fprintf(stderr, "usage: %s caught|unnoticed\n", argv[0]);
    return 2;
}
