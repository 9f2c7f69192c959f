/* minikvz: a tiny stand-in for the kvazaar HEVC encoder library (the third-party layer).
 *
 * Like kvazaar's kvz_api, everything goes through a table of function pointers, and
 * what the library returns goes back through the library: data chunks with
 * chunk_free(), pictures with picture_free(). A chunk list is a linked list, as in
 * kvazaar (kvz_data_chunk: data[], len, next).
 */
#ifndef MINIKVZ_H
#define MINIKVZ_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MK_CHUNK_SIZE 64          /* kvazaar: KVZ_DATA_CHUNK_SIZE, 4096 */

typedef struct mk_chunk {
    uint8_t data[MK_CHUNK_SIZE];
    uint32_t len;
    struct mk_chunk *next;
} mk_chunk;

typedef struct mk_picture {
    int width, height;
    uint8_t *y;                   /* width * height luma samples */
} mk_picture;

typedef struct mk_encoder mk_encoder;

typedef struct mk_api {
    mk_encoder *(*encoder_open)(int quality);
    void (*encoder_close)(mk_encoder *enc);
    mk_picture *(*picture_alloc)(int width, int height);
    void (*picture_free)(mk_picture *pic);
    /* Both return 1 on success and a new chunk list in *out (give it back with
     * chunk_free), 0 on failure (then *out is NULL). */
    int (*encoder_headers)(mk_encoder *enc, mk_chunk **out, uint32_t *len);
    /* pic NULL: flush (as kvazaar's pic_in NULL); this encoder buffers nothing, so it
     * returns 1 with *out NULL at once. */
    int (*encoder_encode)(mk_encoder *enc, const mk_picture *pic, mk_chunk **out, uint32_t *len);
    void (*chunk_free)(mk_chunk *list);   /* frees the whole list */
} mk_api;

const mk_api *mk_api_get(void);

/* Fault injection and bookkeeping, for the lesson (not part of kvazaar's API). */
void mk_fail_alloc_at(long n);     /* the n-th allocation from now fails; 0: never */
void mk_fail_encode_at(long n);    /* the n-th encoder_encode from now fails; 0: never */
long mk_live_objects(void);        /* objects the library handed out and did not get back */

#ifdef __cplusplus
}
#endif
#endif
