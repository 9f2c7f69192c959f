// server.cpp - the program that uses the config library, like a web server's main().
//
//   server probe             who serves: the program's new, the library's new, jsoncpp's
//   server listen [ADDRESS]  add_listener(ADDRESS, port) x 1000 (default 0.0.0.0): the library copies
//   server config FILE       load FILE, read three values (made in the library, freed here)
//   server string N          a string of N chars made in the library, destroyed here
//   server fixed FILE        the exercise-2 API, 1000 times, then what glibc still holds
//                            and how much the process's mappings grew
//
// "Who serves" is proved two ways: glibc's own counters (mallinfo2: bytes glibc has
// handed out and not got back) and, when a mimalloc is linked in, mi_is_in_heap_region.
#include "appconfig.h"

#include <dlfcn.h>
#include <malloc.h>
#include <json/json.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#ifdef STATIC_MIMALLOC
extern "C" bool mi_is_in_heap_region(const void *p);
#endif

// In use: blocks from the heap (uordblks) and blocks glibc gave their own mmap (hblkhd,
// requests of 128 KiB and more by default): a leak of either kind counts.
static long glibc_in_use()
{
    struct mallinfo2 mi = mallinfo2();
    return static_cast<long>(mi.uordblks + mi.hblkhd);
}

// The process's mapped size (the first field of /proc/self/statm, in pages), in bytes:
// what a copy in memory of its own (mmap) leaks, which glibc's counters never see.
static long mapped_bytes()
{
    long pages = 0;
    if (FILE *f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        std::fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

// The process's resident size (the second field of /proc/self/statm), in bytes: what a
// private pool carved from memory mapped in advance (or a static array) uses up as it
// hands out blocks that are never given back.
static long resident_bytes()
{
    long pages = 0, resident = 0;
    if (FILE *f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

// Allocate with `make`, check whether glibc's in-use bytes grew by the block's size.
template <class Make>
static const char *who(Make make)
{
    bool (*in_mimalloc)(const void *) = nullptr;
#ifdef STATIC_MIMALLOC
    in_mimalloc = mi_is_in_heap_region;
#else
    in_mimalloc = reinterpret_cast<bool (*)(const void *)>(dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
#endif
    long before = glibc_in_use();
    const void *p = make();
    bool glibc = glibc_in_use() - before >= 4000;
    bool mimalloc = in_mimalloc && in_mimalloc(p);
    return glibc ? (mimalloc ? "both?!" : "glibc") : (mimalloc || !in_mimalloc ? "mimalloc" : "?");
}

// The two places where the program destroys a std::string the library made. The
// destructor's code comes from the <string> header; GCC decides at each call site whether
// to inline it (then it runs here, in the program, with the program's operator delete) or
// to call the copy compiled into libstdc++.so (whose operator delete is glibc's). At -O3
// GCC 12 inlined it in main; GCC 14 called libstdc++'s copy for these once-only calls
// (measured). [[gnu::flatten]] asks GCC to inline everything it can into the function,
// so with optimisation on, the destructor runs in the program on both; at -O0 GCC
// inlines nothing, flatten or not.
[[gnu::flatten]] static void print_config_values()
{
    for (const char *key : {"name", "document_root", "log_path"}) {
        std::string value = config_string(key);      // made in the library...
        std::printf("app.%-14s = %s (%zu chars)\n", key, value.c_str(), value.size());
    }                                                // ...freed here
}

[[gnu::flatten]] static void make_and_destroy_string(std::size_t n)
{
    std::string s = config_make_string(n);
    std::printf("got %zu chars, capacity %zu\n", s.size(), s.capacity());
}

int main(int argc, char **argv)
{
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "probe";

    if (!std::strcmp(mode, "probe")) {
        // each block is 4096 bytes and deliberately kept (this is a probe, not a leak test)
        std::printf("%-36s %s\n", "new in the program", who([] { return new char[4096]; }));
        std::printf("%-36s %s\n", "new in libappconfig.so",
                    who([] { return config_probe_alloc(4096); }));
        static char text[4097];
        std::memset(text, 'j', 4096);
        std::printf("%-36s %s\n", "malloc in libjsoncpp.so", who([] {
            return static_cast<const void *>((new Json::Value(text))->asCString());
        }));
        return 0;
    }
    if (!std::strcmp(mode, "listen")) {
        const char *address = argc > 2 ? argv[2] : "0.0.0.0";
        for (int i = 0; i < 1000; i++) add_listener(address, 8000 + i);
        std::printf("listeners: %zu\n", listener_count());
        clear_listeners();
        std::printf("listeners after clear: %zu\n", listener_count());
        return 0;
    }
    if (!std::strcmp(mode, "config") && argc > 2) {
        if (!config_load(argv[2])) { std::printf("cannot load %s\n", argv[2]); return 2; }
        print_config_values();
        config_unload();
        std::printf("config loaded and released\n");
        return 0;
    }
    if (!std::strcmp(mode, "string") && argc > 2) {
        make_and_destroy_string(std::strtoul(argv[2], nullptr, 10));
        std::printf("destroyed\n");
        return 0;
    }
    if (!std::strcmp(mode, "fixed") && argc > 2) {
        if (!config_load(argv[2])) { std::printf("cannot load %s\n", argv[2]); return 2; }
        const int calls = 20000;
        std::printf("config loaded; 3 values, then %d more calls\n", calls);  // stdout's buffer: made now
        // The baselines come before the first config_text, so whatever the fix keeps from its
        // first call on (a pool it maps, a cache) is counted.
        long before = glibc_in_use(), mapped = mapped_bytes(), resident = resident_bytes();
        // All three texts are taken before any is released: data must stay valid until its own
        // config_text_release, even while other keys are asked for.
        const char *keys[] = {"name", "document_root", "log_path"};
        // The program's own copy of a text, printed after the text is given back.
        auto copy_and_release = [](const char *said, const char *key, ConfigText t) {
            char value[256] = "";
            std::size_t n = t.data && t.size < sizeof value ? t.size : 0;
            std::memcpy(value, t.data ? t.data : "", n);
            value[n] = 0;
            config_text_release(t);
            std::printf("%sapp.%-14s = %s (%zu chars)\n", said, key, value, n);
        };
        ConfigText texts[3];
        for (int k = 0; k < 3; k++) texts[k] = config_text(keys[k]);
        for (int k = 0; k < 3; k++) copy_and_release("", keys[k], texts[k]);
        // One more text is held through the whole loop and read after it: data stays valid until
        // its own release, however many texts are taken and given back meanwhile (a ring of a few
        // static buffers reused by later calls would have overwritten it).
        ConfigText kept = config_text("log_path");
        // Memory given back is used again: count the distinct data pointers and the distinct
        // non-null handles the loop sees (in fixed arrays, so that counting allocates nothing),
        // up to SEEN + 1 each.
        enum { SEEN = 64 };
        static const void *seen[SEEN], *seen_handle[SEEN];
        int distinct = 0, distinct_handles = 0;
        auto count = [](const void **table, int &n, const void *p) {
            if (n > SEEN) return;
            int j = 0;
            while (j < n && j < SEEN && table[j] != p) j++;
            if (j == n) { if (n < SEEN) table[n] = p; n++; }
        };
        for (int i = 0; i < calls; i++) {
            ConfigText t = config_text("document_root");
            count(seen, distinct, t.data);
            if (t.handle) count(seen_handle, distinct_handles, t.handle);
            config_text_release(t);
        }
        copy_and_release("held through the loop: ", "log_path", kept);
        std::printf("distinct data pointers over %d calls: %d%s\n", calls, distinct,
                    distinct > SEEN ? " (counting stopped there)" : "");
        std::printf("distinct handles over %d calls: %d%s\n", calls, distinct_handles,
                    distinct_handles > SEEN ? " (counting stopped there)" : "");
        std::printf("glibc bytes still in use after %d calls: %ld\n", calls + 3, glibc_in_use() - before);
        std::printf("mapped bytes grown after %d calls: %ld\n", calls + 3, mapped_bytes() - mapped);
        std::printf("resident bytes grown after %d calls: %ld\n", calls + 3, resident_bytes() - resident);
        config_unload();
        return 0;
    }
    std::fprintf(stderr, "usage: server probe|listen [ADDRESS]|config FILE|string N|fixed FILE\n");
    return 2;
}
