"""Seeded wrong answers for lesson 02: WRONG[n] lists (kind, whole replacement of the n-th
solution cell, a fragment of the hint the check must give). See tests/test_wrong_answers.py."""

_SENSOR_FIELDS = '''    short  kind;
    double reading;
    char   id;
    int    count;
    char   flags;
    double calib;
    short  unit;
    int    samples;
    char   status;
'''

_ALLOC_HEAD = '''%%cffi myalloc
#include <stdint.h>
#include <stdlib.h>
'''

_REF_ALLOC = '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    void *raw = malloc(size + alignment - 1 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}
'''

WRONG = {
    1: [
        # the sizes added up, as if there were no padding at all
        ("partial", '''my_prediction = {
    "q1": {"sizeof": 6, "c": 0, "i": 1, "d": 5},
    "q2": {"sizeof": 12, "s": 0, "c": 2, "d": 3, "e": 11},
    "q3": {"sizeof": 11, "name": 0, "n": 5, "k": 9},
    "q4": {"sizeof": 8, "a": 0, "inner": 1, "b": 7},
}
''', "first multiple of"),
        # q1 nested as if its alignment were 1 (packed inside q4)
        ("partial", '''my_prediction = {
    "q1": {"sizeof": 12, "c": 0, "i": 4, "d": 8},
    "q2": {"sizeof": 24, "s": 0, "c": 2, "d": 8, "e": 16},
    "q3": {"sizeof": 16, "name": 0, "n": 8, "k": 12},
    "q4": {"sizeof": 16, "a": 0, "inner": 1, "b": 13},
}
''', "largest alignment of its own fields"),
        # q3's size not rounded up to the struct's alignment (tail padding forgotten)
        ("partial", '''my_prediction = {
    "q1": {"sizeof": 12, "c": 0, "i": 4, "d": 8},
    "q2": {"sizeof": 24, "s": 0, "c": 2, "d": 8, "e": 16},
    "q3": {"sizeof": 14, "name": 0, "n": 8, "k": 12},
    "q4": {"sizeof": 20, "a": 0, "inner": 4, "b": 16},
}
''', "rounded up to the struct's alignment"),
        # a field left out: the hint names the key, not a layout rule (review2 02-03, nit 6)
        ("partial", '''my_prediction = {
    "q1": {"sizeof": 12, "c": 0, "i": 4},
    "q2": {"sizeof": 24, "s": 0, "c": 2, "d": 8, "e": 16},
    "q3": {"sizeof": 16, "name": 0, "n": 8, "k": 12},
    "q4": {"sizeof": 20, "a": 0, "inner": 4, "b": 16},
}
''', "add the key 'd' to my_prediction['q1']"),
        # numbers in quotes are read as numbers: a wrong one among them still gets its rule
        ("partial", '''my_prediction = {
    "q1": {"sizeof": "12", "c": "0", "i": "4", "d": "8"},
    "q2": {"sizeof": "16", "s": "0", "c": "2", "d": "4", "e": "12"},
    "q3": {"sizeof": "16", "name": "0", "n": "8", "k": "12"},
    "q4": {"sizeof": "20", "a": "0", "inner": "4", "b": "16"},
}
''', "first multiple of 8"),
        # asks the compiler instead of predicting
        ("gaming", '''my_prediction = {}
for name in ("q1", "q2", "q3", "q4"):
    layout = lab.struct_layout(quiz, f"struct {name}")
    my_prediction[name] = {f.name: f.offset for f in layout.fields}
    my_prediction[name]["sizeof"] = layout.size
''', "instead of predicting"),
        # the same in a cell of its own (run here through run_cell, as a learner's separate
        # cell is), only copied in the answer's cell (review2 02-03, defect 3)
        ("gaming", '''get_ipython().run_cell('_p = {n: {**{f.name: f.offset for f in lab.struct_layout(quiz, "struct " + n).fields}, "sizeof": lab.struct_layout(quiz, "struct " + n).size} for n in ("q1", "q2", "q3", "q4")}', store_history=True)
my_prediction = _p
''', "instead of predicting"),
        # the same from a string, which no scan of the cell reads
        ("gaming", '''my_prediction = eval('{n: {**{f.name: f.offset for f in lab.struct_layout(quiz, "struct " + n).fields}, "sizeof": lab.struct_layout(quiz, "struct " + n).size} for n in ("q1", "q2", "q3", "q4")}')
