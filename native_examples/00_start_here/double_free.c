/* double_free.c: freeing one block twice, caught and not caught by glibc.
 *
 *   ./double_free caught      malloc, free, free: glibc's tcache notices, abort()
 *   ./double_free unnoticed   malloc, free, malloc, free: the block was handed out again in
 *                             between, so the second free frees its new owner's block, and
 *                             nothing notices
 *   GLIBC_TUNABLES=glibc.malloc.tcache_count=0 ./double_free fastbin
 *                             free(a), free(b), free(a) with the tcache off (up to 2.42 the
 *                             same as a full tcache list for this size): glibc 2.43 notices,
 *                             older versions do not (below)
 *
 * A separate program, so the heap starts empty and the outcome is the same on
 * every run: what glibc can detect depends on the heap's history. The first two
 * outcomes are the same in every glibc from 2.29 (the tcache's double-free check) on.
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
    char *volatile a = malloc(32);
    free(a);                                  /* the program is done with a...            */
    char *volatile x = malloc(32);            /* ...and the same chunk goes to x (tcache) */
    free(a);                                  /* the bug: a second free, through a stale a  */
    char *volatile y = malloc(32);            /* glibc hands x's chunk out once more        */
    printf("x = malloc(32) after free(a): x is a's old block? %s\n", x == a ? "yes" : "no");
    printf("free(a) again, then y = malloc(32): are x and y the same memory? %s\n",
           x == y ? "yes" : "no");
    return 0;
}

/* Up to glibc 2.42 a freed 48-byte chunk that the tcache does not take goes to a fastbin,
 * whose double-free check compares it only with the chunk on top of that bin, the one freed
 * just before ("double free or corruption (fasttop)", glibc-2.36 malloc/malloc.c:4530-4535).
 * free(a), free(b), free(a) passes it, and the next three mallocs hand out a twice. glibc 2.43
 * has no fastbins (commit bb5a4f5295, "malloc: Remove fastbin infrastructure"): the chunk
 * goes to the normal bins, a and b merge, and the second free(a) finds the chunk after a
 * already marked free: "double free or corruption (!prev)", and abort(). */
static int fastbin(void) {
    char *volatile a = malloc(32);
    char *volatile b = malloc(32);
    char *volatile guard = malloc(32);        /* keeps b from merging into the top chunk */
    free(a);
    free(b);
    printf("free(a), free(b), and free(a) again...\n");
    free(a);
    char *volatile x = malloc(32);
    char *volatile y = malloc(32);
    char *volatile z = malloc(32);
    printf("x, y, z = malloc(32) three times: are x and z the same memory? %s\n", x == z ? "yes" : "no");
    (void)guard;
    (void)y;
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);        /* nothing lost when abort() ends the process */
    if (argc == 2 && strcmp(argv[1], "caught") == 0) return caught();
    if (argc == 2 && strcmp(argv[1], "unnoticed") == 0) return unnoticed();
    if (argc == 2 && strcmp(argv[1], "fastbin") == 0) return fastbin();
    fprintf(stderr, "usage: %s caught|unnoticed|fastbin\n", argv[0]);
    return 2;
}
