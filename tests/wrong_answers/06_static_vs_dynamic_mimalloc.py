"""Seeded wrong answers for src/lessons/06_static_vs_dynamic_mimalloc.py.

Keyed by the 1-based index of the solution-tagged cell; each value replaces that whole
cell, and the check right after it must print "✘" and "hint:".
"""

WRONG = {
    # Exercise 1: "CMake would have complained if mimalloc-static did not exist", so set-up
    # one is believed to link (and to behave like section 2's static build).
    1: '''PREDICTION = {
    "one":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "two":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "three": dict(links=True, library_allocator="glibc", config_crashes=True),
}
''',
    # Exercise 2: a "fix" that copies the value with strdup and never frees it: it runs and
    # prints the right values, but every call leaks (caught by the glibc byte count).
    2: """FIX_CPP = r'''
#include "appconfig.h"
#include <json/json.h>
#include <cstring>
#include <string>

ConfigText config_text(const char *key)
{
    std::string value = config_string(key);
    char *copy = strdup(value.c_str());
    return ConfigText{copy, value.size(), nullptr};
}

void config_text_release(ConfigText) {}   // the caller has copied it already
'''
""",
}
