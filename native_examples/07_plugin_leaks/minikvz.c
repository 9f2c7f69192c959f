/* minikvz: the "encoder library" layer (stands in for kvazaar). See minikvz.h.
 *
 * Built two ways:
 *   default            every object comes from malloc()
 *   -DMK_PRIVATE_POOL  every object comes from a private pool on mmap(): no malloc at all
 *                      (add -DMK_VALGRIND_ANNOTATE to tell valgrind about the pool's blocks,
 *                      -DMK_HEAPTRACK_ANNOTATE to tell heaptrack: its heaptrack_api.h)
 * Environment (read once): MINIKVZ_FAIL_ALLOC=N, MINIKVZ_FAIL_ENCODE=N.
 */
#include "minikvz.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef MK_VALGRIND_ANNOTATE
#include <valgrind/valgrind.h>
#endif
#ifdef MK_HEAPTRACK_ANNOTATE
#include <heaptrack_api.h>      /* weak heaptrack_malloc/free: defined only under heaptrack */
#endif

struct mk_encoder { int quality; long frames; };

static long fail_alloc_at, fail_encode_at, allocs_seen, encodes_seen, live;
static int env_read;

static void read_env(void)
{
    if (env_read)
        return;
    env_read = 1;
    const char *a = getenv("MINIKVZ_FAIL_ALLOC"), *e = getenv("MINIKVZ_FAIL_ENCODE");
    if (a) fail_alloc_at = atol(a);
    if (e) fail_encode_at = atol(e);
}

void mk_fail_alloc_at(long n) { read_env(); fail_alloc_at = n; allocs_seen = 0; }
void mk_fail_encode_at(long n) { read_env(); fail_encode_at = n; encodes_seen = 0; }
long mk_live_objects(void) { return live; }

#ifdef MK_PRIVATE_POOL
/* A private pool: fixed 128-byte slots carved from one mmap'd region, a free list.
 * glibc's malloc never sees these blocks; neither does anything that watches malloc. */
#define SLOT 128
#define POOL_BYTES (64u << 20)
static char *pool, *pool_next;
static void *free_slots;

static void *raw_alloc(size_t n)
{
    if (n > SLOT)
        return NULL;
    if (!pool) {
        pool = mmap(NULL, POOL_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (pool == MAP_FAILED) { pool = NULL; return NULL; }
        pool_next = pool;
    }
    void *p;
    if (free_slots) {
        p = free_slots;
        free_slots = *(void **)p;
    } else {
        if (pool_next + SLOT > pool + POOL_BYTES)
            return NULL;
        p = pool_next;
        pool_next += SLOT;
    }
#ifdef MK_VALGRIND_ANNOTATE
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, 0);
#endif
#ifdef MK_HEAPTRACK_ANNOTATE
    heaptrack_report_alloc(p, n);
#endif
    return p;
}

static void raw_free(void *p)
{
#ifdef MK_VALGRIND_ANNOTATE
    VALGRIND_FREELIKE_BLOCK(p, 0);
#endif
#ifdef MK_HEAPTRACK_ANNOTATE
    heaptrack_report_free(p);
#endif
    *(void **)p = free_slots;
    free_slots = p;
}
#else
static void *raw_alloc(size_t n) { return malloc(n); }
static void raw_free(void *p) { free(p); }
#endif

/* Every allocation of the library goes through here (fault injection point). */
static void *mk_alloc(size_t n)
{
    read_env();
    if (fail_alloc_at && ++allocs_seen == fail_alloc_at)
        return NULL;
    void *p = raw_alloc(n);
    if (p)
        live++;
    return p;
}

static void mk_release(void *p)
{
    if (p) {
        live--;
        raw_free(p);
    }
}

static mk_encoder *encoder_open(int quality)
{
    mk_encoder *e = mk_alloc(sizeof *e);
    if (e) { e->quality = quality; e->frames = 0; }
    return e;
}

static void encoder_close(mk_encoder *e) { mk_release(e); }

static mk_picture *picture_alloc(int width, int height)
{
    if (width <= 0 || height <= 0 || width * height > 120)   /* pool slots are small */
        return NULL;
    mk_picture *pic = mk_alloc(sizeof *pic);
    if (!pic)
        return NULL;
    pic->y = mk_alloc((size_t)width * height);
    if (!pic->y) { mk_release(pic); return NULL; }
    pic->width = width;
    pic->height = height;
    return pic;
}

static void picture_free(mk_picture *pic)
{
    if (pic) { mk_release(pic->y); mk_release(pic); }
}

static void chunk_free(mk_chunk *list)
{
    while (list) {
        mk_chunk *next = list->next;
        mk_release(list);
        list = next;
    }
}

/* Append n bytes to the chunk list at *tail; 0 when an allocation failed. */
static int emit(mk_chunk **head, mk_chunk **tail, uint32_t *total, const uint8_t *bytes, uint32_t n)
{
    while (n) {
        if (!*tail || (*tail)->len == MK_CHUNK_SIZE) {
            mk_chunk *c = mk_alloc(sizeof *c);
            if (!c)
                return 0;
            c->len = 0;
            c->next = NULL;
            if (*tail) (*tail)->next = c; else *head = c;
            *tail = c;
        }
        uint32_t room = MK_CHUNK_SIZE - (*tail)->len, k = n < room ? n : room;
        memcpy((*tail)->data + (*tail)->len, bytes, k);
        (*tail)->len += k;
        *total += k;
        bytes += k;
        n -= k;
    }
    return 1;
}

static int encoder_headers(mk_encoder *e, mk_chunk **out, uint32_t *len)
{
    static const uint8_t vps_sps_pps[40] = {0x40, 0x01, 0x0c, 0x01, 0x42, 0x01, 0x44, 0x01};
    mk_chunk *head = NULL, *tail = NULL;
    *out = NULL;
    *len = 0;
    if (!e || !emit(&head, &tail, len, vps_sps_pps, sizeof vps_sps_pps)) {
        chunk_free(head);          /* the library cleans up its own failures */
        *len = 0;
        return 0;
    }
    *out = head;
    return 1;
}

/* "Encodes" a picture: a 2-byte NAL header then a run-length code of the samples
 * (pairs count, value). Deterministic, and the output grows with the picture. */
static int encoder_encode(mk_encoder *e, const mk_picture *pic, mk_chunk **out, uint32_t *len)
{
    mk_chunk *head = NULL, *tail = NULL;
    *out = NULL;
    *len = 0;
    read_env();
    if (!e || (fail_encode_at && ++encodes_seen == fail_encode_at))
        return 0;
    if (!pic)                      /* kvazaar: pic_in NULL flushes; nothing is buffered here, */
        return 1;                  /* so "no more data": success, *out NULL (kvazaar.h)      */
    uint8_t nal[2] = {0x26, 0x01};
    int ok = emit(&head, &tail, len, nal, 2);
    int n = pic->width * pic->height;
    for (int i = 0; ok && i < n;) {
        int j = i;
        while (j < n && j - i < 255 && pic->y[j] == pic->y[i])
            j++;
        uint8_t pair[2] = {(uint8_t)(j - i), pic->y[i]};
        ok = emit(&head, &tail, len, pair, 2);
        i = j;
    }
    if (!ok) {
        chunk_free(head);
        *len = 0;
        return 0;
    }
    e->frames++;
    *out = head;
    return 1;
}

static const mk_api api = {
    encoder_open, encoder_close, picture_alloc, picture_free,
    encoder_headers, encoder_encode, chunk_free,
};

const mk_api *mk_api_get(void) { return &api; }
