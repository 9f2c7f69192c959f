"""Seeded wrong answers for lesson 06 (tests/test_wrong_answers.py runs them).

WRONG[n]: for the n-th cell tagged `solution`, whole replacements of that cell, each with its
kind and a fragment of the hint the check must print for it.
"""

FIX_HEAD = '''
#include "appconfig.h"
#include <json/json.h>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

const Json::Value &config_app_value(const char *key);   // from appconfig.cpp
'''

WRONG = {
    # Exercise 1: predict three set-ups.
    1: [
        # "CMake would have complained if mimalloc-static did not exist", so set-up one is
        # believed to link (and to behave like section 2's static build)
        ("partial", '''PREDICTION = {
    "one":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "two":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "three": dict(links=True, library_allocator="glibc", config_crashes=True),
}
''', "Which line creates the target mimalloc-static"),
        # values that say yes to any comparison
        ("gaming", '''class Yes:
    def __eq__(self, other):
        return True


PREDICTION = {name: dict(links=Yes(), library_allocator=Yes(), config_crashes=Yes())
              for name in ("one", "two", "three")}
''', "True or False"),
        # an allocator and a crash for a program the task says does not exist (links=False)
        ("forbidden", '''PREDICTION = {
    "one":   dict(links=False, library_allocator="glibc", config_crashes=False),
    "two":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "three": dict(links=True, library_allocator="glibc", config_crashes=True),
}
''', "when links is False"),
        # "PRIVATE hides it": set-up two's library believed to stay on glibc (review 06-07)
        ("partial", '''PREDICTION = {
    "one":   dict(links=False, library_allocator=None, config_crashes=None),
    "two":   dict(links=True, library_allocator="glibc", config_crashes=False),
    "three": dict(links=True, library_allocator="glibc", config_crashes=True),
}
''', "search order"),
        # 0 and 1 instead of booleans (review 06-07)
        ("gaming", '''PREDICTION = {
    "one":   dict(links=0, library_allocator=None, config_crashes=None),
    "two":   dict(links=1, library_allocator="mimalloc", config_crashes=0),
    "three": dict(links=1, library_allocator="glibc", config_crashes=1),
}
''', "True or False"),
        # set-up three believed to hide mimalloc only from the executable (review 06-07)
        ("partial", '''PREDICTION = {
    "one":   dict(links=False, library_allocator=None, config_crashes=None),
    "two":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "three": dict(links=True, library_allocator="mimalloc", config_crashes=False),
}
''', "local: *"),
        # the check's own experiment asked for the answer (review5-06-07, defect 3)
        ("gaming", '''PREDICTION = {name: dict(zip(("links", "library_allocator", "config_crashes"),
                                  sd.measure_setup(name)))
              for name in ("one", "two", "three")}
''', "instead of predicting it"),
    ],
    # Exercise 2: an API that frees where it allocates.
    2: [
        # copies the value with strdup and never frees it: it runs and prints the right values,
        # but every call leaks (caught by glibc's byte count)
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    std::string value = config_string(key);
    char *copy = strdup(value.c_str());
    return ConfigText{copy, value.size(), nullptr};
}

void config_text_release(ConfigText) {}   // the caller has copied it already
"""
''', "config_text_release must free"),
        # the review's loophole: a copy big enough for glibc to give it its own mmap, never freed
        # (not in uordblks, only in hblkhd)
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    std::string value = config_string(key);
    char *copy = static_cast<char *>(std::malloc(200000));
    std::memcpy(copy, value.data(), value.size());
    return ConfigText{copy, value.size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "config_text_release must free"),
        # the book's values typed in: right for config.json, wrong for any other file
        ("gaming", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    static const std::map<std::string, std::string> book = {
        {"name", "demo"},
        {"document_root", "/srv/www/demo/public_html/static"},
        {"log_path", "/var/log/demo/a-long-enough-log-directory"},
    };
    const std::string &value = book.at(key);
    return ConfigText{value.data(), value.size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "no values typed in"),
        # a view into a temporary std::string, destroyed before config_text returns: the program
        # then reads freed memory (undefined behaviour the check must exercise)
        ("forbidden", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    return ConfigText{config_string(key).c_str(), config_string(key).size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "valid until config_text_release"),
        # the data of a std::string destroyed when config_text returns (review 06-07)
        ("forbidden", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    std::string s = config_string(key);
    return ConfigText{s.data(), s.size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "valid until config_text_release"),
        # a new std::string released with std::free: its buffer leaks (review 06-07)
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    auto *s = new std::string(config_string(key));
    return ConfigText{s->data(), s->size(), s};
}

void config_text_release(ConfigText t) { std::free(t.handle); }
"""
''', "matching delete/free"),
        # a copy in a page of its own, never unmapped: glibc's counters do not see it (review 06-07)
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
#include <sys/mman.h>

ConfigText config_text(const char *key)
{
    std::string value = config_string(key);
    void *page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *copy = static_cast<char *>(page);
    std::memcpy(copy, value.data(), value.size());
    return ConfigText{copy, value.size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "mmap"),
        # the check's own config values, read from its oracle and typed into a table next to the
        # book's (review 06-07): the check now writes new random values on every run
        ("gaming", '''import json as _json

from labsupport.lessons import static_dynamic as _sd

_book = _json.loads((_sd._src() / "config" / "config.json").read_text())["app"]
_other = _sd.fresh_config()[1]
_table = lambda d: ", ".join('{"%s", "%s"}' % kv for kv in d.items())
FIX_CPP = r"""''' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    static const std::map<std::string, std::string> book = {BOOK};
    static const std::map<std::string, std::string> other = {OTHER};
    std::string name = config_app_value("name").asCString();
    const std::string &s = (name == "demo" ? book : other).at(key);
    return ConfigText{s.data(), s.size(), nullptr};
}

void config_text_release(ConfigText) {}
""".replace("BOOK", _table(_book)).replace("OTHER", _table(_other))
''', "no values typed in"),
        # review2 06-07, 3: a bump allocator in one region mapped on the first call, never given
        # back: glibc never sees it, and the old check took its baselines after the first calls
        ("forbidden", 'FIX_CPP = r"""' + FIX_HEAD + '''
#include <sys/mman.h>

static char *pool, *next;

ConfigText config_text(const char *key)
{
    if (!pool)
        pool = next = static_cast<char *>(mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE,
                                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    const char *s = config_app_value(key).asCString();
    std::size_t n = std::strlen(s);
    char *c = next;
    next += n + 1;                                   // a bump allocator: never gives back
    std::memcpy(c, s, n + 1);
    return ConfigText{c, n, nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "a pool of your own"),
        # the same bump allocator in a static array (mapped with the library, before any baseline):
        # only the resident memory it uses up shows it
        ("forbidden", 'FIX_CPP = r"""' + FIX_HEAD + '''
static char pool[4 << 20], *next = pool;

ConfigText config_text(const char *key)
{
    const char *s = config_app_value(key).asCString();
    std::size_t n = std::strlen(s);
    if (next + n + 1 > pool + sizeof pool)
        next = pool;                                 // wrap around: old copies get overwritten
    char *c = next;
    next += n + 1;
    std::memcpy(c, s, n + 1);
    return ConfigText{c, n, nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "a pool of your own"),
        # review3 06-07, 4: one static buffer reused by every call (the asctime/strtok mistake):
        # the first text is overwritten when the second is asked for
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
ConfigText config_text(const char *key)
{
    static std::string last;
    last = config_string(key);
    return ConfigText{last.data(), last.size(), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "even while other keys are asked for"),
        # review3 06-07, 3: a bump pool mapped and populated by a constructor, before the check's
        # baselines: nothing grows inside the window, but every call takes new memory
        ("gaming", 'FIX_CPP = r"""' + FIX_HEAD + '''
#include <sys/mman.h>

static char *pool, *next;

__attribute__((constructor)) static void make_pool()
{
    pool = next = static_cast<char *>(mmap(nullptr, 4 << 20, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
}

ConfigText config_text(const char *key)
{
    const char *s = config_app_value(key).asCString();
    std::size_t n = std::strlen(s);
    char *c = next;
    next += n + 1;                                   // never given back
    std::memcpy(c, s, n + 1);
    return ConfigText{c, n, nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "a new address every call"),
        # review3 06-07, 3: a 4 MiB ballast made by a constructor and freed by the first call,
        # so the counts drop by 4 MiB; then a strdup per call, never freed (about 960 KB)
        ("gaming", 'FIX_CPP = r"""' + FIX_HEAD + '''
static char *ballast;

__attribute__((constructor)) static void make_ballast()
{
    ballast = static_cast<char *>(std::malloc(4 << 20));
    std::memset(ballast, 1, 4 << 20);
}

ConfigText config_text(const char *key)
{
    if (ballast) {
        std::free(ballast);                          // the counts drop by 4 MiB once
        ballast = nullptr;
    }
    char *c = strdup(config_app_value(key).asCString());   // ...and this is never freed
    return ConfigText{c, std::strlen(c), nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "only moves the check's baseline"),
        # review5 06-07, 2: a ring of four static buffers: three texts at once hold, a text
        # held through the loop is overwritten four calls later
        ("partial", 'FIX_CPP = r"""' + FIX_HEAD + '''
static char ring[4][256];
static int next_slot;

ConfigText config_text(const char *key)
{
    std::string value = config_string(key);
    char *slot = ring[next_slot++ % 4];
    std::size_t n = value.size() < 255 ? value.size() : 255;
    std::memcpy(slot, value.data(), n);
    return ConfigText{slot, n, nullptr};
}

void config_text_release(ConfigText) {}
"""
''', "buffers that later calls reuse"),
        # review5 06-07, 5: a view into the library's JSON tree (right), plus an 8-byte handle
        # from a pool of its own that is never given back: data repeats, the handle does not
        ("gaming", 'FIX_CPP = r"""' + FIX_HEAD + '''
static char pool[8 << 20];
static std::size_t used;

ConfigText config_text(const char *key)
{
    const Json::Value &v = config_app_value(key);
    const char *begin, *end;
    v.getString(&begin, &end);
    void *handle = used + 8 <= sizeof pool ? pool + used : nullptr;
    used += 8;
    return ConfigText{begin, static_cast<std::size_t>(end - begin), handle};
}

void config_text_release(ConfigText) {}
"""
''', "a new handle every call"),
    ],
}
