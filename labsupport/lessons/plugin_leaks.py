"""Lesson 07 (leaks at plugin boundaries): the leak reports' excerpts, and both exercises' checks.

Exercise 1 classifies five excerpts of the tools' reports; its truths are read from the
unblanked reports of the run the notebook just made (heaptrack's from valgrind's record
of the same allocation site, since heaptrack has no kinds), never typed in.
Exercise 2 runs the learner's ``encode_batch`` in a child under the counting allocator,
once without faults, then with the N-th allocation failing for every N, the encoder failing
on the N-th image and the N-th image overflowing the output buffer (libminiheif counts the
images it encoded and the errors it returned, so the check needs no count the learner makes).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..exercises import answer_keys, exercise, fail, passed
from ..leakcount import sanitize

__all__ = ["KINDS", "NO_RECORD", "QUIZ_HINTS", "source_lines", "blank", "valgrind_record", "lsan_record",
           "heaptrack_record", "truth", "cpu_seconds", "check_classification", "sweep_batch", "check_encode_batch"]

KINDS = ("definitely lost", "indirectly lost", "not a leak")
NO_RECORD = "(no such record)"


# ----------------------------------------------------------------- report excerpts

def source_lines(path, marks: dict) -> dict:
    """{name: the 1-based line of path holding marks[name]}: the lines the reports name, read
    from the source instead of typed (they move when the file changes)."""
    lines = Path(path).read_text().splitlines()
    found = {}
    for name, text in marks.items():
        hits = [i for i, line in enumerate(lines, 1) if text in line]
        if len(hits) != 1:
            raise ValueError(f"{text!r} is on {len(hits)} lines of {path}, not one")
        found[name] = hits[0]
    return found


def blank(text: str) -> str:
    """An excerpt with the word that names its kind replaced by ▢▢▢."""
    text = re.sub(r"(definitely lost|indirectly lost|still reachable|possibly lost)", "▢▢▢", text)
    return re.sub(r"^(Direct|Indirect) leak", "▢▢▢ leak", text, flags=re.M)


def valgrind_record(text: str, must_have) -> str:
    """The first valgrind loss record whose lines contain every string in must_have."""
    for block in re.split(r"\n==\d+== \n", text):
        if all(s in block for s in must_have):
            lines = [line for line in sanitize(block).splitlines()
                     if "valgrind" not in line and "libc_start" not in line]
            return "\n".join(lines)
    return NO_RECORD


def lsan_record(text: str, must_have, lines: int = 7) -> str:
    """The first LeakSanitizer record holding every string in must_have (its first lines)."""
    for block in text.split("\n\n"):
        if all(s in block for s in must_have):
            return "\n".join(sanitize(block).splitlines()[:lines])
    return NO_RECORD


def heaptrack_record(text: str, must_have) -> str:
    """One heaptrack leak record, one line per frame: function (file:line)."""
    for block in text.split("\n\n"):
        if all(s in block for s in must_have):
            lines = sanitize(block).splitlines()
            head = [line for line in lines if "leaked over" in line]
            frames = [f"  {line.strip()}" + (f"  ({lines[i + 1].split('at ', 1)[1]})"
                                              if i + 1 < len(lines) and "  at " in lines[i + 1] else "")
                      for i, line in enumerate(lines) if line.startswith("  ") and not line.startswith("    ")]
            return "\n".join(head + frames[:12])
    return NO_RECORD


def truth(quiz: dict, n: int, valgrind_text: str) -> str:
    """The kind of excerpt n, from the unblanked report (heaptrack's: valgrind's record of the site)."""
    _tool, text, same_site = quiz[n]
    if same_site:                      # heaptrack has no kinds: ask valgrind about that site
        text = valgrind_record(valgrind_text, same_site)     # no record at all: freed before exit
    m = re.search(r"(definitely lost|indirectly lost|Direct leak|Indirect leak)", text)
    if not m:
        return "not a leak"
    return {"Direct leak": "definitely lost", "Indirect leak": "indirectly lost"}.get(m.group(1), m.group(1))


# ----------------------------------------------------------------- the tools' cost

def _children_cpu(argv, env) -> tuple:
    """(exit code, stderr's tail, CPU seconds, user + system, of argv and every process it
    started and waited for): run in an isolated child, so only this run is counted."""
    import os
    import resource
    import subprocess
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(list(map(str, argv)), env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r.returncode, r.stderr[-2000:], cpu


def cpu_seconds(argv, *, env=None, timeout: float = 300, ok_codes=(0,)):
    """The CPU time (user + system, of the program and of every process it started: heaptrack's
    interpreter, valgrind's translated program) one run took, or None when it failed or
    timed out. CPU time, not wall-clock time: on a machine shared with other work, the time
    a run waits for a core is not its cost."""
    from ..isolate import run_python
    r = run_python(_children_cpu, list(map(str, argv)), dict(env or {}), timeout=timeout)
    if not r.ok or r.value[0] not in ok_codes:
        return None
    return r.value[2]


# ----------------------------------------------------------------- exercise 1

QUIZ_HINTS = {
    1: "No pointer to these 2 blocks is found anywhere, and other blocks hang off them (the "
       "'indirect' bytes in the line): the head chunk of each list the plugin dropped.",
    2: "The record says 'Direct' or 'Indirect' (or names valgrind's kind). These are chunks after "
       "the first of a list: what points to them, and is that block itself lost?",
    3: "heaptrack calls every block not freed at exit 'leaked'. This one is stdout's buffer, "
       "made by printf: still pointed to by stdout at exit, and glibc never frees it.",
    4: "One block made while libstdc++ was initialised: its emergency pool for exceptions. "
       "Is there still a pointer to it at exit?",
    5: "It is a picture's pixel buffer pic->y. Who points to it, and is that block itself lost? "
       "heaptrack does not tell you: reason like valgrind does.",
}


def _word_hint(given) -> str:
    """The hint for an answer that is not one of the three kinds, fitted to the tool word it used."""
    word = given.strip().lower() if type(given) is str else ""
    if word in ("direct", "direct leak", "indirect", "indirect leak"):
        return ("that is LeakSanitizer's word: its 'Direct leak' is valgrind's 'definitely lost', "
                "its 'Indirect leak' is 'indirectly lost'; answer with valgrind's words")
    if word in ("still reachable", "reachable"):
        return ("valgrind's 'still reachable' is a block a pointer still reaches at exit: among "
                "the three kinds here, that is 'not a leak'")
    if word == "possibly lost":
        return ("valgrind's 'possibly lost' means only an interior pointer was found; none of these "
                "five reports is one: decide between the three kinds")
    if word in ("leaked", "leak"):
        return ("heaptrack's word 'leaked' is not a kind: it means 'not freed at exit', reachable "
                "or not; decide whether a pointer to the block still exists")
    return ("answer with one of the three kinds as plain text: 'definitely lost', "
            "'indirectly lost' or 'not a leak'")


@exercise(error_hint="ANSWERS maps each report number (1 to 5) to one of 'definitely lost', "
                     "'indirectly lost', 'not a leak'")
def check_classification(answers, quiz: dict, valgrind_text: str):
    """Exercise 1: ANSWERS {n: kind} against the kinds read from the unblanked reports."""
    if type(answers) is not dict:
        return fail(f"ANSWERS is a {type(answers).__name__}, not a dict",
                    "write ANSWERS = {1: 'definitely lost', ...} with one entry per report")
    answers = answer_keys(answers, keys=quiz)
    missing = [n for n in quiz if n not in answers]
    if missing:
        return fail(f"no answer for report(s) {missing}", "give one kind for every report, 1 to 5")
    extra = [k for k in answers if k not in quiz]
    if extra:
        return fail(f"ANSWERS has key(s) {extra!r} that are not a report's number",
                    f"give exactly one entry per report, numbered {min(quiz)} to {max(quiz)}")
    for n in quiz:
        given = answers[n]
        if type(given) is not str or given.strip().lower() not in KINDS:
            shown = repr(given) if type(given) in (str, int, float, bool, type(None)) else \
                f"a {type(given).__name__} object"
            return fail(f"report {n}: {shown} is not one of {', '.join(map(repr, KINDS))}",
                        _word_hint(given))
    wrong = [n for n in quiz if answers[n].strip().lower() != truth(quiz, n, valgrind_text)]
    if wrong:
        n = wrong[0]
        return fail(f"{len(wrong)} of {len(quiz)} classifications are wrong; the first: report {n} "
                    f"({quiz[n][0]}) is not {answers[n].strip()!r}", QUIZ_HINTS[n], total=len(quiz))
    return passed(f"all {len(quiz)} reports classified", total=len(quiz))


# ----------------------------------------------------------------- exercise 2

EXTRA_ALLOCATIONS = 64    # how many more allocations than the given code a fault-free call may make


def sweep_batch(modname: str, path: str, given_modname: str, given_path: str, plugin: bytes, n: int) -> dict:
    """In a child under the counting allocator: the given code's total and allocation count for
    n images, then the learner's encode_batch without faults, then three sweeps of its error
    paths: the N-th allocation fails (N = 1, 2, ... until N is past the job's last
    allocation; no sweep at all when the fault-free call made more than EXTRA_ALLOCATIONS
    allocations beyond the given code's, which the check refuses), the N-th image's encoder
    call fails (``mk_fail_encode_at``), the N-th image overflows the output
    buffer (the plugin's ``mh_plugin_test_full_at`` hook).

    Each row is a dict: what failed (``kind``: "none", "alloc", "encode", "full") and when
    (``at``), the result, the allocations made, the blocks left, how many times
    leakcount_arm / leakcount_disarm ran and how many allocations it made fail during that
    call (1, 1 and 1 when nobody tampered with the fault injection and an allocation failed),
    and libminiheif's own counts for the call: images encoded, errors returned, the first
    error's code (0: none).
    """
    import ctypes
    import importlib.util
    from pathlib import Path

    def load(name, where):
        spec = importlib.util.spec_from_file_location(name, where)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module, given = load(modname, path), load(given_modname, given_path)
    shim = ctypes.CDLL(None)
    shim.leakcount_epoch_live.restype = ctypes.c_long
    shim.leakcount_epoch_live.argtypes = [ctypes.c_void_p]
    shim.leakcount_history.restype = ctypes.c_long
    shim.leakcount_history.argtypes = [ctypes.POINTER(ctypes.c_long)]
    shim.leakcount_disarms.restype = ctypes.c_long
    allocations = module.ffi.new("long *")
    failures = ctypes.c_long()

    expected = int(given.lib.encode_batch(plugin, n))       # also loads the plugin (never unloaded)
    folder = Path(plugin.decode()).parent
    heif = ctypes.CDLL(str(folder / "libminiheif.so"))       # the same copy the modules use
    heif.mh_images_encoded.restype = heif.mh_errors_returned.restype = ctypes.c_long
    heif.mh_error_code.argtypes = [ctypes.c_long]
    kvz = ctypes.CDLL(str(folder / "libminikvz.so"))
    kvz.mk_fail_encode_at.argtypes = [ctypes.c_long]
    hook = ctypes.CDLL(plugin.decode()).mh_plugin_test_full_at
    hook.argtypes = [ctypes.c_long]

    def run(lib, kind="none", at=0):
        arms, disarms = shim.leakcount_history(ctypes.byref(failures)), shim.leakcount_disarms()
        before, images, errors = failures.value, heif.mh_images_encoded(), heif.mh_errors_returned()
        kvz.mk_fail_encode_at(at if kind == "encode" else 0)
        hook(at if kind == "full" else 0)
        result = lib.encode_batch_failing(plugin, n, at if kind == "alloc" else 0, allocations)
        left = shim.leakcount_epoch_live(None)
        kvz.mk_fail_encode_at(0)
        hook(0)
        now_errors = heif.mh_errors_returned()
        return dict(kind=kind, at=at, result=int(result), allocations=int(allocations[0]), left=int(left),
                    arms=int(shim.leakcount_history(ctypes.byref(failures)) - arms),
                    disarms=int(shim.leakcount_disarms() - disarms), failures=int(failures.value - before),
                    images=int(heif.mh_images_encoded() - images), errors=int(now_errors - errors),
                    first_code=int(heif.mh_error_code(errors)) if now_errors > errors else 0)

    given_row = run(given.lib)
    total = int(module.lib.encode_batch(plugin, n))
    rows = [run(module.lib)]
    if rows[0]["allocations"] > given_row["allocations"] + EXTRA_ALLOCATIONS:
        return {"expected": expected, "given_allocations": given_row["allocations"], "total": total,
                "rows": rows}
    for at in range(1, rows[0]["allocations"] + 2):
        rows.append(run(module.lib, "alloc", at))
        row = rows[-1]
        if row["left"] or row["arms"] != 1 or row["disarms"] != 1 or at > row["allocations"]:
            break
    for kind in ("encode", "full"):
        for at in range(1, n + 1):
            rows.append(run(module.lib, kind, at))
    return {"expected": expected, "given_allocations": given_row["allocations"], "total": total, "rows": rows}


_LEAK_HINT = ("Every return after mh_open succeeded must still call mh_close(ctx), and free whatever "
              "malloc, aligned_alloc (or strdup...) gave you, on every path: a failed allocation, an "
              "encoder error, a full output buffer. One 'done:' label that frees everything (free(NULL) "
              "and mh_close(NULL) do nothing) covers every path; initialise all pointers to NULL first.")


_TAMPER_HINT = ("leave leakcount_arm/leakcount_disarm to encode_batch_failing: encode_batch must not "
                "re-arm or switch off the fault injection (the counting allocator's, the encoder's or the "
                "plugin's), and encode_batch_failing must stay as given")

_CODE_HINT = ("after a failure encode_batch must return minus the error code (a negative number): exactly "
              "-e.code for the error mh_open or mh_encode returned (encoder error, buffer full, out of "
              "memory...), and -MH_ERR_NOMEM when your own malloc failed; the total only when every "
              "image was encoded. Do not retry: return the first error")

MH_ERR_NOMEM = 3          # miniheif.h: enum mh_code

# What a module may import (nm -D --undefined-only), review3 06-07: CPython's and cffi's, the
# allocation functions the counting allocator defines (labsupport/leakcount.c), libminiheif's,
# the shim's hooks, the toolchain's own, and plain libc that neither allocates behind the
# allocator's back nor maps memory. Anything else (mmap, sbrk, syscall, dlsym, every __libc_*)
# is refused by name: an allow-list, because a deny-list always misses one.
ALLOWED_IMPORTS = frozenset("""
    malloc calloc realloc reallocarray free aligned_alloc posix_memalign memalign valloc pvalloc
    strdup strndup
    memset memcpy memmove memcmp memchr mempcpy memrchr memmem
    printf fprintf sprintf snprintf vprintf vfprintf vsprintf vsnprintf puts fputs putchar fputc putc
    fwrite fread fgets fflush fopen fopen64 fclose perror stdout stderr stdin
    abort exit qsort bsearch abs labs llabs atoi atol strtol strtoul strtoll strtoull strtod
    __errno_location __ctype_b_loc __ctype_tolower_loc __ctype_toupper_loc tolower toupper
    __stack_chk_fail __assert_fail __cxa_finalize __gmon_start__
    _ITM_registerTMCloneTable _ITM_deregisterTMCloneTable
""".split())


# What cffi's glue imports from CPython (the same 15 names in every module the course builds,
# on Python 3.11, 3.13 and 3.14), by family. Not CPython's allocators for the learner's own use
# (PyMem_*, PyBytes_*, PyByteArray_*...): memory from them is invisible to the counting
# allocator, so a leak in them would pass. (PyObject_Malloc is the glue's too: nm cannot tell.)
_CFFI_GLUE = (r"_?Py_(Dealloc|NoneStruct|TrueStruct|FalseStruct|IncRef|DecRef)|PyObject_(CallMethod|Malloc|Free)"
              r"|PyLong_\w+|PyFloat_\w+|PyBool_\w+|PyErr_\w+|PyEval_\w+Thread|PyArg_\w+|PyImport_ImportModule"
              r"|PyGILState_\w+|PyThreadState_\w+")


def _allowed(name: str) -> bool:
    """Whether the module may import this symbol (ALLOWED_IMPORTS, their fortified __*_chk
    forms, str* functions, cffi's glue and what it needs of CPython, libminiheif's and the
    shim's own)."""
    import re
    if re.fullmatch(_CFFI_GLUE + r"|_cffi\w*|mh_\w+|leakcount_\w+", name):
        return True
    if name.startswith("__libc_"):
        return False
    plain = re.sub(r"_chk$", "", re.sub(r"^__(isoc\d+_)?", "", name))
    return name in ALLOWED_IMPORTS or plain in ALLOWED_IMPORTS or re.fullmatch(r"str[a-z]+", plain) is not None


def _bypasses(path) -> list[str]:
    """The symbols the built module imports that _allowed refuses (nm -D --undefined-only)."""
    import subprocess
    out = subprocess.run(["nm", "-D", "--undefined-only", str(path)], capture_output=True, text=True).stdout
    names = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    return sorted(name for name in names if not _allowed(name))


def _what_failed(row: dict) -> str:
    kind, at = row["kind"], row["at"]
    return {"none": "without any failure", "alloc": f"when allocation N={at} fails",
            "encode": f"when the encoder fails on image {at} (mk_fail_encode_at)",
            "full": f"when image {at} does not fit the output buffer (mh_encode returns MH_ERR_BUFFER_FULL)",
            }[kind]


def _wanted(row: dict, n: int, expected: int) -> int:
    """What the reference returns for this row: minus the first error libminiheif returned;
    minus MH_ERR_NOMEM when an allocation failed outside it and the images were not all
    encoded; otherwise (no failure, or one that libc or the loader absorbed) the total."""
    if row["errors"]:
        return -row["first_code"]
    if row["kind"] == "alloc" and row["failures"] and row["images"] < n:
        return -MH_ERR_NOMEM
    return expected


@exercise(error_hint="define encode_batch(plugin, n) in the C cell, and keep encode_batch_failing as given")
def check_encode_batch(module, given, plugin: bytes, shim_env: dict, sizes=(2, 5), timeout: float = 90):
    """Exercise 2: for batch sizes the notebook never printed, the total the given code returns,
    from n images that libminiheif itself counts as encoded (not from a formula); then no leak
    and exactly minus the error code for every failing allocation, every failing encoder
    call and every full output buffer (the total only where the failure was absorbed and
    every image was encoded, as the reference does); the fault injection armed and disarmed
    once per call, and every planned failure really made."""
    from ..isolate import run_python
    cases = len(sizes)
    bypass = _bypasses(module.path)
    if bypass:
        return fail(f"your module calls {', '.join(bypass)}: outside what the task allows, so possibly "
                    "memory the check cannot count",
                    "allocate with malloc, calloc, realloc or aligned_alloc, give it back with free, and "
                    "use nothing but plain libc besides: mmap, syscall, dlsym, sbrk or any __libc_* "
                    "function can bypass the counting allocator (and any leak checker's view of malloc), "
                    "so a leak there would go unseen", total=cases)
    for n in sizes:
        r = run_python(sweep_batch, module.modname, str(module.path), given.modname, str(given.path),
                       plugin, n, timeout=timeout, env=shim_env)
        if not r.ok:
            return fail(f"encode_batch(plugin, {n}) under fault injection: the child was {r.status()}"
                        + (f"\n    its stderr: {r.stderr.strip().splitlines()[-1]}" if r.stderr.strip() else ""),
                        "your code crashed or hung on a failure path: after a failed malloc or mh_open, "
                        "do not use the NULL pointer; free each thing once, at the one cleanup label")
        expected, total, rows = r.value["expected"], r.value["total"], r.value["rows"]
        if total != expected:
            return fail(f"encode_batch(plugin, {n}) without faults returned {total}, expected {expected}",
                        "the normal path changed: it must still return the total number of bytes")
        for row in rows:
            if row["arms"] != 1 or row["disarms"] != 1:
                what = (f"leakcount_arm ran {row['arms']} times" if row["arms"] != 1 else
                        f"leakcount_disarm ran {row['disarms']} times")
                return fail(f"encode_batch(plugin, {n}): {what} during one call of encode_batch_failing",
                            _TAMPER_HINT, total=cases)
        first, given_made = rows[0], r.value["given_allocations"]
        if first["allocations"] == 0:
            return fail(f"encode_batch(plugin, {n}): the counting allocator saw no allocation while "
                        "the fault was armed", _TAMPER_HINT, total=cases)
        if first["result"] != expected or first["images"] != n or first["errors"] \
                or first["allocations"] < given_made - 2:
            return fail(f"encode_batch(plugin, {n}) without faults returned {first['result']}, and "
                        f"libminiheif encoded {first['images']} images in that call with "
                        f"{first['allocations']} allocations (the given code: {n} images, {given_made} "
                        "allocations)",
                        "it must still open the encoder and encode every image with mh_encode: the "
                        "total comes from the encoder, not from a formula", total=cases)
        if first["allocations"] > given_made + EXTRA_ALLOCATIONS:
            return fail(f"encode_batch(plugin, {n}) made {first['allocations']} allocations without faults; "
                        f"the given code makes {given_made}, and the check makes each one fail in turn",
                        "allocate only what the job needs (the output buffer and the pixels): throw-away "
                        "allocations only pad the sweep of failing allocations, they do not make the "
                        "failure paths right", total=cases)
        if not [row for row in rows if row["kind"] == "alloc"]:
            return fail(f"encode_batch(plugin, {n}): the counting allocator saw no allocation while "
                        "the fault was armed", _TAMPER_HINT, total=cases)
        for row in rows:
            planned = (row["kind"] == "alloc" and 0 < row["at"] <= row["allocations"]) or \
                row["kind"] in ("encode", "full")
            made = row["failures"] if row["kind"] == "alloc" else row["errors"]
            if planned and made < 1:
                return fail(f"encode_batch(plugin, {n}): the planned failure ({_what_failed(row)}) did not "
                            "happen during one call of encode_batch_failing", _TAMPER_HINT, total=cases)
        for row in rows:
            if row["left"]:
                return fail(f"encode_batch(plugin, {n}) leaks {_what_failed(row)} "
                            f"(it returned {row['result']}, {row['left']} blocks left)", _LEAK_HINT, total=cases)
            want = _wanted(row, n, expected)
            if row["result"] != want:
                return fail(f"encode_batch(plugin, {n}) returned {row['result']} {_what_failed(row)}; "
                            f"the right result there is {want}", _CODE_HINT, total=cases)
    return passed(f"{cases} batch sizes: the right totals, and no leak and the right error code for "
                  "every failing allocation, encoder call and full buffer", total=cases)
