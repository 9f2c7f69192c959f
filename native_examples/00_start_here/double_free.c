/* double_free.c: freeing one block twice, caught and not caught by glibc.
 *
 *   ./double_free caught      malloc, free, free: glibc's tcache notices, abort()
 *   ./double_free unnoticed   malloc, free, malloc, free: the block was handed out again in
 *                             between, so the second free frees its new owner's block, and
 *                             nothing notices
 *
 * A separate program, so the heap starts empty and the outcome is the same on
 * every run: what glibc can detect depends on the heap's history. Both outcomes
 * are the same in every glibc from 2.29 (the tcache's double-free check) on.
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

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);        /* nothing lost when abort() ends the process */
    if (argc == 2 && strcmp(argv[1], "caught") == 0) return caught();
    if (argc == 2 && strcmp(argv[1], "unnoticed") == 0) return unnoticed();
    fprintf(stderr, "usage: %s caught|unnoticed\n", argv[0]);
    return 2;
}
