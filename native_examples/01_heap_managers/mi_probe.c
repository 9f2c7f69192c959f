/* mi_probe.c - look at mimalloc's real pages (lesson 01).
 *
 *   mi_probe trace FILE [STOP]   replay a trace in a private mimalloc heap
 *                                (mi_heap_new), then list its pages and blocks
 *
 * mimalloc gives every size class its own pages; a page holds blocks of one
 * size only, with its own free lists ("free-list sharding", Leijen, Zorn and
 * de Moura, APLAS 2019).  Addresses vary from run to run, so we print offsets:
 * pages relative to the lowest page, blocks relative to their page.
 */
#include "probe_io.h"
#include <mimalloc.h>
#include <stdint.h>

static void *live[MAX_ID];

#define MAX_AREAS 4096
static struct { uintptr_t start; size_t reserved, committed, used, block_size, full_block_size; } areas[MAX_AREAS];
static int nareas;

static bool visit_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block, size_t block_size, void *arg)
{
    (void)heap; (void)block_size; (void)arg;
    if (block == NULL && nareas < MAX_AREAS) {           /* called once per page, without a block */
        areas[nareas].start = (uintptr_t)area->blocks;
        areas[nareas].reserved = area->reserved;
        areas[nareas].committed = area->committed;
        areas[nareas].used = area->used;
        areas[nareas].block_size = area->block_size;
        areas[nareas].full_block_size = area->full_block_size;
        nareas++;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "trace")) {
        out("usage: mi_probe trace FILE [STOP]\n");
        out_flush();
        return 2;
    }
    int nops = read_trace(argv[2]);
    if (nops < 0) { out("cannot read %s\n", argv[2]); out_flush(); return 1; }
    int stop = argc >= 4 ? atoi(argv[3]) : nops;
    if (stop < 0 || stop > nops) stop = nops;
    mi_heap_t *heap = mi_heap_new();
    for (int i = 0; i < stop; i++) {
        if (op_kind[i] == 'a') live[op_id[i]] = mi_heap_malloc(heap, (size_t)op_size[i]);
        else { mi_free(live[op_id[i]]); live[op_id[i]] = NULL; }
        nareas = 0;
        mi_heap_visit_blocks(heap, false, visit_area, NULL);
        size_t committed = 0;
        for (int a = 0; a < nareas; a++) committed += areas[a].committed;
        out("step %d %d %zu\n", i + 1, nareas, committed);       /* pages, bytes committed */
    }
    nareas = 0;
    mi_heap_visit_blocks(heap, false, visit_area, NULL);
    uintptr_t low = UINTPTR_MAX;
    for (int a = 0; a < nareas; a++) if (areas[a].start < low) low = areas[a].start;
    out("version %d\n", mi_version());
    for (int a = 0; a < nareas; a++) {
        out("page %ld %zu %zu %zu %zu\n", (long)(areas[a].start - low), areas[a].reserved,
            areas[a].committed, areas[a].block_size, areas[a].used);
        for (int i = 0; i < MAX_ID; i++) {
            uintptr_t p = (uintptr_t)live[i];
            if (p >= areas[a].start && p < areas[a].start + areas[a].reserved)
                out("block %ld %d %zu\n", (long)(p - areas[a].start), i, mi_usable_size(live[i]));
        }
    }
    out_flush();
    return 0;
}
