"""Lesson 02 (alignment): the measurement tables and the exercises' checks.

Helpers only this lesson uses. Expected values come from the compiler and the
allocator on this machine; a learner's C runs in isolated children (and, for the
aligned allocator, under AddressSanitizer too, which catches what glibc's slack hides).
"""
from __future__ import annotations

import re
import statistics
import subprocess

from ..exercises import answer_keys, exercise, fail, passed

__all__ = ["cost_table", "split_lock_table", "check_layout_prediction", "check_reordered",
           "check_my_aligned", "FORBIDDEN_ALLOCATORS", "other_allocators"]

PLACES = ("aligned", "inside_line", "across_line", "across_page")
KINDS = ("load", "store", "latency")


# ---------------------------------------------------------------------- measurements

def cost_table(runs: list[dict]) -> str:
    """Ratios to the aligned access of the same kind, from several processes' runs of
    ``misalign_cost access`` ({(place, kind): ns}): the median ratio, its range, and
    "~ aligned" where the place's times overlap the aligned ones (indistinguishable)."""
    head = f"{'':12}" + "".join(f"{k:>24}" for k in KINDS)
    lines = [head + "   (time / aligned time of the same kind: median, min-max of "
             f"{len(runs)} processes)"]
    for place in PLACES:
        cells = []
        for kind in KINDS:
            times = [run[place, kind] for run in runs]
            base = [run["aligned", kind] for run in runs]
            ratios = [t / b for t, b in zip(times, base)]
            if place == "aligned":
                cells.append("1")
            elif min(times) <= max(base) and min(base) <= max(times):
                cells.append("~ aligned")
            else:
                cells.append(f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        lines.append(f"{place:12}" + "".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


def split_lock_table(locks: dict) -> str:
    """{n: {"aligned lock": ns, "split lock": ns}} -> one line per n."""
    lines = [f"{'split locks':>12} {'aligned ns/op':>14} {'split us/op':>12} {'split/aligned':>14}"]
    for n, t in sorted(locks.items()):
        lines.append(f"{n:12,} {t['aligned lock']:14.1f} {t['split lock'] / 1000:12.2f} "
                     f"{t['split lock'] / t['aligned lock']:13,.0f}x")
    return "\n".join(lines)


# ---------------------------------------------------------------------- exercise 1

# what computes a layout instead of predicting it: the compiler through the lesson's helpers or
# the module's ffi, and the libraries that lay out C structs themselves (ctypes, numpy's dtype)
ORACLE_NAMES = ("struct_layout", "offsetof", "sizeof", "ffi", "pahole", "quiz", "alignof", "typeof",
                "cell_types", "ctypes", "Structure", "Union", "dtype")
# code run from a string, or a value reached by a name no cell binds (IPython's _ and Out, a
# lookup through globals()): the check cannot read what it does
HIDDEN_NAMES = ("eval", "exec", "compile", "getattr", "__import__", "importlib", "_", "__", "___",
                "Out", "_oh", "globals", "vars", "locals", "user_ns", "get_ipython", "run_cell")
_ORACLE = re.compile(r"\b(" + "|".join(ORACLE_NAMES) + r")\b")
_HIDDEN = re.compile(r"\b(" + "|".join(HIDDEN_NAMES) + r"|_\d+)\b")


def _history() -> list | None:
    """The notebook's input history before the running cell (IPython's ``In``), None outside IPython."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
    except Exception:                       # noqa: BLE001 - not in IPython
        return None
    if ip is None:
        return None
    return list(ip.user_ns.get("In", []))[:-1]


def _names(node) -> tuple[set, set]:
    """(names bound, names read) anywhere in an AST node."""
    import ast
    bound, read = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (read if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            bound.add(n.name)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
    return bound, read


def _code(src: str) -> str:
    """src without its strings ("sizeof" as a key is data) and comments."""
    code = re.sub(r'"[^"\n]*"|\'[^\'\n]*\'', '""', src)
    return "\n".join(ln.split("#", 1)[0] for ln in code.splitlines())


def solution_sources(name: str, history: list) -> list[str]:
    """The code behind ``name``: the most recent cell in ``history`` that assigns it, and the
    statements of every later cell that use it (``name[k] = ...``, ``name.update(...)``: a
    mutation after the answer's cell); then, for every name those read without binding it,
    the statements of the most recent cell binding that name, and so on (a value computed
    in an earlier cell and only copied in the answer's cell is followed to where it was
    computed)."""
    import ast
    parsed = []
    for src in history:
        try:
            parsed.append((src, ast.parse(src)))
        except SyntaxError:
            parsed.append((src, None))
    out, todo, seen = [], [name], set()

    def take(src, st, whole=False):
        bound, read = _names(st)
        out.append(src if whole else (ast.get_source_segment(src, st) or ""))
        todo.extend(sorted(read - bound - seen - {name}))

    while todo and len(out) < 40:
        want = todo.pop(0)
        if want in seen:
            continue
        seen.add(want)
        for index in range(len(parsed) - 1, -1, -1):
            src, tree = parsed[index]
            if tree is None:
                if want == name and re.search(rf"^\s*{re.escape(name)}\s*=", src, re.M):
                    out.append(src)
                    break
                continue
            if want not in _names(tree)[0]:
                continue
            if want == name:
                take(src, tree, whole=True)
                for later, later_tree in parsed[index + 1:]:
                    if later_tree is None:
                        if re.search(rf"\b{re.escape(name)}\b", later):
                            out.append(later)
                        continue
                    for st in later_tree.body:
                        if _mutates(st, name):
                            take(later, st)
            else:
                for st in tree.body:
                    if want in _names(st)[0]:
                        take(src, st)
            break
    return out


# calls that only look at the answer (the check among them): a later cell making them is not
# a change of the answer
_LOOKS_ONLY = ("check_layout_prediction", "print", "display", "len", "repr", "pprint", "type", "str",
               "sorted", "list", "dict")


def _root(node):
    """The Name at the bottom of ``a[k].b[j]``, or None."""
    import ast
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutates(st, name: str) -> bool:
    """Whether the statement st (a later cell's) may change ``name``'s value: an item or
    attribute of it assigned or deleted (``name[k] = ...``), a method called on it
    (``name.update(...)``, ``name["q1"].setdefault(...)``), or it passed to a function other
    than a few that only look (``fill(name)``)."""
    import ast
    for n in ast.walk(st):
        targets = []
        if isinstance(n, ast.Assign):
            targets = n.targets
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)):
            targets = [n.target]
        elif isinstance(n, ast.Delete):
            targets = n.targets
        for t in targets:
            for e in ast.walk(t):
                if isinstance(e, (ast.Subscript, ast.Attribute)) and _root(e) == name:
                    return True
        if isinstance(n, ast.Call):
            if isinstance(n.func, ast.Attribute) and _root(n.func.value) == name:
                return True
            fname = n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", None)
            if fname not in _LOOKS_ONLY and any(_root(a) == name for a in [*n.args, *(k.value for k in n.keywords)]):
                return True
    return False


def _identifiers(src: str) -> tuple[set, set] | None:
    """(every identifier in src, the names it reads): names, attributes and imported names, so
    that strings and comments ("sizeof" as a key, a note in triple quotes) never count; None
    when src does not parse."""
    import ast
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    ids, loads = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            ids.add(n.id)
            if isinstance(n.ctx, ast.Load):
                loads.add(n.id)
        elif isinstance(n, ast.Attribute):
            ids.add(n.attr)
            loads.add(n.attr)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                ids.update(a.name.split("."))
                loads.update(a.name.split("."))
                if a.asname:
                    ids.add(a.asname)
            if isinstance(n, ast.ImportFrom) and n.module:
                ids.update(n.module.split("."))
                loads.update(n.module.split("."))
    return ids, loads


def oracle_in(src: str) -> tuple[str, str] | None:
    """("oracle", name) when src computes a layout (``ORACLE_NAMES``), ("hidden", name) when it
    runs code the check cannot read (``HIDDEN_NAMES``, IPython's ``_N``), None otherwise. Only
    identifiers count; the regular expressions read a src that does not parse, without its
    one-line strings and comments."""
    found = _identifiers(src)
    if found is None:
        code = _code(src)
        m, h = _ORACLE.search(code), _HIDDEN.search(code)
        return ("oracle", m.group(1)) if m else ("hidden", h.group(1)) if h else None
    ids, loads = found
    for n in ORACLE_NAMES:
        if n in ids:
            return ("oracle", n)
    for n in sorted(loads):
        if n in HIDDEN_NAMES or re.fullmatch(r"_\d+", n):
            return ("hidden", n)
    return None


def _solution_source(name: str) -> str | None:
    """Everything behind ``name`` in this notebook's history (``solution_sources``) as one
    text, None outside IPython or when no cell assigns it."""
    history = _history()
    if not history:
        return None
    return "\n".join(solution_sources(name, history)) or None


@exercise
def check_layout_prediction(prediction, module, names=("q1", "q2", "q3", "q4")):
    """Exercise 1: prediction[struct][field or "sizeof"] against the compiler's layout.
    The prediction must be typed in: an answer that asks the compiler (struct_layout,
    offsetof, the module's ffi), in its own cell or in an earlier cell whose value it
    copies, is refused."""
    from ..exercises import Case, check
    from ..structlayout import struct_layout
    src = _solution_source("my_prediction")
    found = oracle_in(src) if src is not None else None
    if found:
        kind, what = found
        problem = (f"your prediction asks the compiler ({what}) instead of predicting" if kind == "oracle" else
                   f"your prediction runs code the check cannot read ({what}) instead of predicting")
        return fail(problem, "type the numbers you predict from the three rules: each field at the next "
                             "multiple of its alignment, the struct aligned like its largest field, the "
                             "size rounded up to that")
    if not isinstance(prediction, dict):
        return fail(f"my_prediction is a {type(prediction).__name__}, not a dict",
                    'a dict per struct: {"q1": {"sizeof": ..., "c": ..., ...}, ...}')
    prediction = answer_keys(prediction)
    cases = []
    for n in names:
        L = struct_layout(module, f"struct {n}")
        prev = None
        for f in L.fields:
            why = (f"{f.name} is {f.type}, alignment {f.align}: it starts at the first multiple of "
                   f"{f.align} at or after the end of {prev.name} (offset of {prev.name} + {prev.size})"
                   if prev else "the first field always starts at offset 0")
            if f.type.startswith("struct"):
                why += "; a struct's alignment is the largest alignment of its own fields"
            if f.type.endswith("]"):
                why += "; an array has the alignment of one element"
            cases.append(Case(args=(n, f.name), expected=f.offset, hint=why,
                              label=f"your offsetof(struct {n}, {f.name})"))
            prev = f
        cases.append(Case(args=(n, "sizeof"), expected=L.size, label=f"your sizeof(struct {n})",
                          hint=f"the end of the last field, rounded up to the struct's alignment "
                               f"({L.align}, its largest field alignment) so arrays stay aligned"))

    for case in cases:                      # a key left out: say which, not a layout rule
        struct, what = case.args
        entry = prediction.get(struct)
        if not isinstance(entry, dict):
            return fail(f"my_prediction has no dict for {struct!r}",
                        f'add "{struct}": {{"sizeof": ..., ...}} to my_prediction, one entry per field')
        if what not in entry:
            return fail(f"my_prediction[{struct!r}] has no {what!r}",
                        f"add the key {what!r} to my_prediction[{struct!r}]: sizeof and every field's offset")

    def predicted(struct, what):
        entry = prediction.get(struct)
        if not isinstance(entry, dict) or what not in entry:
            return f"nothing for {what!r} in my_prediction[{struct!r}]"
        value = entry[what]
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)                       # "12" typed in quotes: the number is meant
        return value

    return check(predicted, cases, reveal_expected=False, name="my_prediction")


# ---------------------------------------------------------------------- exercise 2

@exercise
def check_reordered(mine, given, ctype="struct sensor"):
    """Exercise 2: the same fields (name, type), reordered only: no attribute or pragma
    (the struct keeps its natural alignment and every field sits at a multiple of its
    own), and the smallest size those fields can have."""
    from ..structlayout import LayoutUnavailable, struct_layout
    G = struct_layout(given, ctype)
    try:
        L = struct_layout(mine, ctype)
    except LayoutUnavailable as exc:
        return fail(f"your {ctype} has no layout the check can read: {exc}",
                    "reorder only, no attributes: no __attribute__((packed)), aligned(N) or #pragma pack")
    want = sorted((f.name, f.type) for f in G.fields)
    got = sorted((f.name, f.type) for f in L.fields)
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        return fail(f"your {ctype} has other fields: missing {missing}, not in the original {extra}",
                    "keep all nine fields with their names and types; only their order may change")
    bad = [f for f in L.fields if f.offset % f.align]
    if L.align != G.align or bad:
        what = (f"{bad[0].name} ({bad[0].type}) at offset {bad[0].offset}, not a multiple of {bad[0].align}"
                if bad else f"the struct's alignment is {L.align}, the original's is {G.align}")
        return fail(f"your {ctype} is {L.size} bytes, but {what}: its layout was changed, not its order",
                    "reorder only, no attributes: packed, aligned(N) and #pragma pack make fields "
                    "misaligned or change the struct's alignment; the point is to reach the size by order alone")
    if L.size != G.min_size():
        return fail(f"sizeof(your {ctype}) is {L.size}, the fields can fit in {G.min_size()}",
                    "a hole appears wherever a field follows one whose end is not a multiple of its "
                    "alignment: sort by decreasing alignment (doubles, ints, shorts, chars); "
                    "lab.struct_layout(mine, 'struct sensor') shows where your holes are")
    return passed(f"{L.size} bytes, every field aligned, only the order changed")


# ---------------------------------------------------------------------- exercise 3

FORBIDDEN_ALLOCATORS = ("aligned_alloc", "posix_memalign", "memalign", "valloc", "pvalloc",
                        "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__posix_memalign",
                        "_aligned_malloc", "mi_malloc_aligned", "mmap", "mmap64", "__mmap", "mremap",
                        "sbrk", "__sbrk", "brk", "__brk", "dlsym", "dlvsym",
                        # C++'s aligned operator new (new with std::align_val_t), from C by its name
                        "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
                        "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t")
# any function of mimalloc's own API (mi_aligned_alloc, mi_zalloc_aligned, mi_heap_malloc_aligned...):
# the lesson builds `%%cffi mi --mimalloc dynamic` two sections before the exercise
FORBIDDEN_PREFIXES = ("mi_",)
# what a module that carries an allocator of its own (mimalloc linked in statically) defines
_ALLOCATOR_NAMES = ("malloc", "free", "aligned_alloc", "posix_memalign", "memalign", "_aligned_malloc")


def undefined_symbols(path) -> set:
    """The functions a built module calls from other libraries (``nm -D --undefined-only``)."""
    out = subprocess.run(["nm", "-D", "--undefined-only", str(path)], capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def defined_symbols(path) -> set:
    """The functions a built module exports (``nm -D --defined-only``)."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if len(line.split()) >= 3}


def needed_libraries(path) -> list:
    """The shared libraries a built module names in its DT_NEEDED entries (``readelf -d``)."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def other_allocators(path) -> str | None:
    """What makes a module use an aligned allocator other than its own code over malloc: a
    forbidden function it calls, a mimalloc function (``mi_*``), libmimalloc among the
    libraries it needs, or an allocator linked into it (it defines malloc itself). None if
    nothing."""
    own = sorted(set(_ALLOCATOR_NAMES) & defined_symbols(path))
    if own:                                 # first: the allocator inside calls mmap and more
        return (f"your module defines {', '.join(own)} itself: an allocator (mimalloc, linked in "
                f"statically?) is built into it")
    calls = undefined_symbols(path)
    forbidden = sorted(s for s in calls if s in FORBIDDEN_ALLOCATORS or s.startswith(FORBIDDEN_PREFIXES))
    if forbidden:
        mi = [s for s in forbidden if s.startswith(FORBIDDEN_PREFIXES) or s == "__posix_memalign"]
        return f"your module calls {', '.join(forbidden)}" + (" (mimalloc's)" if mi else "")
    mimalloc = [lib for lib in needed_libraries(path) if "mimalloc" in lib]
    if mimalloc:
        return f"your module is linked with {mimalloc[0]}, which brings mimalloc's aligned allocators"
    return None


def _asan_runtime() -> str | None:
    p = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    return p if p and p != "libasan.so" else None


_MEANING = {1: ("returned NULL", "start with malloc(size + alignment - 1 + sizeof(void *)) and check it"),
            2: ("a pointer was not a multiple of the alignment",
                "round up with (addr + alignment - 1) & ~(alignment - 1), after leaving room for a pointer"),
            3: ("two live blocks overlap", "each call must get a block of its own from malloc"),
            4: ("the heap kept growing over alloc/free rounds: memory never given back",
                "every block must be freed: my_aligned_free(p) frees the real block stored below p"),
            5: ("after my_aligned_free the block's memory was still in use: it never went back to free()",
                "my_aligned_free must give the block malloc returned back with free(): not keep it in a "
                "pool of your own")}

# alignments up to 2 MiB (a huge page): an offset kept in 16 bits below the block is right
# only below 65536 (review4 02-03, defect 2)
CASES = ((100, 16, 0), (100, 64, 0), (1, 4096, 0), (4096, 4096, 0), (24, 8, 0), (100, 65536, 0),
         (3000, 16384, 0), (1000, 256, 1000), (100, 4096, 200000), (100, 1 << 20, 0), (100, 2 << 20, 0))

_USING_ONLY_MALLOC = ("using only malloc and free: no other aligned allocator, none of mimalloc's mi_* "
                      "functions, no --mimalloc; the exercise is to do what aligned_alloc does, yourself")


def forbid_shim():
    """native_examples/02_alignment/aligned_forbid.c, built as a library (cached): preloaded
    into the check's child, it makes glibc's aligned allocators abort while the learner's
    functions run (whatever route reaches them: a direct call, an alias, dlsym)."""
    from .. import build_program, example_path
    return build_program([example_path("02_alignment") / "aligned_forbid.c"], output="aligned_forbid.so",
                         cflags=("-O1", "-fPIC"), ldflags=("-shared",), libraries=("dl",))


@exercise
def check_my_aligned(module, cases=CASES):
    """Exercise 3: my_aligned_alloc / my_aligned_free over malloc. Refuses a module that
    calls another aligned allocator or any of mimalloc's functions (its undefined symbols),
    needs libmimalloc or carries an allocator of its own, or calls none of malloc/free; runs
    aligned_check.c against it in isolated children, then the same without the heap
    rounds under AddressSanitizer (an under-allocation that glibc's slack hides is an
    overflow there)."""
    from .. import build_c_file, example_path
    from ..isolate import run_c
    for fn in ("my_aligned_alloc", "my_aligned_free"):
        if fn not in getattr(module, "functions", ()):
            return fail(f"your cell defines no function {fn}",
                        "define both my_aligned_alloc(size, alignment) and my_aligned_free(p) in the cell")
    other = other_allocators(module.path)
    if other:
        return fail(other, _USING_ONLY_MALLOC)
    calls = undefined_symbols(module.path)
    if not {"malloc", "free"} <= calls:
        return fail(f"your module does not call {' and '.join(sorted({'malloc', 'free'} - calls))}",
                    "get the memory from malloc and give it back with free: a static pool or a ring of "
                    "slots is not an allocator")
    checker = build_c_file(example_path("02_alignment") / "aligned_check.c", ldflags=(str(module.path),))
    total = len(cases) + 3
    shim = {"LD_PRELOAD": str(forbid_shim())}
    for i, (size, alignment, rounds) in enumerate(cases, 1):
        r = run_c(checker, "check_aligned", size, alignment, rounds, memory_mb=512, timeout=30, env=shim)
        call = f"my_aligned_alloc({size}, {alignment})" + (f" and {rounds:,} alloc/free rounds" if rounds else "")
        if r.signal or r.timed_out or r.returncode:
            lines = [ln for ln in r.stderr.strip().splitlines() if ln != "my_aligned_free(NULL) returned"]
            last = (lines or [""])[-1]
            words = f"; its last words: {last}" if last else ""
            if "which the exercise forbids" in last:
                hint = _USING_ONLY_MALLOC
            elif last == "calling my_aligned_free(NULL)":
                hint = ("my_aligned_free(NULL) must do nothing, like free(NULL): test p before reading "
                        "the pointer stored below it")
            else:
                hint = ("free() must get the pointer malloc returned, not the aligned one, and nothing may "
                        "be written outside the block: store the real block's address just below the "
                        "aligned pointer, inside what you asked malloc for")
            return fail(f"case {i} of {total}: {call}: the child {r.status()}{words}", hint, total=total)
        if r.value != 0:
            problem, hint = _MEANING.get(r.value, (f"code {r.value}", ""))
            return fail(f"case {i} of {total}: {call}: {problem}", hint, total=total)
    asan = _asan_runtime()
    if asan:
        for j, (size, alignment) in enumerate(((24, 8), (100, 16), (1, 64)), len(cases) + 1):
            r = run_c(checker, "check_aligned", size, alignment, 0, timeout=60,
                      env={"LD_PRELOAD": asan, "ASAN_OPTIONS": "detect_leaks=0:allocator_may_return_null=1"})
            if r.ok and r.value in _MEANING:
                problem, hint = _MEANING[r.value]
                return fail(f"case {j} of {total}: my_aligned_alloc({size}, {alignment}) under "
                            f"AddressSanitizer: {problem}", hint, total=total)
            if not r.ok or r.value != 0:
                report = next((ln.split("ERROR: AddressSanitizer: ")[1].split(" on ")[0]
                               for ln in r.stderr.splitlines() if "ERROR: AddressSanitizer" in ln), r.status())
                where = next((ln.strip() for ln in r.stderr.splitlines() if "located" in ln and "region" in ln), "")
                where = re.sub(r"0x[0-9a-f]+", "<address>", where)
                return fail(f"case {j} of {total}: my_aligned_alloc({size}, {alignment}) under "
                            f"AddressSanitizer: {report}" + (f" ({where})" if where else ""),
                            "ask malloc for enough: size + alignment - 1 for stepping forward, plus "
                            "sizeof(void *) for the stored pointer; glibc's rounding hid the overflow, "
                            "AddressSanitizer's exact block sizes do not", total=total)
    return passed(f"all {total if asan else len(cases)} cases passed"
                  + (" (the last 3 under AddressSanitizer)" if asan else ""), total=total)
