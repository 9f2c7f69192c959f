/* The same plugin written in C, fixed the C way: one exit, one cleanup block that gives
 * back everything still held, whichever path got there. (No exceptions in C: the
 * error paths are the early returns, now `goto done`.) */
#include "miniheif.h"
#include "minikvz.h"

#include <stdlib.h>
#include <string.h>

struct encoder_c {
    const mk_api *api;
    mk_encoder *kvz;
};

static struct mh_error error(int code, const char *message)
{
    struct mh_error e = {code, message};
    return e;
}

static struct mh_error new_encoder(void **out)
{
    struct encoder_c *enc = malloc(sizeof *enc);
    *out = NULL;
    if (!enc)
        return error(MH_ERR_NOMEM, "out of memory");
    enc->api = mk_api_get();
    enc->kvz = enc->api->encoder_open(80);
    if (!enc->kvz) {
        free(enc);
        return error(MH_ERR_NOMEM, "encoder_open failed");
    }
    *out = enc;
    return error(MH_OK, "ok");
}

static void free_encoder(void *raw)
{
    struct encoder_c *enc = raw;
    if (enc) {
        enc->api->encoder_close(enc->kvz);
        free(enc);
    }
}

/* For the lesson's check (not part of the plugin API): the n-th encode_image from now
 * reports a full output buffer, as a bigger image would, so that a caller's buffer-full
 * path runs; 0: never. The host finds it with dlsym on the plugin's handle. */
static long full_at, encodes;

void mh_plugin_test_full_at(long n)
{
    full_at = n;
    encodes = 0;
}

/* Copy a chunk list to out+*used; 0 when it does not fit. */
static int copy_chunks(const mk_chunk *c, uint8_t *out, size_t capacity, size_t *used)
{
    for (; c; c = c->next) {
        if (*used + c->len > capacity)
            return 0;
        memcpy(out + *used, c->data, c->len);
        *used += c->len;
    }
    return 1;
}

static struct mh_error encode_image(void *raw, const struct mh_image *image, uint8_t *out,
                                    size_t capacity, size_t *out_size)
{
    struct encoder_c *enc = raw;
    const mk_api *api = enc->api;
    struct mh_error result = error(MH_OK, "ok");
    mk_chunk *headers = NULL, *data = NULL;       /* everything we may hold, NULL = none */
    uint32_t len;
    size_t used = 0;

    *out_size = 0;
    mk_picture *pic = api->picture_alloc(image->width, image->height);
    if (!pic) { result = error(MH_ERR_NOMEM, "picture_alloc failed"); goto done; }
    memcpy(pic->y, image->pixels, (size_t)image->width * image->height);

    if (!api->encoder_headers(enc->kvz, &headers, &len)) {
        result = error(MH_ERR_ENCODER, "encoder_headers failed"); goto done;
    }
    if (!api->encoder_encode(enc->kvz, pic, &data, &len)) {
        result = error(MH_ERR_ENCODER, "encoder_encode failed"); goto done;
    }
    int full = full_at && ++encodes == full_at;         /* the test hook above */
    if (full || !copy_chunks(headers, out, capacity, &used) || !copy_chunks(data, out, capacity, &used)) {
        result = error(MH_ERR_BUFFER_FULL, "output buffer full"); goto done;
    }
    *out_size = used;
done:                                  /* the only way out: give everything back */
    api->chunk_free(data);             /* chunk_free(NULL) and picture_free(NULL) do nothing */
    api->chunk_free(headers);
    api->picture_free(pic);
    return result;
}

static const struct mh_encoder_plugin plugin = {
    MH_PLUGIN_API_VERSION, "minikvz (C)", new_encoder, free_encoder, encode_image,
};

const struct mh_encoder_plugin *mh_plugin_entry(void) { return &plugin; }
