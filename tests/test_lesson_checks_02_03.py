"""The pure helpers of lessons 02 and 03 (labsupport.lessons.alignment, .virtual_memory):
what each overcommit mode predicts, the misalignment table's verdicts, the cgroup reader.
The exercises' checks themselves run in tests/test_wrong_answers.py."""
from labsupport.lessons import alignment, virtual_memory

SIZES_MODE0 = """\
mmap read/write, private                              0.50x RAM+swap: succeeded
mmap read/write, private                              2.00x RAM+swap: Cannot allocate memory
mmap PROT_NONE (a reservation)                        2.00x RAM+swap: succeeded
mmap read/write, MAP_NORESERVE                        2.00x RAM+swap: succeeded
reserve PROT_NONE, then mprotect all READ|WRITE       2.00x RAM+swap: Cannot allocate memory
the same, reserved with MAP_NORESERVE                 2.00x RAM+swap: succeeded
8 x malloc(1/2 RAM+swap), together                    4.00x RAM+swap: 8 of 8 succeeded
"""


def test_overcommit_mode_0_predicts_the_heuristic():
    v = virtual_memory.overcommit_outcomes(SIZES_MODE0, "0")
    assert len(v) == 7 and all(got == expected for got, expected in v.values())


def test_overcommit_modes_1_and_2_differ_from_0():
    one = virtual_memory.overcommit_outcomes(SIZES_MODE0, "1")
    assert {e for _, e in one.values()} == {"succeeded", "8 of 8"}
    assert not all(g == e for g, e in one.values())          # mode 0's output is not mode 1's
    two = virtual_memory.overcommit_outcomes(SIZES_MODE0, "2")
    assert two["the same, reserved with MAP_NORESERVE 2.00x"][1] == "refused"   # ignored in mode 2
    assert two["mmap PROT_NONE (a reservation) 2.00x"][1] == "succeeded"
    assert two["mmap read/write, private 0.50x"][1] == "either"


def _run(scale_page_store=1.0, jitter=0.0):
    t = {}
    for place, f in zip(alignment.PLACES, (1.0, 1.0, 2.0, 2.0)):
        t[place, "load"] = 0.1 * f + jitter
        t[place, "store"] = 0.13 * (f if place != "across_page" else 100 * scale_page_store) + jitter
        t[place, "latency"] = 1.0 * (1.25 if f > 1 else 1.0) + jitter
    return t


def test_cost_table_says_indistinguishable_where_ranges_overlap():
    text = alignment.cost_table([_run(), _run(1.2, 0.001), _run(0.9, -0.001)])
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert rows["inside_line"].split()[1:] == ["~", "aligned"] * 3
    assert "2.00" in rows["across_line"].split()[1]
    assert "100.00 (90.69-119.09)" in rows["across_page"]          # median and range of the 3


def test_split_lock_table():
    text = alignment.split_lock_table({20: {"aligned lock": 2.0, "split lock": 1000.0}})
    assert text.splitlines()[1].split() == ["20", "2.0", "1.00", "500x"]


def test_cgroup_memory_reads_this_process_or_says_none():
    m = virtual_memory.cgroup_memory()
    if m is not None:
        assert m["version"] in (1, 2) and m["usage"] > 0 and 0 <= m["working_set"] <= m["usage"]


def test_window_cuts_mappings():
    maps = [(0, 100, "rw-p"), (100, 200, "---p"), (300, 400, "r--p")]
    assert virtual_memory._window(maps, 150, 350) == [(150, 200, "---p"), (300, 350, "r--p")]


def test_predict_must_take_the_page_size():
    assert virtual_memory._takes_three(lambda pages, n, page: (0, 0))
    assert virtual_memory._takes_three(lambda pages, n, page=4096: (0, 0))
    assert not virtual_memory._takes_three(lambda pages, n: (0, 0))


def test_the_forbidden_list_names_glibc_aliases_and_lookups():
    for name in ("__libc_memalign", "__libc_valloc", "__libc_pvalloc", "dlsym", "dlvsym", "aligned_alloc"):
        assert name in alignment.FORBIDDEN_ALLOCATORS
    assert any(a > 4096 for _, a, _ in alignment.CASES)       # an always-4096 answer fails


_MI_ALIGNED = """#include <mimalloc.h>
#include <stdlib.h>
void *my_aligned_alloc(size_t size, size_t alignment) {
    void *x = malloc(1);
    free(x);
    return mi_aligned_alloc(alignment, size);
}
void my_aligned_free(void *p) { mi_free(p); }
"""


def test_mimalloc_aligned_allocators_are_refused_without_asan(monkeypatch, capsys):
    """review2 02-03, defect 1: where no ASan runtime exists, mi_aligned_alloc got ✔."""
    import labsupport as lab
    monkeypatch.setattr(alignment, "_asan_runtime", lambda: None)
    for mode in ("dynamic", "static"):
        module = lab.build_c(_MI_ALIGNED, mimalloc=mode)
        assert alignment.other_allocators(module.path)
        result = alignment.check_my_aligned(module)
        out = capsys.readouterr().out
        assert not result and "✘" in out and "using only malloc and free" in out, out


def test_a_plain_module_over_malloc_is_not_refused():
    import labsupport as lab
    module = lab.build_c("#include <stdlib.h>\nvoid *f(size_t n) { return malloc(n); }\n"
                         "void g(void *p) { free(p); }\n")
    assert alignment.other_allocators(module.path) is None


