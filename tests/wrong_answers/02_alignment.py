"""Seeded wrong answers for lesson 02: each replaces a whole `solution` cell (1-based
index among the lesson's solution cells); the check after it must print "✘" and "hint:"."""

WRONG = {
    # 1. predicted layouts: the sizes added up, as if there were no padding at all
    1: '''my_prediction = {
    "q1": {"sizeof": 6, "c": 0, "i": 1, "d": 5},
    "q2": {"sizeof": 12, "s": 0, "c": 2, "d": 3, "e": 11},
    "q3": {"sizeof": 11, "name": 0, "n": 5, "k": 9},
    "q4": {"sizeof": 8, "a": 0, "inner": 1, "b": 7},
}
''',
    # 2. reordered struct: doubles moved first, the rest left in place -> 40 bytes, not 32
    2: '''%%cffi mine
struct sensor {
    double reading;
    double calib;
    short  kind;
    char   id;
    int    count;
    char   flags;
    short  unit;
    int    samples;
    char   status;
};
struct sensor use_sensor;
''',
    # 3. my_aligned_alloc: rounds malloc's pointer up, gives no room, frees the aligned pointer
    3: '''%%cffi myalloc
#include <stdint.h>
#include <stdlib.h>

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *raw = malloc(size + alignment);
    if (!raw) return NULL;
    return (void *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

void my_aligned_free(void *p) {
    free(p);
}
''',
}