''', "type the numbers you predict"),
        # values that say yes to any comparison
        ("gaming", '''class Anything(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__


my_prediction = {q: {k: Anything() for k in ("sizeof", "c", "i", "d", "s", "e", "name", "n", "k", "a", "inner", "b")}
                 for q in ("q1", "q2", "q3", "q4")}
''', "first field"),
        # the task says: without running anything else; this reads offsetof from the module
        ("forbidden", '''my_prediction = {
    name: {**{f: quiz.ffi.offsetof(f"struct {name}", f) for f, _ in quiz.ffi.typeof(f"struct {name}").fields},
           "sizeof": quiz.ffi.sizeof(f"struct {name}")}
    for name in ("q1", "q2", "q3", "q4")
}
''', "instead of predicting"),
        # review4 02-03, defect 3: the layout computed by ctypes, a library that lays out C
        # structs itself
        ("gaming", '''import ctypes as C


class Q1(C.Structure):
    _fields_ = [("c", C.c_char), ("i", C.c_int), ("d", C.c_char)]


my_prediction = {"q1": {"sizeof": C.sizeof(Q1), **{f: getattr(Q1, f).offset for f, _ in Q1._fields_}}}
''', "instead of predicting"),
        # ... and by numpy's aligned dtype
        ("gaming", '''import numpy as np

d = np.dtype([("c", "i1"), ("i", "i4"), ("d", "i1")], align=True)
my_prediction = {"q1": {"sizeof": d.itemsize, **{f: d.fields[f][1] for f in d.names}}}
''', "instead of predicting"),
        # the stub left as it is, and the answer filled in by a later cell from struct_layout
        ("gaming", '''my_prediction = {q: {} for q in ("q1", "q2", "q3", "q4")}
get_ipython().run_cell('for n in ("q1", "q2", "q3", "q4"):\\n    L = lab.struct_layout(quiz, "struct " + n)\\n    my_prediction[n] = {**{f.name: f.offset for f in L.fields}, "sizeof": L.size}', store_history=True)
''', "instead of predicting"),
        # IPython's last result and a lookup through globals(): names no cell binds
        ("gaming", '''get_ipython().run_cell('_p = {n: {**{f.name: f.offset for f in lab.struct_layout(quiz, "struct " + n).fields}, "sizeof": lab.struct_layout(quiz, "struct " + n).size} for n in ("q1", "q2", "q3", "q4")}', store_history=True)
my_prediction = globals()["_p"]
''', "type the numbers you predict"),
    ],
    2: [
        # doubles moved first, the rest left in place -> 40 bytes, not 32
        ("partial", '''%%cffi mine
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
''', "sort by decreasing alignment"),
        # the original order, squeezed to 32 bytes by attributes (review 02, defect 1)
        ("gaming", '''%%cffi mine
struct sensor {
''' + _SENSOR_FIELDS + '''} __attribute__((packed, aligned(8)));
struct sensor use_sensor;
''', "reorder only"),
        # #pragma pack, which the task forbids (and cffi's parser never sees)
        ("forbidden", '''%%cffi mine
#pragma pack(push, 1)
struct sensor {
''' + _SENSOR_FIELDS + '''};
#pragma pack(pop)
struct sensor use_sensor;
''', "reorder only"),
        # a field dropped to make it fit
        ("partial", '''%%cffi mine
struct sensor {
    double reading;
    double calib;
    int    count;
    int    samples;
    short  kind;
    short  unit;
    char   id;
    char   flags;
};
struct sensor use_sensor;
''', "keep all nine fields"),
    ],
    3: [
        # rounds malloc's pointer up, keeps no record of it, frees the aligned pointer
        ("partial", _ALLOC_HEAD + '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    void *raw = malloc(size + alignment);
    if (!raw) return NULL;
    return (void *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

void my_aligned_free(void *p) {
    free(p);
}
''', "free() must get the pointer malloc returned"),
        # no room for the stored pointer: glibc's slack hides the overflow (review 02, defect 2)
        ("partial", _ALLOC_HEAD + '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    void *raw = malloc(size + alignment - 1);
    if (!raw) return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void my_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}
''', "sizeof(void *) for the stored pointer"),
        # no allocator at all: two static slots handed out in turn pass alignment, overlap
        # and leak tests
        ("gaming", _ALLOC_HEAD + '''
static unsigned char slots[2][3 * 8192] __attribute__((aligned(4096)));
static int next;

