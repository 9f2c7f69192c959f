/* miniheif: the host library (stands in for libheif). See miniheif.h. */
#include "miniheif.h"

#include <dlfcn.h>
#include <stdlib.h>

struct mh_context {
    void *handle;
    const struct mh_encoder_plugin *plugin;
    void *encoder;
};

static struct mh_error error(int code, const char *message)
{
    struct mh_error e = {code, message};
    return e;
}

struct mh_error mh_open(const char *plugin_path, struct mh_context **ctx)
{
    *ctx = NULL;
    /* RTLD_NODELETE: the plugin stays mapped after dlclose(), so leak reports made at
     * exit can still name its functions (an unloaded module's frames print as ???). */
    void *h = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
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
    struct mh_error e = plugin->new_encoder(&c->encoder);
    if (e.code != MH_OK) {
        free(c);
        dlclose(h);
        return e;
    }
    *ctx = c;
    return error(MH_OK, "ok");
}

struct mh_error mh_encode(struct mh_context *ctx, const struct mh_image *image,
                          uint8_t *out, size_t capacity, size_t *out_size)
{
    *out_size = 0;
    return ctx->plugin->encode_image(ctx->encoder, image, out, capacity, out_size);
}

void mh_close(struct mh_context *ctx)
{
    if (!ctx)
        return;
    ctx->plugin->free_encoder(ctx->encoder);
    dlclose(ctx->handle);
    free(ctx);
}
