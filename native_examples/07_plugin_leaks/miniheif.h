/* miniheif: a tiny stand-in for libheif (the host layer) and its encoder plugin API.
 *
 * The host loads an encoder plugin with dlopen() and talks to it only through a
 * struct of function pointers, like libheif's struct heif_encoder_plugin
 * (libheif/heif_plugin.h). Ownership, stated the way the interface must state it:
 *   - the plugin owns its encoder object: the host gives it back with free_encoder();
 *   - the host owns the output buffer: the plugin writes at most `capacity` bytes;
 *   - whatever the plugin obtains from its own codec library (chunks, pictures) is the
 *     plugin's to give back to that library, on every path, before encode_image returns.
 */
#ifndef MINIHEIF_H
#define MINIHEIF_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mh_code { MH_OK = 0, MH_ERR_ENCODER = 1, MH_ERR_BUFFER_FULL = 2, MH_ERR_NOMEM = 3,
               MH_ERR_PLUGIN = 4 };

struct mh_error { int code; const char *message; };   /* message: static text */

struct mh_image { int width, height; const uint8_t *pixels; };

#define MH_PLUGIN_API_VERSION 1

struct mh_encoder_plugin {
    int plugin_api_version;                      /* MH_PLUGIN_API_VERSION */
    const char *name;
    struct mh_error (*new_encoder)(void **encoder);
    void (*free_encoder)(void *encoder);
    struct mh_error (*encode_image)(void *encoder, const struct mh_image *image,
                                    uint8_t *out, size_t capacity, size_t *out_size);
};

/* What a plugin .so exports, by this name (libheif: the plugin's heif_plugin_info):
 *     const struct mh_encoder_plugin *mh_plugin_entry(void);
 * The host finds it with dlsym(); it is not declared here, so the host's users do not
 * see a function that only plugins define. */
typedef const struct mh_encoder_plugin *(*mh_plugin_entry_fn)(void);

/* The host API an application uses. */
struct mh_context;
struct mh_error mh_open(const char *plugin_path, struct mh_context **ctx);
struct mh_error mh_encode(struct mh_context *ctx, const struct mh_image *image,
                          uint8_t *out, size_t capacity, size_t *out_size);
void mh_close(struct mh_context *ctx);

/* Bookkeeping for the lesson's checks (not part of libheif's API), counted since the
 * library was loaded and never reset: how many images mh_encode encoded, how many errors
 * mh_open and mh_encode returned, and the code of the i-th of those errors (0-based; the
 * last 64 are kept). */
long mh_images_encoded(void);
long mh_errors_returned(void);
int mh_error_code(long i);

#ifdef __cplusplus
}
#endif
#endif