void *my_aligned_alloc(size_t size, size_t alignment) {
    (void)size;
    unsigned char *p = slots[next];
    next ^= 1;
    return (void *)(((uintptr_t)p + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

void my_aligned_free(void *p) {
    (void)p;
}
''', "not an allocator"),
        # a pool from one malloc, handed out in turn and never given back: malloc and free
        # are both in the module, alignment, overlap and leak tests pass under glibc
        ("gaming", _ALLOC_HEAD + """
static unsigned char *pool;
static int next;

void *my_aligned_alloc(size_t size, size_t alignment) {
    /* 64 slots of 8 KiB + room to align to 2 MiB, the largest alignment the check asks for */
    if (!pool) pool = malloc(64 * (8192 + (2 << 20)));
    if (size > 8192) { free(pool); return NULL; }
    unsigned char *p = pool + (8192 + (2 << 20)) * (next++ % 64);
    return (void *)(((uintptr_t)p + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

void my_aligned_free(void *p) {
    (void)p;
}
""", "not keep it in a pool"),
        # no NULL test in my_aligned_free: free(NULL) does nothing, this reads below NULL
        ("partial", _ALLOC_HEAD + _REF_ALLOC + '''
void my_aligned_free(void *p) {
    free(((void **)p)[-1]);
}
''', "my_aligned_free(NULL) must do nothing"),
        # alignment ignored, always 4096: right for every alignment up to a page (review 02-03, 4)
        ("gaming", _ALLOC_HEAD + '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    (void)alignment;
    void *raw = malloc(size + 4096 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 4095) & ~(uintptr_t)4095;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void my_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}
''', "not a multiple of the alignment"),
        # glibc's internal alias, not on a list of public names (review 02-03, defect 3)
        ("forbidden", _ALLOC_HEAD + '''
extern void *__libc_memalign(size_t, size_t);

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *x = malloc(1);
    free(x);
    return __libc_memalign(alignment, size);
}

void my_aligned_free(void *p) {
    free(p);
}
''', "using only malloc and free"),
        # aligned_alloc looked up by name at run time (review 02-03, defect 3)
        ("forbidden", _ALLOC_HEAD + '''#include <dlfcn.h>

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *(*f)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "aligned_alloc");
    void *x = malloc(1);
    free(x);
    return f(alignment, (size + alignment - 1) / alignment * alignment);
}

void my_aligned_free(void *p) {
    free(p);
}
''', "using only malloc and free"),
        # memalign under another name: the asm label hides nothing from the preloaded guard
        ("forbidden", _ALLOC_HEAD + '''
extern void *some_alias(size_t, size_t) __asm__("memalign");

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *x = malloc(1);
    free(x);
    return some_alias(alignment, size);
}

void my_aligned_free(void *p) {
    free(p);
}
''', "using only malloc and free"),
        # mimalloc's aligned allocator, built two sections earlier (`%%cffi mi --mimalloc
        # dynamic`): no glibc name for the preloaded guard to catch; passed where AddressSanitizer
        # is missing, and under it got a pool hint (review2 02-03, defect 1)
        ("forbidden", """%%cffi myalloc --mimalloc dynamic
#include <mimalloc.h>
#include <stdlib.h>

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *x = malloc(1);
    free(x);
    return mi_aligned_alloc(alignment, size);
}

void my_aligned_free(void *p) {
    mi_free(p);
}
""", "using only malloc and free"),
        # mimalloc's exported __posix_memalign, no mi_ in the name (review2 02-03, defect 1)
        ("forbidden", """%%cffi myalloc --mimalloc dynamic
#include <stdlib.h>

extern int __posix_memalign(void **, size_t, size_t);

void *my_aligned_alloc(size_t size, size_t alignment) {
    void *x = malloc(1);
    free(x);
    void *p;
    return __posix_memalign(&p, alignment, size) ? NULL : p;
}

void my_aligned_free(void *p) {
    free(p);
}
""", "using only malloc and free"),
        # mimalloc linked into the module: its mi_ functions are called inside it, not imported
        ("forbidden", """%%cffi myalloc --mimalloc static
#include <mimalloc.h>
#include <stdlib.h>

void *my_aligned_alloc(size_t size, size_t alignment) {
    return mi_malloc_aligned(size, alignment);
}

void my_aligned_free(void *p) {
    mi_free(p);
}
""", "using only malloc and free"),
        # the library's aligned allocator, which the task forbids (review 02, defect 2)
        ("forbidden", _ALLOC_HEAD + '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

void my_aligned_free(void *p) {
    free(p);
}
''', "using only malloc and free"),
        # review4 02-03, defect 2: the offset kept in 16 bits below the block: right only
        # while it is below 65536; the 1 MiB and 2 MiB alignments break it
        ("partial", _ALLOC_HEAD + '''
void *my_aligned_alloc(size_t size, size_t alignment) {
    unsigned char *raw = malloc(size + alignment - 1 + sizeof(uint16_t));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(uint16_t) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((uint16_t *)a)[-1] = (uint16_t)(a - (uintptr_t)raw);   /* the offset, in 16 bits */
    return (void *)a;
}

void my_aligned_free(void *p) {
    if (p) free((unsigned char *)p - ((uint16_t *)p)[-1]);
}
''', "free() must get the pointer malloc returned"),
        # review4 02-03, defect 8: mmap64 (the same function as mmap in glibc) for big alignments
        ("forbidden", _ALLOC_HEAD + '''#include <sys/mman.h>
/* declared by hand: <sys/mman.h> declares it only with _LARGEFILE64_SOURCE, and gcc 14 and
   later refuse an implicit declaration */
extern void *mmap64(void *addr, size_t len, int prot, int flags, int fd, long offset);

void *my_aligned_alloc(size_t size, size_t alignment) {
    if (alignment >= (1 << 20))
        return mmap64(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *raw = malloc(size + alignment - 1 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void my_aligned_free(void *p) {
    if (p) free(((void **)p)[-1]);
}
''', "using only malloc and free"),
    ],
}