def test_random_cases_always_separate_floor_from_ceiling():
    """review2 02-03, defect 2: n = 1 or pages % n == 0 let a floor fallback pass."""
    import random
    rng = random.Random(0)
    for _ in range(2000):
        pages, n = virtual_memory.random_case(rng)
        assert n >= 2 and pages % n and pages // n != -(-pages // n)


def test_integer_like_values_count_as_ints():
    """review2 02-03, defect 4: numpy's integers are integers; floats and bools are not."""
    np = __import__("pytest").importorskip("numpy")

    class Anything(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__

    assert virtual_memory._as_ints((np.int64(400), 100)) == (400, 100)
    assert all(type(x) is int for x in virtual_memory._as_ints([np.int32(4), 1]))
    assert type(virtual_memory._as_ints((Anything(3), 1))[0]) is int
    assert not virtual_memory._plain_pair(virtual_memory._as_ints((400.0, 100)))
    assert not virtual_memory._plain_pair(virtual_memory._as_ints((np.float64(400), 100)))
    assert not virtual_memory._plain_pair(virtual_memory._as_ints((True, 100)))


def test_the_oracle_guard_follows_a_value_into_earlier_cells():
    """review2 02-03, defect 3: computed with struct_layout in one cell, copied in the next."""
    history = ["import labsupport as lab\nfrom labsupport.structlayout import struct_layout\nx = 1",
               "get_ipython().run_cell_magic('cffi', 'quiz', 'struct q1 { char c; };')",
               "_p = {n: {f.name: f.offset for f in lab.struct_layout(quiz, 'struct ' + n).fields}\n"
               "      for n in ('q1',)}",
               "q1 = {'sizeof': 12, 'c': 0}",
               "my_prediction = _p"]
    text = alignment._code("\n".join(alignment.solution_sources("my_prediction", history)))
    assert alignment._ORACLE.search(text).group(1) == "struct_layout"
    # a value typed in an earlier cell is followed too, and the setup cell's other imports
    # (struct_layout among them) are not read: only the statement binding `lab`
    history[-1] = "my_prediction = {'q1': q1, 'n': lab.__name__}"
    text = alignment._code("\n".join(alignment.solution_sources("my_prediction", history)))
    assert not alignment._ORACLE.search(text) and "import labsupport as lab" in text
    # a prediction run from a string
    history[-1] = "my_prediction = eval('_p')"
    assert alignment._HIDDEN.search(alignment._code(alignment.solution_sources("my_prediction", history)[0]))


def test_the_oracle_guard_reads_names_not_notes_and_follows_later_changes():
    """review4 02-03, defects 3 and 4: a later cell that changes the answer, IPython's `_`,
    globals(), ctypes and numpy are refused; a note that says "sizeof" is not."""
    setup = ["import labsupport as lab", "get_ipython().run_cell_magic('cffi', 'quiz', 'struct q1 { char c; };')"]
    stub = "my_prediction = {'q1': {'sizeof': ..., 'c': ...}}"
    right = "my_prediction = {'q1': {'sizeof': 1, 'c': 0}}"

    def verdict(*cells):
        return alignment.oracle_in("\n".join(alignment.solution_sources("my_prediction", [*setup, *cells])))

    assert verdict(right) is None
    assert verdict(right, "check_layout_prediction(my_prediction, quiz)") is None     # the check run twice
    assert verdict('"""My working: sizeof rounds up, offsetof, quiz.ffi\n"""\n' + right) is None
    assert verdict("def up(x, a):\n    return (x + a - 1) // a * a",
                   "my_prediction = {'q1': {'sizeof': up(1, 1), 'c': 0}}") is None
    assert verdict("my_prediction = {}\nfor _ in range(1):\n    my_prediction['q1'] = {'sizeof': 1}") is None
    assert verdict(stub, "for n in ('q1',):\n    L = lab.struct_layout(quiz, 'struct ' + n)\n"
                         "    my_prediction[n] = {f.name: f.offset for f in L.fields}") == ("oracle", "struct_layout")
    assert verdict(stub, "my_prediction['q1'].update(sizeof=lab.struct_layout(quiz, 'struct q1').size)")[0] == "oracle"
    assert verdict("def fill(d):\n    d['q1'] = {'sizeof': lab.struct_layout(quiz, 'struct q1').size}",
                   stub, "fill(my_prediction)") == ("oracle", "struct_layout")
    assert verdict("{'q1': lab.struct_layout(quiz, 'struct q1').size}", "my_prediction = _") == ("hidden", "_")
    assert verdict("_p = {'q1': 1}", "my_prediction = globals()['_p']") == ("hidden", "globals")
    assert verdict("my_prediction = Out[3]") == ("hidden", "Out")
    assert verdict("my_prediction = _3") == ("hidden", "_3")
    assert verdict("import ctypes as C\nclass Q1(C.Structure):\n    _fields_ = [('c', C.c_char)]\n"
                   "my_prediction = {'q1': {'sizeof': len(bytes(Q1()))}}")[0] == "oracle"
    assert verdict("import numpy as np\nd = np.dtype([('c', 'i1')], align=True)\n"
                   "my_prediction = {'q1': {'sizeof': d.itemsize}}") == ("oracle", "dtype")


def test_the_cases_catch_round_half_even_and_a_16_bit_offset():
    """review4 02-03, defects 1, 2 and 8."""
    assert any(p % n == 0 and (p // n) % 2 for p, n in virtual_memory.PREDICT_CASES)
    assert round(303 / 3 + 0.5) != 101                     # Python rounds 101.5 to 102
    assert max(a for _, a, _ in alignment.CASES) > 65536
    assert {"mmap64", "__mmap", "mremap", "sbrk", "__sbrk"} <= set(alignment.FORBIDDEN_ALLOCATORS)
