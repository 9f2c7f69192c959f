/* mm.h - the malloc lab's interface (lesson 09), after CS:APP's malloc lab.
 *
 * An allocator for the lab is one C file defining mm_init, mm_malloc, mm_free
 * and mm_realloc.  The driver (mdriver.c) calls mm_init() before every replay
 * of a trace, with an empty heap, then replays the trace through mm_malloc /
 * mm_free / mm_realloc.  Payloads must be 16-byte aligned (a request under 16
 * bytes: aligned to the largest power of two that fits in it, all that C23
 * requires: WG14 N2293), must not overlap, must lie inside the heap, and must
 * keep their bytes until freed; mm_realloc must keep the first min(old, new)
 * bytes.  mm_malloc(0) may return NULL (C allows it) or a unique pointer.
 *
 * The heap belongs to the driver, as in CS:APP's memlib: every byte the
 * allocator uses, its bookkeeping included, comes from mem_sbrk().  Before it
 * runs, the file is refused (with the reason) when its source has inline
 * assembly (asm, ## or a section attribute; as written, and after the
 * preprocessor outside system headers), or its object defines a global
 * name other than the mm_* functions below, has a constructor, uses anything
 * but the mem_* functions, lesson 01's ta_init, ta_malloc, ta_free,
 * ta_coalesce, ta_block_size_for, ta_walk, ta_freelist and ta_check, memcpy,
 * memmove, memset, memcmp, abort and assert (so no malloc, mmap, printf,
 * getcwd, ta_replay_check...), contains the bytes of a system-call
 * instruction (0f 05, 0f 34, cd 80) anywhere in its code, or keeps
 * more than 1 KiB of writable static data.  It then runs in a process of its
 * own (a child of the driver), under a seccomp filter: its process may read
 * its requests and write its answers on two pipes, write to stderr, abort (and
 * the calls abort makes: getpid, gettid, rt_sigprocmask, tgkill of itself with
 * SIGABRT) and exit, nothing else; any other system call (mprotect, mmap, brk, fork,
 * ptrace..., named or reached through a computed address) stops the run and is
 * named.  mem_sbrk is a request to the driver, which keeps the break, the
 * highest break, the live blocks, the offsets and the times in its own
 * process, where the allocator cannot reach them; the heap is shared between
 * the two, so the driver checks every payload there.  The driver's two result
 * arrays (got and rptr: 8 bytes per operation and per block id), which the
 * timed replays write, are shared too: outside a replay they must hold what
 * the driver expects (zeros), checked at random operations, at the end of the
 * checked pass and before and after each replay.  The allocator's process
 * may grow by 16 KiB outside the heap at most (so more than 16 KiB of
 * bookkeeping elsewhere is caught, less is not, nor what it keeps in memory its
 * process already holds: talloc's 32 KiB table for ta_check, the stack the
 * driver used), and every timed replay must
 * place every block where the checked pass did: the same code on every pass.
 * The footprint is what mem_sbrk handed
 * out (its highest break), measured by the driver; utilisation is
 *     peak live bytes requested / peak footprint,
 * at most 1 by construction, since live payloads lie inside the heap and never
 * overlap.
 *
 * mm_checkheap is optional: when the file defines it, the driver calls it
 * after every operation of the correctness pass; nonzero means "my heap is
 * broken" and stops the run at that operation.
 */
#ifndef MM_H
#define MM_H

#include <stddef.h>
#include <stdint.h>

int    mm_init(void);                  /* 0: ready; anything else: the driver stops */
void  *mm_malloc(size_t n);
void   mm_free(void *p);
void  *mm_realloc(void *p, size_t n);  /* p == NULL: like mm_malloc(n) */
int    mm_checkheap(int verbose) __attribute__((weak));   /* optional */

/* the driver's heap (memlib) */
void  *mem_sbrk(intptr_t incr);        /* grow the heap by incr >= 0 bytes: the old end, or (void *)-1 */
void  *mem_heap_lo(void);              /* first byte of the heap (page-aligned) */
void  *mem_heap_hi(void);              /* last byte of the heap */
size_t mem_heapsize(void);             /* bytes handed out so far */
size_t mem_pagesize(void);

#endif
