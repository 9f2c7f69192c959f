/* objects.c -- a tiny "native library" compiled to WebAssembly (lesson 08).
 *
 * It hands out objects that live in the module's linear memory, the way a
 * solver library compiled to WebAssembly hands out solvers, and it counts
 * them so the host (Python with wasmtime, or node) can watch.
 *
 *   obj_new(size)     -> handle (an offset into linear memory), or 0 when
 *                        malloc fails (memory.grow was refused)
 *   obj_free(handle)  -> 0 on success, -1 if the handle is not a live object
 *                        (double free or garbage): the library refuses it
 *   obj_sum(handle)   -> a checksum of the object's bytes (reads the memory)
 *   live_objects(), live_bytes(), current_pages(), failed_allocs()
 *
 * Build for WebAssembly (see README.md):
 *   python -m ziglang cc -target wasm32-wasi -O2 -mexec-model=reactor -s \
 *       -Wl,-z,stack-size=65536 -Wl,--max-memory=16777216 objects.c -o objects.wasm
 * Add -DTRAP_ON_OOM for the variant that traps instead of returning 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#define MAGIC_LIVE 0x4C495645u /* "LIVE" */
#define MAGIC_DEAD 0x44454144u /* "DEAD" */

struct header {
    uint32_t magic;
    uint32_t size;
};

static int32_t n_live;
static int64_t n_bytes;
static int32_t n_failed;

EXPORT(obj_new) uint32_t obj_new(uint32_t size)
{
    struct header *h = malloc(sizeof *h + size);
    if (h == NULL) {
        n_failed++;
#ifdef TRAP_ON_OOM
        __builtin_trap(); /* the "abort on out of memory" policy: a wasm trap */
#endif
        return 0; /* the "return NULL" policy: the caller must check */
    }
    h->magic = MAGIC_LIVE;
    h->size = size;
    /* touch every byte, as a real object would be initialised */
    memset(h + 1, (int)(size & 0x7f), size);
    n_live++;
    n_bytes += size;
    return (uint32_t)(uintptr_t)(h + 1);
}

static struct header *live_header(uint32_t handle)
{
    if (handle < sizeof(struct header) || handle % 8 != 0)
        return NULL;
    if ((uint64_t)handle >= (uint64_t)__builtin_wasm_memory_size(0) * 65536u)
        return NULL;
    struct header *h = (struct header *)(uintptr_t)handle - 1;
    return h->magic == MAGIC_LIVE ? h : NULL;
}

EXPORT(obj_free) int32_t obj_free(uint32_t handle)
{
    struct header *h = live_header(handle);
    if (h == NULL)
        return -1; /* not a live object: refuse instead of corrupting the heap */
    h->magic = MAGIC_DEAD;
    n_live--;
    n_bytes -= h->size;
    free(h);
    return 0;
}

EXPORT(obj_sum) int64_t obj_sum(uint32_t handle)
{
    struct header *h = live_header(handle);
    if (h == NULL)
        return -1;
    const unsigned char *p = (const unsigned char *)(h + 1);
    int64_t s = 0;
    for (uint32_t i = 0; i < h->size; i++)
        s += p[i];
    return s;
}

EXPORT(live_objects) int32_t live_objects(void) { return n_live; }
EXPORT(live_bytes) int64_t live_bytes(void) { return n_bytes; }
EXPORT(failed_allocs) int32_t failed_allocs(void) { return n_failed; }
/* linear memory size in 64 KiB pages: it only ever grows */
EXPORT(current_pages) int32_t current_pages(void) { return (int32_t)__builtin_wasm_memory_size(0); }
