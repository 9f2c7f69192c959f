/* miniheif: the host library (stands in for libheif). See miniheif.h.
 *
 * -DMH_KEEP_ERROR_TEXT: mh_encode keeps a copy of the last error's text in the context,
 * made with strdup on the error path and used without a check: an error path that itself
 * allocates, which only a persistent out-of-memory sweep exercises. */
#include "miniheif.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

struct mh_context {
    void *handle;
    const struct mh_encoder_plugin *plugin;
    void *encoder;
    char *last_error;              /* MH_KEEP_ERROR_TEXT: the last error's text */
    size_t last_error_length;
};

static struct mh_error error(int code, const char *message)
{
    struct mh_error e = {code, message};
    return e;
}

/* The bookkeeping of miniheif.h: only ever grows, so a caller cannot undo it. */
#define KEPT 64
static long images_encoded, errors_returned;
static int error_codes[KEPT];

static struct mh_error counted(struct mh_error e)
{
    if (e.code != MH_OK)
        error_codes[errors_returned++ % KEPT] = e.code;
    return e;
}

long mh_images_encoded(void) { return images_encoded; }
long mh_errors_returned(void) { return errors_returned; }
int mh_error_code(long i)
{
    return i >= 0 && i < errors_returned && i >= errors_returned - KEPT ? error_codes[i % KEPT] : -1;
}

#ifndef MH_DLOPEN_FLAGS
#define MH_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
#endif

static struct mh_error open_plugin(const char *plugin_path, struct mh_context **ctx)
{
    *ctx = NULL;
    /* RTLD_NODELETE: the plugin stays mapped after dlclose(), so leak reports made at
     * exit can still name its functions (an unloaded module's frames print as ???).
     * Real libheif opens plugins with dlopen(filename, RTLD_LAZY) and unloads them with
     * dlclose (plugins_unix.cc); build with -DMH_DLOPEN_FLAGS='RTLD_NOW|RTLD_LOCAL' to see
     * what the leak tools print then. */
    void *h = dlopen(plugin_path, MH_DLOPEN_FLAGS);
    if (!h)
        return error(MH_ERR_PLUGIN, "cannot load the plugin");
    mh_plugin_entry_fn entry = (mh_plugin_entry_fn)dlsym(h, "mh_plugin_entry");
    const struct mh_encoder_plugin *plugin = entry ? entry() : NULL;
    if (!plugin || plugin->plugin_api_version != MH_PLUGIN_API_VERSION) {
        dlclose(h);
        return error(MH_ERR_PLUGIN, "not a miniheif encoder plugin");
    }
    struct mh_context *c = malloc(sizeof *c);
    if (!c) {
        dlclose(h);
        return error(MH_ERR_NOMEM, "out of memory");
    }
    c->handle = h;
    c->plugin = plugin;
    c->last_error = NULL;
    c->last_error_length = 0;
    struct mh_error e = plugin->new_encoder(&c->encoder);
    if (e.code != MH_OK) {
        free(c);
        dlclose(h);
        return e;
    }
    *ctx = c;
    return error(MH_OK, "ok");
}

struct mh_error mh_open(const char *plugin_path, struct mh_context **ctx)
{
    return counted(open_plugin(plugin_path, ctx));
}

struct mh_error mh_encode(struct mh_context *ctx, const struct mh_image *image,
                          uint8_t *out, size_t capacity, size_t *out_size)
{
    *out_size = 0;
    struct mh_error e = ctx->plugin->encode_image(ctx->encoder, image, out, capacity, out_size);
#ifdef MH_KEEP_ERROR_TEXT
    if (e.code != MH_OK) {                   /* keep the text for a later report... */
        free(ctx->last_error);
        ctx->last_error = strdup(e.message);
        ctx->last_error_length = strlen(ctx->last_error);    /* ...unchecked: strdup can fail */
    }
#endif
    if (e.code == MH_OK)
        images_encoded++;
    return counted(e);
}

void mh_close(struct mh_context *ctx)
{
    if (!ctx)
        return;
    ctx->plugin->free_encoder(ctx->encoder);
    dlclose(ctx->handle);
    free(ctx->last_error);
    free(ctx);
}
