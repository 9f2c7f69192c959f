"""Exercise checks that say what is wrong, not only "False".

    lab.check(fn, [lab.Case(args=(24,), expected=32, hint="round up to 16, add the header")])

Each case is run in order; the first failure is reported with the call, the
expected and the actual value (or the exception, or the crash), and the hint.
``isolate=True`` runs every case in a child (``run_python``), so a learner's
segfault or endless loop is reported as a failed case, never a dead kernel.

Reference solutions live in notebook cells tagged ``solution``; the learner's
working copy (``labsupport.workcopy``) replaces them with a stub, and
``lab.solution(lesson, n)`` shows one on demand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .isolate import run_c, run_python

__all__ = ["Case", "CheckResult", "check", "RAISE_ON_FAIL"]

RAISE_ON_FAIL = False     # True: a failed check also raises AssertionError (nbgrader's autograder)


@dataclass
class Case:
    args: tuple = ()
    expected: object = None
    hint: str = ""
    kwargs: dict = field(default_factory=dict)
    label: str = ""               # how to show the call; default: fn(args)


@dataclass
class CheckResult:
    passed: bool
    total: int
    message: str

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    def _ipython_display_(self):
        pass        # check() already printed the verdict; don't show it twice


def _call_text(name: str, case: Case) -> str:
    if case.label:
        return case.label
    parts = [repr(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def check(fn, cases, *, isolate: bool = False, name: str | None = None, timeout: float = 10.0,
          memory_mb: float | None = None, compare=None, reveal_expected: bool = True) -> CheckResult:
    """Run ``fn`` on each case; print and return the verdict.

    compare(expected, got) -> bool decides equality (default ``==``).
    reveal_expected=False leaves the expected value out of the message (for
    "choose the answer" exercises, where it would give the answer away).
    fn may be a pair ``(c_module, "function")`` for a C function: with isolate=True
    it then runs through ``run_c`` (a C crash becomes a failed case).
    """
    c_pair = isinstance(fn, tuple) and len(fn) == 2 and isinstance(fn[1], str)
    if c_pair:
        module, cname = fn
        name = name or cname
        fn = getattr(module, cname)
    name = name or getattr(fn, "__name__", "your function")
    compare = compare or (lambda e, g: e == g)
    cases = list(cases)
    for n, case in enumerate(cases, 1):
        call = _call_text(name, case)
        problem = None
        if isolate:
            if c_pair:
                r = run_c(module, cname, *case.args, timeout=timeout, memory_mb=memory_mb)
            else:
                r = run_python(fn, *case.args, timeout=timeout, memory_mb=memory_mb, **case.kwargs)
            if r.timed_out or r.signal:
                problem = f"{call} did not return: the child was {r.status()}"
                if r.stderr.strip():
                    problem += f"\n    its stderr: {r.stderr.strip().splitlines()[-1]}"
            elif r.error:
                problem = f"{call} raised {r.error.strip().splitlines()[-1]}"
            elif r.returncode:
                problem = f"{call} exited with code {r.returncode}"
            else:
                got = r.value
        else:
            try:
                got = fn(*case.args, **case.kwargs)
            except Exception as exc:          # noqa: BLE001 - reported to the learner
                problem = f"{call} raised {type(exc).__name__}: {exc}"
        if problem is None and not compare(case.expected, got):
            problem = f"{call} returned {got!r}"
            problem += f", expected {case.expected!r}" if reveal_expected else ", which is not the answer"
        if problem:
            msg = f"✘ case {n} of {len(cases)} failed: {problem}"
            if case.hint:
                msg += f"\n  hint: {case.hint}"
            result = CheckResult(False, len(cases), msg)
            print(msg)
            if RAISE_ON_FAIL:
                raise AssertionError(msg)
            return result
    msg = f"✔ all {len(cases)} cases passed"
    print(msg)
    return CheckResult(True, len(cases), msg)
