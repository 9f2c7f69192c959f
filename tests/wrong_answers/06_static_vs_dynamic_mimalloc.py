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
    ],
}
