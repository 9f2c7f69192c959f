"""Lesson 04 (cross-module free): the exercises' configurations, hints and checks.

Exercise 1 predicts how four builds of ``app``/``libtext`` end; the check runs them now, in
children, and compares without showing the answers. Exercise 2 fixes a small C module's
ownership bug; the check calls the learner's ``greeting_length`` in a child and counts what
the calls left behind in the library (``text_made``/``text_live``, counters in ``textlib.c``)
and in glibc's heap (``mallinfo2``). Expected values are measured on this machine.
"""
from __future__ import annotations

from pathlib import Path

from ..exercises import Case, check, exercise, fail, passed
from ..isolate import run_program, run_python

__all__ = ["OUTCOMES", "outcome", "run_app", "EXERCISE_1", "EXERCISE_1_HINTS", "check_outcomes",
           "greeting_report", "check_greeting_length", "GREETING_NAMES", "GREETING_CALLS"]

OUTCOMES = ("OK", "SIGABRT", "SIGSEGV")


def outcome(r) -> str:
    """How a run of app ended: "OK", the signal's name, or the exit code."""
    if r.ok:
        return "OK"
    return r.signal or f"exit {r.returncode}"


def run_app(out: Path, kind: str, mode: str, *extra):
    """Run ``app_<kind> MODE [EXTRA...]`` (built in ``out``) in an isolated child."""
    return run_program([str(Path(out) / f"app_{kind}"), mode, *map(str, extra)], timeout=10)


# question -> (app build, mode, extra arguments: a library file in `out`, "plain")
EXERCISE_1 = {
    "-Bsymbolic, linked: the program free()s the library's string": ("symbolic", "free-lib", ()),
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block":
        ("shared", "lib-free", ("libtext_symbolic.so", "plain")),
    "exported, opened with plain dlopen: the program free()s the library's string":
        ("shared", "free-lib", ("libtext_exported.so", "plain")),
    "exported, linked: text_free() on the program's block": ("exported", "lib-free", ()),
}

EXERCISE_1_HINTS = {
    "-Bsymbolic, linked: the program free()s the library's string":
        "Linked normally, the library comes before libc in the search order and exports "
        "malloc/free: the program's free is the library's mimalloc too.",
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block":
        "-Bsymbolic binds the library's free to its own mimalloc even when it is opened "
        "late; the program's block is glibc's. What did mi_free do with a glibc block above?",
    "exported, opened with plain dlopen: the program free()s the library's string":
        "Opened late without RTLD_DEEPBIND, the library looks up malloc in the global order "
        "like everybody else: libc comes first, so its own mimalloc is never used.",
    "exported, linked: text_free() on the program's block":
        "The linked exported library serves every malloc in the process: the program's "
        "block came from the same mimalloc that text_free() uses.",
}


def _config_args(out: Path, extra) -> tuple:
    return tuple(str(Path(out) / e) if e.endswith(".so") else e for e in extra)


@exercise(error_hint='PREDICTION is a dict: each of the four questions -> "OK", "SIGABRT" or "SIGSEGV"')
def check_outcomes(prediction, out):
    """Exercise 1: run the four configurations now and compare with the prediction, hiding the answers."""
    if not isinstance(prediction, dict):
        return fail(f"PREDICTION is a {type(prediction).__name__}, not a dict",
                    'keep the dict of the cell: each question -> "OK", "SIGABRT" or "SIGSEGV"')
    missing = [q for q in EXERCISE_1 if q not in prediction]
    if missing:
        return fail(f"no prediction for: {missing[0]!r}",
                    "keep the four questions of the cell as they are and give each an answer")
    for question in EXERCISE_1:
        value = prediction[question]
        if type(value) is not str or value.strip().upper() not in OUTCOMES:
            what = repr(value) if type(value) is str else f"a {type(value).__name__} object, not a plain string,"
            return fail(f"{question!r}: {what} is not one of {', '.join(OUTCOMES)}",
                        'each answer is one of the strings "OK", "SIGABRT", "SIGSEGV": how the run '
                        "ends (a crash is a signal: which one?)")
    answers = {q: prediction[q].strip().upper() for q in EXERCISE_1}
    actual = {q: outcome(run_app(out, kind, mode, *_config_args(out, extra)))
              for q, (kind, mode, extra) in EXERCISE_1.items()}
    return check(lambda question: answers[question], [
        Case(args=(q,), expected=actual[q], label=q, hint=EXERCISE_1_HINTS[q]) for q in EXERCISE_1
    ], reveal_expected=False, name="your prediction")


