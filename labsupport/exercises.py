"""Exercise checks that say what is wrong, not only "False", and cannot be fooled cheaply.

    lab.check(fn, [lab.Case(args=(24,), expected=32, hint="round up to 16, add the header")])

Each case is run in order; the first failure is reported with the call, the
expected and the actual value (or the exception, or the crash), and the hint
*for that kind of failure*: ``Case.hint`` explains a wrong value, while
``hints={"crash": ..., "timeout": ..., "error": ...}`` explain a crash (a
signal), a case that never returned, and an exception. ``isolate=True`` runs
every case in a child (``run_python``/``run_c``), so a learner's segfault or
endless loop is a failed case, never a dead kernel.

Three verdicts, printed once and returned as a ``CheckResult``:

- ``✔ ...`` passed;
- ``✘ ...`` with ``hint: ...``: a wrong answer;
- ``not done yet: write your answer in the cell above``: the working copy's stub
  is still there (a function raising ``NotImplementedError``, a ``...`` or
  ``"?"`` placeholder, a C module built from a stub). Not an error: Run All goes on.

A lesson's own check helpers (``labsupport/lessons/<topic>.py``) are wrapped
with ``@exercise`` and report through ``fail``/``passed``, so they get the same
three verdicts and never show the learner a traceback of the check itself.

Answers are compared as *plain values*: ``check``'s default comparison refuses an
object of another type, such as one whose ``__eq__`` says yes to everything.

Grading (nbgrader): the graded cell after each solution is locked; the export
(``labsupport.workcopy.nbgrader_notebook``) wraps it in ``graded_begin()`` /
``graded_end()``. ``graded_end`` raises unless a verdict was recorded in that cell
and every one recorded there passed, so deleting a line from an unlocked cell, or
replacing ``lab.check`` with something that returns True, gains no points.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from .isolate import run_c, run_python

__all__ = ["Case", "CheckResult", "check", "exercise", "fail", "passed", "not_done", "is_not_done", "build_failed",
           "answer_keys", "plain_equal", "graded_begin", "graded_end", "NOT_DONE_MESSAGE", "RAISE_ON_FAIL"]

RAISE_ON_FAIL = False     # True: a failed check also raises AssertionError (set by graded_begin)
NOT_DONE_MESSAGE = "not done yet: write your answer in the cell above"
PLACEHOLDERS = ("?",)     # a string answer still holding the starter's "?" is not done

_verdicts: list | None = None      # recorded while a graded cell runs (graded_begin .. graded_end)


@dataclass
class Case:
    args: tuple = ()
    expected: object = None
    hint: str = ""                # the hint for a wrong value
    kwargs: dict = field(default_factory=dict)
    label: str = ""               # how to show the call; default: fn(args)


@dataclass
class CheckResult:
    passed: bool
    total: int
    message: str
    not_done: bool = False

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    def _ipython_display_(self):
        pass        # the verdict was printed already; don't show it twice


def _record(result: CheckResult) -> CheckResult:
    print(result.message)
    if _verdicts is not None:
        _verdicts.append(result)
    if RAISE_ON_FAIL and not result.passed:
        raise AssertionError(result.message)
    return result


def fail(problem: str, hint: str = "", total: int = 1) -> CheckResult:
    """Report a wrong answer: ``✘ problem`` and its hint. The one way to say "wrong" outside ``check``."""
    msg = f"✘ {problem}"
    if hint:
        msg += f"\n  hint: {hint}"
    return _record(CheckResult(False, total, msg))


def passed(message: str, total: int = 1) -> CheckResult:
    """Report a right answer: ``✔ message``."""
    return _record(CheckResult(True, total, f"✔ {message}"))


def not_done(what: str = "") -> CheckResult:
    """Report an exercise still holding its stub (not an error)."""
    msg = NOT_DONE_MESSAGE + (f" ({what})" if what else "")
    return _record(CheckResult(False, 0, msg, not_done=True))


def is_not_done(value) -> bool:
    """True for what a working copy's stub leaves: ``...``, a ``"?"`` left in an answer (also inside
    dicts, lists, tuples), a C module built from a stub cell, a ``(module, "name")`` pair of one."""
    if value is Ellipsis:
        return True
    if isinstance(value, str):
        return value.strip() in PLACEHOLDERS
    if getattr(value, "not_done", False) is True:            # a CModule built from LAB_NOT_DONE();
        return True
    if isinstance(value, dict):
        return any(is_not_done(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(is_not_done(v) for v in value)
    return False


def build_failed(value) -> bool:
    """True for what ``%%cffi NAME`` binds when its cell did not build (also in a
    ``(module, "name")`` pair, a dict, list or tuple)."""
    if getattr(type(value), "build_failed", False) is True:
        return True
    if isinstance(value, dict):
        return any(build_failed(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(build_failed(v) for v in value)
    return False


def did_not_build() -> CheckResult:
    return fail("your C cell did not build, so there is nothing to check yet",
                "fix the compiler's messages under that cell and run it again, then this check")


_PLAIN_SCALARS = (bool, int, float, str, bytes, type(None))


def _plain(value) -> bool:
    if type(value) in _PLAIN_SCALARS:
        return True
    if type(value) in (tuple, list, set, frozenset):
        return all(_plain(v) for v in value)
    if type(value) is dict:
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def plain_equal(expected, got) -> bool:
    """``expected == got`` where ``got`` is a plain value of ``expected``'s kind: an int may stand for a
    float and vice versa; an object of another class (say one whose ``__eq__`` always says yes) never
    equals anything. Floats compare to 1e-9 relative."""
    if not _plain(got):
        return False
    numbers = (int, float)
    if type(expected) in numbers and type(got) in numbers and bool not in (type(expected), type(got)):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    if type(expected) is not type(got):
        return False
    if type(expected) in (tuple, list):
        return len(expected) == len(got) and all(plain_equal(e, g) for e, g in zip(expected, got))
    if type(expected) is dict:
        return expected.keys() == got.keys() and all(plain_equal(expected[k], got[k]) for k in expected)
    return expected == got


def answer_keys(answer, keys=None):
    """A dict answer with keys a learner may type as ``1`` or ``"1"`` (or ``" x "``): every key that is
    an int written as a string becomes the int, other strings are stripped. ``keys``: the keys the check
    expects; a key typed in the other form is mapped onto it."""
    if not isinstance(answer, dict):
        return answer
    out = {}
    for k, v in answer.items():
        if isinstance(k, str):
            k = k.strip()
            if k.lstrip("-").isdigit():
                k = int(k)
        out[k] = v
    if keys is not None:
        wanted = {str(k).strip(): k for k in keys}
        out = {wanted.get(str(k), k): v for k, v in out.items()}
    return out


def _call_text(name: str, case: Case) -> str:
    if case.label:
        return case.label
    parts = [repr(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


_GENERIC = {
    "crash": "your code crashed: read the signal and its explanation above, and look for memory it "
             "touches that it does not own",
    "timeout": "your code did not return: look for a loop whose condition never changes",
    "error": "your code raised an exception: its type and message above say where",
}


def check(fn, cases, *, isolate: bool = False, name: str | None = None, timeout: float = 10.0,
          memory_mb: float | None = None, compare=None, reveal_expected: bool = True,
          hints: dict | None = None) -> CheckResult:
    """Run ``fn`` on each case; print and return the verdict.

    compare(expected, got) -> bool decides equality (default ``plain_equal``).
    reveal_expected=False leaves the expected value out of the message (for
    "choose the answer" exercises, where it would give the answer away).
    hints: the hint for a "crash", a "timeout" and an "error" (exception); a wrong
    value gets its case's ``hint``.
    fn may be a pair ``(c_module, "function")`` for a C function: with isolate=True
    it then runs through ``run_c`` (a C crash becomes a failed case).
    """
    hints = {**_GENERIC, **(hints or {})}
    if build_failed(fn):
        return did_not_build()
    if is_not_done(fn):
        return not_done()
    c_pair = isinstance(fn, tuple) and len(fn) == 2 and isinstance(fn[1], str)
    if c_pair:
        module, cname = fn
        name = name or cname
        try:
            fn = getattr(module, cname)
        except AttributeError as exc:
            return fail(f"your C module has no function {cname}: {exc}",
                        f"define {cname} in the C cell, with the signature the task gives")
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        return fail(f"{name} is a {type(fn).__name__}, not a function", "define it with def, as the task says")
    compare = compare or plain_equal
    cases = list(cases)
    for n, case in enumerate(cases, 1):
        call = _call_text(name, case)
        problem, kind = None, "wrong"
        if isolate:
            if c_pair:
                r = run_c(module, cname, *case.args, timeout=timeout, memory_mb=memory_mb)
            else:
                r = run_python(fn, *case.args, timeout=timeout, memory_mb=memory_mb, **case.kwargs)
            if r.error and "NotImplementedError" in _last_line(r.error):
                return not_done()
            if r.timed_out or r.signal or getattr(r, "stopped_by", None):
                kind = "timeout" if r.timed_out else "crash"
                problem = f"{call} did not return: the child was {r.status()}"
                if r.stderr.strip():
                    problem += f"\n    its stderr: {_last_line(r.stderr)}"
            elif r.error:
                kind, problem = "error", f"{call} raised {_last_line(r.error)}"
            elif r.returncode:
                kind, problem = "crash", f"{call} exited with code {r.returncode}"
            else:
                got = r.value
        else:
            try:
                got = fn(*case.args, **case.kwargs)
            except NotImplementedError:
                return not_done()
            except Exception as exc:          # noqa: BLE001 - reported to the learner
                kind, problem = "error", f"{call} raised {type(exc).__name__}: {exc}"
        if problem is None:
            if is_not_done(got):
                return not_done()
            try:
                same = compare(case.expected, got)
            except Exception as exc:          # noqa: BLE001 - a value the comparison cannot use
                same, got = False, f"{got!r} ({type(exc).__name__}: {exc})"
            if not same:
                problem = f"{call} returned {got!r}"
                if reveal_expected:
                    problem += f", expected {case.expected!r}"
                    if type(got) is not type(case.expected) and _plain(case.expected):
                        problem += f" (a {type(case.expected).__name__}, not a {type(got).__name__})"
                else:
                    problem += ", which is not the answer"
        if problem:
            hint = case.hint if kind == "wrong" else hints.get(kind, "")
            return fail(f"case {n} of {len(cases)} failed: {problem}", hint, total=len(cases))
    return passed(f"all {len(cases)} cases passed", total=len(cases))


def exercise(func=None, *, error_hint: str = ""):
    """Decorate a lesson's check helper: a stub argument prints "not done yet"; a
    ``NotImplementedError`` inside means not done; any other exception raised while the helper
    uses the learner's answer becomes a ✘ verdict (with ``error_hint``), never a traceback."""
    def wrap(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            if any(build_failed(a) for a in (*args, *kwargs.values())):
                return did_not_build()
            if any(is_not_done(a) for a in (*args, *kwargs.values())):
                return not_done()
            try:
                return f(*args, **kwargs)
            except NotImplementedError:
                return not_done()
            except AssertionError:
                if RAISE_ON_FAIL:
                    raise                     # graded: a recorded failure fails the cell
                return fail("your answer failed an assertion", error_hint)
            except Exception as exc:          # noqa: BLE001 - the learner's answer broke the check
                return fail(f"your answer could not be used: {type(exc).__name__}: {exc}",
                            error_hint or "read the task's description of the answer's form again")
        return run
    return wrap(func) if func is not None else wrap


def graded_begin() -> None:
    """Start of an nbgrader graded cell: record verdicts, and raise on a failed one."""
    global _verdicts, RAISE_ON_FAIL
    _verdicts, RAISE_ON_FAIL = [], True


def graded_end() -> None:
    """End of an nbgrader graded cell: raise unless a verdict was given in it and all passed."""
    global _verdicts
    got, _verdicts = _verdicts, None
    if not got:
        raise AssertionError("no check verdict was given in this graded cell")
    bad = [v for v in got if not v.passed]
    if bad:
        raise AssertionError(bad[0].message)
