"""Wrong answers for lesson 00, keyed by the 1-based index of the solution-tagged cell:
(kind, whole replacement of the cell, a fragment the verdict's text must contain)."""

WRONG = {
    1: [
        # treats the buffer as a C string: stops at the first zero byte
        ("partial", '''%%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n && buf[i] != 0; i++)
        if (buf[i] == 0)
            count++;
    return count;
}
''', "look at all n bytes"),
        # the book's five buffers recognised by their bytes, their counts hard-coded
        ("gaming", '''%%cffi zeros
#include <stddef.h>
#include <string.h>

size_t count_zeros(const char *buf, size_t n) {
    if (n == 6 && memcmp(buf, "memory", 6) == 0) return 0;
    if (n == 6) return 3;
    if (n == 4) return 4;
    if (n == 14) return 1;
    return 0;
}
''', "look at all n bytes"),
        # reads one byte past the end (i <= n): undefined behaviour the check exercises
        ("forbidden", '''%%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i <= n; i++)
        if (buf[i] == 0)
            count++;
    return count - 1;          /* "the terminating zero is not data" */
}
''', "past the end"),
        # a signed-char comparison: on x86-64 a char is signed, so bytes 0x80 to 0xff are
        # negative and counted as zeros (the check's buffer b"\x80\xff\x00\x7f" catches it)
        ("partial", '''%%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] <= 0)
            count++;
    return count;
}
''', "0x80 to 0xff are not zero"),
        # a right loop in a cell that does not build (a missing semicolon): the check must not grade
        # the module an earlier run bound to `zeros` (here the signed-char answer above)
        # (review2 00-01, defect 8)
        ("partial", '''%%cffi zeros
#include <stddef.h>

size_t count_zeros(const char *buf, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0)
            count++
    return count;
}
''', "did not build"),
    ],
    2: [
        # rounds the request up to 16 but forgets the 8-byte size field and the 32-byte minimum
        ("partial", '''def chunk_size(n):
    return (n + 15) // 16 * 16
''', "8-byte size field"),
        # the book's requests and their chunks, typed in
        ("gaming", '''def chunk_size(n):
    return {0: 32, 1: 32, 8: 32, 24: 32, 25: 48, 40: 48, 41: 64, 100: 112, 1000: 1008, 4000: 4016}[n]
''', "every request"),
        # measures in the notebook's own process with ctypes, which the task rules out
        ("forbidden", '''def chunk_size(n):
    import ctypes
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    p = libc.malloc(n)
    return ctypes.c_size_t.from_address(p - 8).value & ~7
''', "do not measure"),
        # runs the check's own measurement
        ("gaming", '''def chunk_size(n):
    from labsupport.lessons.start_here import measure_chunk_sizes
    return measure_chunk_sizes([n])[n]
''', "do not measure"),
        # measures through cffi instead of ctypes: malloc_usable_size of a real block, plus 8
        ("forbidden", '''def chunk_size(n):
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("void *malloc(size_t); size_t malloc_usable_size(void *);")
    C = ffi.dlopen(None)
    return int(C.malloc_usable_size(C.malloc(n))) + 8
''', "do not measure"),
        # measures with a C module built in the notebook, called from chunk_size
        ("forbidden", '''probe = lab.build_c("""
#include <stdlib.h>
#include <malloc.h>
size_t chunk_of(size_t n) { void *p = malloc(n); size_t s = malloc_usable_size(p) + 8; free(p); return s; }
""")

def chunk_size(n):
    return probe.chunk_of(n)
''', "do not measure"),
        # cffi under a name built at run time (holds_c cannot see it) and no loader: FFI().cast reads
        # the size field of a bytes object's block (review2 00-01, defect 9)
        ("forbidden", '''def chunk_size(n):
    m = __import__("".join(["cf", "fi"]))
    ffi = m.FFI()
    b = bytes(n)
    return int(ffi.cast("size_t *", id(b))[-1] & ~7)
''', "do not measure"),
        # the check's measurement replaced by one that agrees with a wrong rule: the module refuses
        # the assignment (the cell raises) and the check measures with its own function
        ("gaming", '''import labsupport.lessons.start_here as _sh

def chunk_size(n):
    return n

_sh.measure_chunk_sizes = lambda requests: {r: r for r in requests}
''', "8-byte size field"),
        # the same past the module's refusal (its __dict__): the check puts its own back and says so
        # (review2 00-01, defect 4)
        ("gaming", '''import labsupport.lessons.start_here as _sh

def chunk_size(n):
    return n

vars(_sh)["measure_chunk_sizes"] = lambda requests: {r: r for r in requests}
''', "belongs to the check"),
        # the notebook's environment set so that the check's program would mmap every block (whole
        # pages), with a rule that agrees: the check measures with glibc's defaults (GLIBC_TUNABLES
        # emptied, MALLOC_MMAP_THRESHOLD_ put back to 128 KiB). Left set on purpose: the reference
        # solution, run next in this kernel, must still pass (review2 00-01, defect 2)
        ("gaming", '''import os
os.environ["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=0"
os.environ["MALLOC_MMAP_THRESHOLD_"] = "0"

def chunk_size(n):
    return (n + 8 + 4095) // 4096 * 4096
''', "8-byte size field"),
    ],
}