# ---------------------------------------------------------------------------- exercise 2

GREETING_NAMES = (b"world", b"cross-module free")
GREETING_CALLS = 100


def greeting_report(modname: str, path: str, name: bytes, libdir: str, calls: int = GREETING_CALLS) -> dict:
    """In a child: call the module's greeting_length once, then ``calls`` times, and count.

    Returns the length it gave, the length of the library's own greeting for ``name``, the
    library's strings made per call and still out at the end, and glibc's heap growth per call.
    """
    import ctypes
    import importlib.util
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class MallInfo2(ctypes.Structure):        # glibc's struct mallinfo2 (malloc.h)
        _fields_ = [(f, ctypes.c_size_t) for f in "arena ordblks smblks hblks hblkhd "
                    "usmblks fsmblks uordblks fordblks keepcost".split()]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    text = ctypes.CDLL(f"{libdir}/libtext_private.so")   # already loaded by the module: the same copy
    text.text_live.restype = text.text_made.restype = ctypes.c_long
    text.text_greeting.restype = ctypes.c_void_p
    text.text_free.argtypes = [ctypes.c_void_p]
    p = text.text_greeting(name)                        # the library's own answer, measured
    real = len(ctypes.string_at(p))
    text.text_free(p)
    made0 = text.text_made()
    n = module.lib.greeting_length(name)                # the first call may set things up (stdio...)
    heap = libc.mallinfo2().uordblks
    for _ in range(calls):
        module.lib.greeting_length(name)
    heap_per_call = (libc.mallinfo2().uordblks - heap) // calls   # < 16: noise, no block
    return dict(length=n, real=real, made_per_call=(text.text_made() - made0) / (calls + 1),
                live=text.text_live(), heap_per_call=heap_per_call)


_CRASH = {
    "SIGABRT": "glibc's free() was given a block it did not make (\"free(): invalid pointer\"): the "
               "string from text_greeting belongs to the library, give it back with text_free()",
    "SIGSEGV": "the library's text_free() (its mimalloc) was given a block it did not make: strdup's "
               "copy comes from this module's malloc (glibc), give it back with free()",
}


@exercise(error_hint="greeting_length(const char *name) must return an int")
def check_greeting_length(host, libdir):
    """Exercise 2: the fixed greeting_length returns the greeting's length and leaves nothing behind."""
    if not hasattr(host, "path") or "greeting_length" not in getattr(host, "functions", ()):
        return fail("the C cell did not define int greeting_length(const char *name)",
                    "keep the function's name and signature; the cell builds the module `host`")
    for name in GREETING_NAMES:
        call = f"greeting_length({name!r})"
        r = run_python(greeting_report, host.modname, host.path, name, str(libdir), timeout=60)
        if not r.ok:
            if r.signal:
                return fail(f"{call} crashed: the child was {r.status()}",
                            _CRASH.get(r.signal, "look for a block freed twice or by the wrong allocator"))
            last = (r.error or r.stderr).strip().splitlines()
            return fail(f"{call} failed: {last[-1] if last else r.status()}",
                        "the check calls greeting_length in a child; it must return normally")
        got = r.value
        made = got["made_per_call"]
        if made < 1:
            return fail(f"{call}: the library made {made:.2f} strings per call",
                        "call text_greeting(name): the greeting's text belongs to the library, "
                        "computing its length yourself skips the ownership question")
        if got["length"] != got["real"]:
            return fail(f"{call} returned {got['length']}, but the library's greeting is "
                        f"{got['real']} bytes long", "return strlen of the greeting (or of its copy)")
        if got["live"]:
            return fail(f"{call}: after {GREETING_CALLS + 1} calls, {got['live']} of the library's "
                        "strings were never given back",
                        "text_greeting's result needs text_free(), in every call (a string kept in "
                        "a static variable is still not given back)")
        if got["heap_per_call"] >= 16:
            return fail(f"{call}: glibc's heap grew by {got['heap_per_call']} bytes per call",
                        "strdup's copy comes from this module's malloc: it needs free()")
    return passed(f"greeting_length: right length, no crash, and after {GREETING_CALLS + 1} calls "
                  "nothing left behind in the library or in glibc's heap")
