/* encode_loop: the application (uses miniheif like a program uses libheif).
 *
 *   encode_loop PLUGIN loop [ITERATIONS [EVERY]]
 *                                          encode ITERATIONS small images; every 5th is too
 *                                          big for the output buffer (an expected error the
 *                                          program skips). With libleakcount.so preloaded it
 *                                          marks live blocks every EVERY (1) iterations.
 *   encode_loop PLUGIN sweep-alloc         for N = 1, 2, ...: one job (2 images that fit)
 *                                          with the N-th allocation failing (needs
 *                                          libleakcount.so preloaded); until no N is hit
 *   encode_loop PLUGIN sweep-alloc-from    the same with the N-th and every later allocation
 *                                          failing (persistent out-of-memory)
 *   encode_loop PLUGIN sweep-encode        the same with the N-th encoder call failing
 *   encode_loop PLUGIN once                one job, no fault (for the leak tools)
 */
#include "miniheif.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counting allocator's hooks: NULL unless libleakcount.so is preloaded. */
extern void leakcount_mark(long iteration) __attribute__((weak));
extern void leakcount_arm(long fail_at) __attribute__((weak));
extern void leakcount_arm_from(long fail_at) __attribute__((weak));
extern long leakcount_disarm(void) __attribute__((weak));
extern long leakcount_epoch_live(long *bytes) __attribute__((weak));
extern void leakcount_sites(int fd) __attribute__((weak));

#define CAPACITY 200

static void make_image(int i, int side, uint8_t *pixels, struct mh_image *img)
{
    for (int k = 0; k < side * side; k++)
        pixels[k] = (uint8_t)((k * 7 + i * 13) % 11 < 4 ? 0 : k * 5 + i);   /* a few runs */
    img->width = img->height = side;
    img->pixels = pixels;
}

/* Encode one image; what went wrong as a short word. */
static const char *encode_one(struct mh_context *ctx, int i, int side, size_t *size)
{
    static uint8_t pixels[120], out[CAPACITY];
    struct mh_image img;
    make_image(i, side, pixels, &img);
    struct mh_error e = mh_encode(ctx, &img, out, sizeof out, size);
    static const char *names[] = {"ok", "encoder-error", "buffer-full", "out-of-memory", "plugin"};
    return e.code >= 0 && e.code <= 4 ? names[e.code] : "?";
}

/* A job: open the encoder, encode two images that fit, close. */
static const char *job(const char *plugin)
{
    struct mh_context *ctx;
    struct mh_error e = mh_open(plugin, &ctx);
    if (e.code != MH_OK)
        return "open-failed";
    const char *outcome = "ok";
    for (int i = 0; i < 2; i++) {
        size_t size;
        const char *r = encode_one(ctx, i, 8, &size);
        if (strcmp(r, "ok") != 0) {
            outcome = r;
            break;
        }
    }
    mh_close(ctx);
    return outcome;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN loop|sweep-alloc|sweep-encode|once [N]\n", argv[0]);
        return 2;
    }
    const char *plugin = argv[1], *mode = argv[2];
    if (strcmp(mode, "once") == 0) {
        printf("job: %s\n", job(plugin));
        return 0;
    }
    if (strcmp(mode, "loop") == 0) {
        int iterations = argc > 3 ? atoi(argv[3]) : 20, errors = 0;
        int every = argc > 4 ? atoi(argv[4]) : 1;       /* mark every EVERY iterations */
        struct mh_context *ctx;
        if (mh_open(plugin, &ctx).code != MH_OK)
            return 1;
        if (leakcount_mark)
            leakcount_mark(0);
        for (int i = 1; i <= iterations; i++) {
            size_t size;
            int side = i % 5 == 0 ? 10 : 8;            /* every 5th image is too big */
            if (strcmp(encode_one(ctx, i, side, &size), "ok") != 0)
                errors++;                              /* skip it, go on: as real programs do */
            if (leakcount_mark && (i % every == 0 || i == iterations))
                leakcount_mark(i);
        }
        mh_close(ctx);
        printf("%d images, %d skipped (output buffer full)\n", iterations, errors);
        /* the encoder library's own count of what it handed out and never got back */
        void *kvz = dlopen("libminikvz.so", RTLD_NOW | RTLD_NOLOAD);
        long (*live)(void) = kvz ? (long (*)(void))dlsym(kvz, "mk_live_objects") : NULL;
        if (live && getenv("SHOW_OWN_COUNT"))
            printf("minikvz's own count: %ld objects not given back\n", live());
        return 0;
    }
    int from = strcmp(mode, "sweep-alloc-from") == 0;
    int alloc = from || strcmp(mode, "sweep-alloc") == 0;
    if (!alloc && strcmp(mode, "sweep-encode") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (!leakcount_arm) {
        fprintf(stderr, "sweeps need the counting allocator: LD_PRELOAD=libleakcount.so\n");
        return 2;
    }
    job(plugin);                                       /* warm up: load everything once */
    void (*fail_encode_at)(long) = NULL;
    void *kvz = dlopen("libminikvz.so", RTLD_NOW | RTLD_NOLOAD);
    if (kvz)
        fail_encode_at = (void (*)(long))dlsym(kvz, "mk_fail_encode_at");
    if (!alloc && !fail_encode_at) {
        fprintf(stderr, "libminikvz.so is not loaded\n");
        return 2;
    }
    for (long n = 1;; n++) {
        if (from) {
            fflush(stdout);                            /* a crash must not lose the lines */
            leakcount_arm_from(n);
        } else if (alloc) {
            leakcount_arm(n);
        } else {
            fail_encode_at(n);
            leakcount_arm(0);
        }
        const char *outcome = job(plugin);
        long allocations = leakcount_disarm(), bytes, blocks = leakcount_epoch_live(&bytes);
        printf("N=%ld %s leaked %ld blocks %ld bytes\n", n, outcome, blocks, bytes);
        if (blocks && getenv("SHOW_SITES")) {
            fflush(stdout);
            leakcount_sites(1);                        /* who allocated what is still live */
        }
        if (strcmp(outcome, "ok") == 0 && (alloc ? n > allocations : 1))
            break;                                     /* N past the job's last allocation/call */
        if (n > 1000)
            break;
    }
    if (fail_encode_at)
        fail_encode_at(0);
    return 0;
}
