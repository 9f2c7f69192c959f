/* talloc.h - the course's teaching allocator (lesson 01, "Heap managers").
 *
 * One fixed arena, carved into blocks.  Every block carries a boundary tag at
 * both ends: an 8-byte HEADER and an 8-byte FOOTER holding the same word,
 * (block size | used bit).  Block sizes are multiples of 16 and the first block
 * starts 8 bytes into a 16-aligned arena, so every payload (block + 8) is
 * 16-byte aligned, like glibc's.
 *
 *   arena:  [prologue 8][block][block]...[block][epilogue 8]
 *   used:   [header 8][payload ........................][footer 8]
 *   free:   [header 8][next 8][prev 8][ ... unused ... ][footer 8]
 *
 * Free blocks are linked into an explicit doubly linked free list (the links
 * live inside the free block's payload).  The prologue word looks like the
 * footer of a used block and the epilogue like the header of a used block of
 * size 0, so coalescing never runs off either end of the arena.
 *
 * The helpers below are static inline so that your own C (an exercise cell)
 * can use them after #include "talloc.h".
 */
#ifndef TALLOC_H
#define TALLOC_H

#include <stddef.h>
#include <stdint.h>

#define TA_ALIGN      16      /* payload alignment                         */
#define TA_TAG        8       /* size of one boundary tag                  */
#define TA_OVERHEAD   16      /* header + footer                           */
#define TA_MIN_BLOCK  32      /* header + next + prev + footer             */
#define TA_USED       1       /* low bit of a tag: block is allocated      */

/* placement policies */
#define TA_FIRST_FIT  0       /* first block on the free list that fits    */
#define TA_NEXT_FIT   1       /* like first fit, resuming where the last search stopped */
#define TA_BEST_FIT   2       /* the smallest block that fits              */

/* free-list orders */
#define TA_LIFO       0       /* freed blocks go to the front of the list  */
#define TA_ADDRESS    1       /* the list is kept sorted by address        */

typedef struct ta_block {
    size_t header;            /* size | TA_USED                            */
    struct ta_block *next;    /* free blocks only                          */
    struct ta_block *prev;    /* free blocks only                          */
} ta_block;

typedef struct ta_heap {
    unsigned char *base;      /* 16-aligned start of the arena             */
    size_t size;              /* arena bytes (multiple of 16)              */
    ta_block *head;           /* first block on the free list              */
    ta_block *rover;          /* next fit: where the next search starts    */
    int policy;               /* TA_FIRST_FIT, TA_NEXT_FIT, TA_BEST_FIT    */
    int order;                /* TA_LIFO or TA_ADDRESS                     */
    int coalesce;             /* 1: merge free neighbours on free          */
    long searched;            /* free-list blocks examined, for statistics */
} ta_heap;

/* one block as reported by ta_walk (offsets from the arena start) */
typedef struct ta_info {
    long offset;              /* where the block (its header) starts       */
    long size;                /* whole block, header and footer included   */
    long used;                /* 1 allocated, 0 free                       */
} ta_info;

/* ---- boundary-tag helpers ------------------------------------------------ */
static inline size_t ta_size(const ta_block *b) { return b->header & ~(size_t)(TA_ALIGN - 1); }
static inline int ta_is_used(const ta_block *b) { return (int)(b->header & TA_USED); }
static inline size_t *ta_footer(ta_block *b) { return (size_t *)((unsigned char *)b + ta_size(b) - TA_TAG); }
static inline void ta_set(ta_block *b, size_t size, int used) {
    b->header = size | (used ? TA_USED : 0);
    *ta_footer(b) = b->header;
}
/* the block after b in memory (the epilogue after the last block) */
static inline ta_block *ta_next_block(ta_block *b) { return (ta_block *)((unsigned char *)b + ta_size(b)); }
/* the tag just below b: the previous block's footer (the prologue for the first block) */
static inline size_t ta_prev_tag(ta_block *b) { return ((size_t *)b)[-1]; }
static inline int ta_prev_is_used(ta_block *b) { return (int)(ta_prev_tag(b) & TA_USED); }
static inline ta_block *ta_prev_block(ta_block *b) {
    return (ta_block *)((unsigned char *)b - (ta_prev_tag(b) & ~(size_t)(TA_ALIGN - 1)));
}
static inline void *ta_payload(ta_block *b) { return (unsigned char *)b + TA_TAG; }
static inline ta_block *ta_block_of(void *p) { return (ta_block *)((unsigned char *)p - TA_TAG); }

/* ---- free-list helpers ---------------------------------------------------- */
static inline void ta_list_remove(ta_heap *h, ta_block *b) {
    if (h->rover == b) h->rover = b->next;
    if (b->prev) b->prev->next = b->next; else h->head = b->next;
    if (b->next) b->next->prev = b->prev;
    b->next = b->prev = NULL;
}
static inline void ta_list_insert(ta_heap *h, ta_block *b) {
    ta_block *before = NULL, *after = h->head;
    if (h->order == TA_ADDRESS)
        while (after && after < b) { before = after; after = after->next; }
    b->prev = before;
    b->next = after;
    if (before) before->next = b; else h->head = b;
    if (after) after->prev = b;
}

/* ---- the allocator -------------------------------------------------------- */
int   ta_init(ta_heap *h, void *mem, size_t size, int policy, int order, int coalesce);
void *ta_malloc(ta_heap *h, size_t n);
void  ta_free(ta_heap *h, void *p);
/* merge free block b with its free neighbours; returns the merged block.
 * Compiled out with -DTA_LEARNER_COALESCE (you write it in the exercise). */
ta_block *ta_coalesce(ta_heap *h, ta_block *b);
size_t ta_block_size_for(size_t n);   /* block size ta_malloc uses for a request of n */

/* ---- looking at it -------------------------------------------------------- */
int  ta_walk(ta_heap *h, ta_info *out, int max);     /* blocks in address order; -1 if the walk breaks */
int  ta_freelist(ta_heap *h, long *offsets, int max);/* free-list order; -1 if it loops or leaves the arena */
int  ta_check(ta_heap *h, char *msg, int msglen);    /* 0 if every invariant holds, else a code and a message */
/* replay a trace ("alloc ID SIZE" / "free ID" lines, numeric ids < 65536) in a
 * fresh arena, checking the invariants after every step; prints what broke.
 * Returns 0 when every step passed, else the 1-based number of the failing step. */
int  ta_replay_check(const char *trace, int policy, int order, int arena_size);

#endif
