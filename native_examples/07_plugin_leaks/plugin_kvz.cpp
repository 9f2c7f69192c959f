// The encoder plugin (stands in for libheif's kvazaar wrapper, encoder_kvazaar.cc):
// it adapts the minikvz library to miniheif's plugin interface.
//
// One source, three builds (-DLEAK_MODE=...):
//   1  libheif's own bug before PR #1141, in miniature (encoder_kvazaar.cc at 33e00a4e,
//      lines 603-673): every error path frees by hand, but the normal path reuses one
//      pointer `data` for every call that returns a chunk list and frees only the last
//      list (NULL): the header list and the picture's list leak with every image
//   2  a variant built for this lesson: frees everything on the normal path, nothing
//      on the error paths (encoder failure, output buffer full, a C++ exception)
//   0  fixed, the PR #1141 pattern: every object is held by an owner whose destructor
//      calls the library's own free (chunk_free / picture_free), on every path
#include "miniheif.h"
#include "minikvz.h"

#include <cstring>
#include <memory>
#include <new>
#include <vector>

#ifndef LEAK_MODE
#define LEAK_MODE 0
#endif

namespace {

struct encoder_struct {
    const mk_api *api;
    mk_encoder *kvz;
    std::vector<uint8_t> output_data;     // the packet being built
};

mh_error error(int code, const char *message) { return mh_error{code, message}; }

// Copies a chunk list's bytes into the packet. std::vector may throw std::bad_alloc.
void append_chunk_data(const mk_chunk *data, std::vector<uint8_t> &out)
{
    for (; data; data = data->next)
        out.insert(out.end(), data->data, data->data + data->len);
}

// libheif's make_guard: a unique_ptr whose deleter is the library's own free function.
template <typename T, typename D>
std::unique_ptr<T, D> make_guard(T *ptr, D deleter) { return std::unique_ptr<T, D>(ptr, deleter); }

mh_error new_encoder(void **out)
{
    *out = nullptr;
    const mk_api *api = mk_api_get();
    mk_encoder *kvz = api->encoder_open(80);
    if (!kvz)
        return error(MH_ERR_NOMEM, "encoder_open failed");
    try {
        *out = new encoder_struct{api, kvz, {}};
    } catch (const std::bad_alloc &) {
        api->encoder_close(kvz);
        return error(MH_ERR_NOMEM, "out of memory");
    }
    return error(MH_OK, "ok");
}

void free_encoder(void *raw)
{
    auto *enc = static_cast<encoder_struct *>(raw);
    if (!enc)
        return;
    enc->api->encoder_close(enc->kvz);
    delete enc;
}

#if LEAK_MODE == 0
mh_error encode(encoder_struct *enc, const mh_image *image, uint8_t *out, size_t capacity,
                size_t *out_size)
{
    const mk_api *api = enc->api;
    auto pic = make_guard(api->picture_alloc(image->width, image->height),
                          [api](mk_picture *p) { api->picture_free(p); });
    if (!pic)
        return error(MH_ERR_NOMEM, "picture_alloc failed");
    std::memcpy(pic->y, image->pixels, (size_t)image->width * image->height);

    // The PR #1141 pattern: an owner of the pointer variable itself, so a new list
    // assigned to `data` is owned too; free_data also runs on any early return or throw.
    mk_chunk *data = nullptr;
    auto free_data = [api](mk_chunk **d) {
        if (*d) {
            api->chunk_free(*d);
            *d = nullptr;
        }
    };
    auto data_deleter = std::unique_ptr<mk_chunk *, decltype(free_data)>(&data, free_data);

    uint32_t len;
    if (!api->encoder_headers(enc->kvz, &data, &len))
        return error(MH_ERR_ENCODER, "encoder_headers failed");
    enc->output_data.clear();
    append_chunk_data(data, enc->output_data);
    free_data(&data);

    if (!api->encoder_encode(enc->kvz, pic.get(), &data, &len))
        return error(MH_ERR_ENCODER, "encoder_encode failed");
    append_chunk_data(data, enc->output_data);
    if (enc->output_data.size() > capacity)
        return error(MH_ERR_BUFFER_FULL, "output buffer full");
    std::memcpy(out, enc->output_data.data(), enc->output_data.size());
    *out_size = enc->output_data.size();
    return error(MH_OK, "ok");
}
#elif LEAK_MODE == 1
// libheif before PR #1141 (encoder_kvazaar.cc at 33e00a4e, 606-671), step for step.
mh_error encode(encoder_struct *enc, const mh_image *image, uint8_t *out, size_t capacity,
                size_t *out_size)
{
    const mk_api *api = enc->api;
    mk_picture *pic = api->picture_alloc(image->width, image->height);
    if (!pic)
        return error(MH_ERR_NOMEM, "picture_alloc failed");
    std::memcpy(pic->y, image->pixels, (size_t)image->width * image->height);

    mk_chunk *data = nullptr;
    uint32_t len;
    if (!api->encoder_headers(enc->kvz, &data, &len)) {               // errors: freed by hand
        api->picture_free(pic);
        return error(MH_ERR_ENCODER, "encoder_headers failed");
    }
    enc->output_data.clear();
    append_chunk_data(data, enc->output_data);                        // a throw leaks all
    if (!api->encoder_encode(enc->kvz, pic, &data, &len)) {           // data overwritten:
        api->chunk_free(data);                                        // the header list is lost
        api->picture_free(pic);
        return error(MH_ERR_ENCODER, "encoder_encode failed");
    }
    append_chunk_data(data, enc->output_data);
    for (;;) {                                                        // flush: pic NULL until
        if (!api->encoder_encode(enc->kvz, nullptr, &data, &len)) {   // no more data; data
            api->chunk_free(data);                                    // overwritten again: the
            api->picture_free(pic);                                   // picture's list is lost
            return error(MH_ERR_ENCODER, "encoder_encode failed");
        }
        if (data == nullptr || data->len == 0)
            break;
        append_chunk_data(data, enc->output_data);
    }
    api->chunk_free(data);                                            // the last list: NULL
    api->picture_free(pic);
    if (enc->output_data.size() > capacity)
        return error(MH_ERR_BUFFER_FULL, "output buffer full");
    std::memcpy(out, enc->output_data.data(), enc->output_data.size());
    *out_size = enc->output_data.size();
    return error(MH_OK, "ok");
}
#else
mh_error encode(encoder_struct *enc, const mh_image *image, uint8_t *out, size_t capacity,
                size_t *out_size)
{
    const mk_api *api = enc->api;
    mk_picture *pic = api->picture_alloc(image->width, image->height);
    if (!pic)
        return error(MH_ERR_NOMEM, "picture_alloc failed");
    std::memcpy(pic->y, image->pixels, (size_t)image->width * image->height);

    mk_chunk *data = nullptr;
    uint32_t len;
    if (!api->encoder_headers(enc->kvz, &data, &len))
        return error(MH_ERR_ENCODER, "encoder_headers failed");        // leaks pic
    enc->output_data.clear();
    append_chunk_data(data, enc->output_data);                         // a throw leaks data, pic
    api->chunk_free(data);
    data = nullptr;

    if (!api->encoder_encode(enc->kvz, pic, &data, &len))
        return error(MH_ERR_ENCODER, "encoder_encode failed");         // leaks pic
    append_chunk_data(data, enc->output_data);                         // a throw leaks data, pic
    if (enc->output_data.size() > capacity)
        return error(MH_ERR_BUFFER_FULL, "output buffer full");        // leaks data, pic
    std::memcpy(out, enc->output_data.data(), enc->output_data.size());
    *out_size = enc->output_data.size();
    api->chunk_free(data);                                             // only on this path
    api->picture_free(pic);
    return error(MH_OK, "ok");
}
#endif

// The C boundary: no exception may cross it (the host is C). Catch, report, return.
mh_error encode_image(void *raw, const mh_image *image, uint8_t *out, size_t capacity,
                      size_t *out_size)
{
    *out_size = 0;
    try {
        return encode(static_cast<encoder_struct *>(raw), image, out, capacity, out_size);
    } catch (const std::bad_alloc &) {
        return error(MH_ERR_NOMEM, "out of memory (std::bad_alloc)");
    }
}

const mh_encoder_plugin plugin = {
    MH_PLUGIN_API_VERSION, "minikvz (C++)", new_encoder, free_encoder, encode_image,
};

}  // namespace

extern "C" const mh_encoder_plugin *mh_plugin_entry(void) { return &plugin; }
