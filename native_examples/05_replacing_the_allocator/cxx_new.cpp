// cxx_new.cpp - which operator new does this program use, and who serves it?
//
// Lesson 05 runs it:
//   g++ cxx_new.cpp                                  libstdc++'s operator new -> glibc malloc
//   the same, run with LD_PRELOAD=libmimalloc.so     mimalloc defines operator new itself
// and tries to link it with mi_new_delete.cpp (mimalloc-new-delete.h) and libmimalloc.a:
// a "multiple definition" error, because the wheel's mimalloc already defines the
// operators (built with MI_OVERRIDE=ON).
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

// weak: defined when a static mimalloc is linked in (its mi_* API is hidden from dlsym)
extern "C" bool mi_is_in_heap_region(const void *p) __attribute__((weak));

static const char *module_of(void *address)
{
    Dl_info info;
    if (dladdr(address, &info) && info.dli_fname) {
        const char *s = std::strrchr(info.dli_fname, '/');
        return s ? s + 1 : info.dli_fname;
    }
    return "?";
}

int main()
{
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    bool (*in_mimalloc)(const void *) = mi_is_in_heap_region;
    if (!in_mimalloc)
        in_mimalloc = reinterpret_cast<bool (*)(const void *)>(
            dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
    auto who = [&](const void *p) { return in_mimalloc && in_mimalloc(p) ? "mimalloc" : "glibc"; };

    void *(*op_new)(std::size_t) = ::operator new;      // the definition this program binds to
    std::printf("%-30s %s\n", "operator new lives in", module_of(reinterpret_cast<void *>(op_new)));

    int *one = new int(7);
    std::vector<double> many(1000);
    std::string text(100, 'x');
    std::printf("%-30s %s\n", "new int", who(one));
    std::printf("%-30s %s\n", "std::vector<double>(1000)", who(many.data()));
    std::printf("%-30s %s\n", "std::string(100 chars)", who(text.data()));
    void *raw = std::malloc(100);
    std::printf("%-30s %s\n", "malloc in the program", who(raw));
    std::free(raw);
    delete one;
    return 0;
}
