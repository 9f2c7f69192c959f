"""Lesson 04 (cross-module free): the exercises' configurations, hints and checks.

Exercise 1 predicts how four builds of ``app``/``libtext`` end; the check runs them now, in
children, and compares without showing the answers. Exercise 2 fixes a small C module's
ownership bug; the check calls the learner's ``greeting_length`` in a child and counts what
the calls left behind in the library (``text_made``/``text_live``, counters in ``textlib.c``)
and in glibc's heap (``mallinfo2``). Expected values are measured on this machine.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from ..exercises import Case, check, exercise, fail, passed
from ..isolate import run_program, run_python

__all__ = ["OUTCOMES", "outcome", "run_app", "EXERCISE_1", "EXERCISE_1_HINTS", "check_outcomes",
           "greeting_report", "first_call", "check_greeting_length", "GREETING_NAMES", "GREETING_CALLS",
           "solution_source", "answer_cells", "runs_the_experiment", "did_not_run"]

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


def _history() -> list[str] | None:
    """IPython's input history before the running cell, without earlier runs of the running
    cell itself (a check cell run again is not part of the answer); None outside IPython."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
        if ip is None:
            return None
        history = list(ip.user_ns.get("In", []))
    except Exception:                       # noqa: BLE001 - not in IPython
        return None
    running = history[-1] if history else None
    return [src for src in history[:-1] if src and src != running]


def _parse(src: str):
    try:
        return ast.parse(src)
    except SyntaxError:
        return None


def _magic_code(src: str):
    """The code a ``%time``/``%timeit``/``%prun``/``%%capture``... magic runs, parsed: its leading
    options (``-n1 -r1``) dropped one word at a time until the rest parses; None if it never does."""
    for _ in range(10):
        if not src.strip():
            return None
        tree = _parse(src)
        if tree is not None:
            return tree
        src = src[re.match(r"\s*\S+\s*", src).end():]
    return None


# magics that run code in the notebook's namespace: their code is judged as if typed in the cell
_CODE_MAGICS = ("time", "timeit", "prun", "capture")


def _trees(tree) -> list:
    """A cell's tree and the trees of the code its magics run (``%time x``, ``%%capture`` + body,
    as IPython stores them: ``get_ipython().run_line_magic('time', 'x')``), recursively."""
    out = [tree]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run_line_magic", "run_cell_magic") and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in _CODE_MAGICS):
            for arg in node.args[1:3]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    inner = _magic_code(arg.value)
                    if inner is not None:
                        out += _trees(inner)
    return out


def _binds(src: str, name: str) -> bool:
    """Whether a cell binds ``name`` (=, :=, +=, for, with, import ... as, def, class, global),
    itself or in the code of a ``%time``/``%%capture``-like magic."""
    tree = _parse(src)
    if tree is None:
        return re.search(rf"^\s*{re.escape(name)}\s*(:[^=\n]*)?=", src, re.M) is not None
    for node in (n for t in _trees(tree) for n in ast.walk(t)):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name:
            return True
    return False


def answer_cells(name: str) -> list[str] | None:
    """The cells that made ``name``'s value as the check sees it: the most recent cell (before
    the running one) that binds it, then every cell run after that one. None outside IPython;
    [] when no cell binds it."""
    history = _history()
    if history is None:
        return None
    for i in range(len(history) - 1, -1, -1):
        if _binds(history[i], name):
            return history[i:]
    return []


def solution_source(name: str) -> str | None:
    """The source of the most recent cell (before the running one) that binds ``name``, from
    IPython's input history; None outside IPython or when no cell binds it."""
    cells = answer_cells(name)
    return cells[0] if cells else None


# a variable written without a plain assignment the check could read
_DYNAMIC_CALLS = ("globals", "locals", "vars", "exec", "eval", "setattr", "compile", "__import__")
_DYNAMIC_ATTRS = ("__dict__", "__setitem__", "user_ns", "modules")
_IPYTHON_WRITES = ("push", "run_cell", "ex", "ev", "user_ns")
_IPYTHON_MAGICS = ("run", "store")
# those that can write a variable without the cell naming it (``g = globals(); g['PRED' + ...]``,
# ``exec(code)``, ``%run mine.py``): judged in every later cell, the others only in a cell that
# names the variable (a later ``vars(module)`` or ``eval`` elsewhere is not the answer's business)
_BLIND_WRITES = ("globals()", "builtins.globals()", "exec()", "builtins.exec()", "user_ns", "%run",
                 "%store", *(f"get_ipython().{w}" for w in _IPYTHON_WRITES))
_RUNNERS = ("subprocess", "ctypes", "cffi", "pty", "multiprocessing")      # modules that run programs
_OS_RUNNERS = ("system", "popen", "posix_spawn", "posix_spawnp", "fork", "forkpty", "spawnv", "spawnvp",
               "spawnl", "spawnlp", "execv", "execvp", "execl", "execlp", "startfile",
               "getoutput")                                   # IPython's `x = !cmd`
_SHELL_MAGICS = ("sx", "system", "bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy")


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _dynamic_write(tree) -> str | None:
    """How a cell writes a variable behind the check's back (``globals()[...] =``, ``exec``,
    ``setattr``, IPython's ``push``/``%run``...), or None."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in _DYNAMIC_CALLS:
                return f"{f.id}()"
            if isinstance(f, ast.Attribute) and _dotted(f) in (f"builtins.{n}" for n in _DYNAMIC_CALLS):
                return f"{_dotted(f)}()"
            if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call)
                    and _dotted(f.value.func).endswith("get_ipython")):
                if f.attr in _IPYTHON_WRITES:
                    return f"get_ipython().{f.attr}"
                if (f.attr == "run_line_magic" and node.args and isinstance(node.args[0], ast.Constant)
                        and node.args[0].value in _IPYTHON_MAGICS):
                    return f"%{node.args[0].value}"
        elif isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRS:
            if node.attr != "modules" or _dotted(node) == "sys.modules":
                return _dotted(node) or node.attr
    return None


def _namespace() -> dict:
    """The notebook's variables (IPython's ``user_ns``); {} outside IPython."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
        return dict(getattr(ip, "user_ns", None) or {})
    except Exception:                       # noqa: BLE001 - not in IPython
        return {}


def _experiment_objects(calls, ns: dict) -> dict:
    """{id(object): name} of the experiment functions: the notebook's own (``app``, ``whoserves``)
    and the course's (``run_app``, ``lab.run_program``...), however a cell renames them."""
    import sys
    found = {}
    modules = [m for k, m in list(sys.modules.items()) if k == "labsupport" or k.startswith("labsupport.")]
    for name in calls:
        for obj in (ns.get(name), *(vars(m).get(name) for m in modules if hasattr(m, "__dict__"))):
            if callable(obj):
                found[id(obj)] = name
    return found


def _resolve(node, ns: dict):
    """The object a callee names (``f``, ``module.f``) in the notebook, through modules only (no
    property runs); None if unknown."""
    import builtins
    import types
    if isinstance(node, ast.Name):
        return ns.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, ns)
        if isinstance(base, types.ModuleType):
            return getattr(base, node.attr, None)
    return None


def _code_calls(code, calls, objects, ns, seen) -> str | None:
    """Which experiment function a function written in the notebook reaches through the names its
    code (and the code nested in it) reads, following the notebook's other functions."""
    if id(code) in seen:
        return None
    seen.add(id(code))
    for name in code.co_names:
        if name in calls or name in _RUNNERS or name in _OS_RUNNERS:
            return name
        value = ns.get(name)
        if id(value) in objects:
            return objects[id(value)]
        inner = getattr(value, "__code__", None)
        if inner is not None and getattr(value, "__module__", None) == "__main__":
            used = _code_calls(inner, calls, objects, ns, seen)
            if used:
                return used
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            used = _code_calls(const, calls, objects, ns, seen)
            if used:
                return used
    return None


def _unwrap(obj):
    """The function under ``functools.partial`` (``.func``) and decorators (``__wrapped__``)."""
    for _ in range(20):
        inner = getattr(obj, "func", None) if type(obj).__name__ == "partial" else None
        inner = inner or getattr(obj, "__wrapped__", None)
        if inner is None or inner is obj:
            return obj
        obj = inner
    return obj


def _class_calls(cls, calls, objects, ns) -> str | None:
    """Which experiment function the methods of a class written in the notebook reach."""
    for value in vars(cls).values():
        value = getattr(value, "__func__", value)          # staticmethod, classmethod
        if isinstance(value, property):
            value = value.fget
        code = getattr(_unwrap(value), "__code__", None)
        if code is not None:
            used = _code_calls(code, calls, objects, ns, set())
            if used:
                return used
    return None


def _calls(tree, calls, objects=None, ns=None) -> str | None:
    """The first of ``calls`` a cell calls (as ``f(...)`` or ``x.f(...)``, or under another name
    bound to the same function, or inside a function the notebook defined), or the first module
    that runs programs it imports; None if none."""
    objects, ns = objects or {}, ns or {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            target = _unwrap(_resolve(node, ns))
            if target is not None and id(target) in objects:     # passed on, not only called
                return f"{objects[id(target)]} (passed as a value)"
            if isinstance(target, type) and getattr(target, "__module__", None) == "__main__":
                used = _class_calls(target, calls, objects, ns)  # a class of the notebook's
                if used:
                    return used
        if isinstance(node, ast.Call):
            for part in _dotted(node.func).split("."):
                if part in calls or part in _RUNNERS or part in _OS_RUNNERS:
                    return part
            if (isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "run_cell_magic")
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in _SHELL_MAGICS):
                return f"%{node.args[0].value}"
            target = _unwrap(_resolve(node.func, ns))
            if target is not None and id(target) in objects:
                return objects[id(target)]
            code = getattr(target, "__code__", None)
            if code is not None and getattr(target, "__module__", None) == "__main__":
                used = _code_calls(code, calls, objects, ns, set())
                if used:
                    return used
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in _RUNNERS:
                    return f"import {a.name}"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _RUNNERS:
            return f"from {node.module} import"
    return None


def _assigned_values(tree, var: str) -> list:
    """The expressions a cell assigns to ``var`` (``var = ...``, ``a = var = ...``, ``var: T = ...``,
    ``var += ...``, ``(var := ...)``, ``for var in ...``)."""
    out = []
    for node in ast.walk(tree):
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For))
                   else [])
        value = node.iter if isinstance(node, ast.For) else getattr(node, "value", None)
        if value is not None and any(isinstance(n, ast.Name) and n.id == var
                                     for t in targets for n in ast.walk(t)):
            out.append(value)
    return out


def _aliases(tree, name: str) -> set:
    """The other names one assignment binds to the same value as ``name`` (``PREDICTION = p = {}``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out - {name}


def _own_names(tree) -> set:
    """The names a cell binds before it reads them: loop, comprehension and ``with`` targets,
    parameters, ``except ... as``, plain and annotated assignments, ``:=`` (not ``+=``, which
    reads the earlier value first). Those are the cell's own values, not an earlier cell's."""
    own = set()
    for t in _trees(tree):
        for node in ast.walk(t):
            targets = []
            if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                targets = [node.target]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets = [node.optional_vars]
            elif isinstance(node, ast.Assign):          # not `m = dict(m)`: that reads the earlier m
                reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
                targets = [x for x in node.targets if not ({n.id for n in ast.walk(x)
                                                            if isinstance(n, ast.Name)} & reads)]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                targets = [node.target]
            elif isinstance(node, ast.arguments):
                own |= {a.arg for a in node.posonlyargs + node.args + node.kwonlyargs}
                own |= {a.arg for a in (node.vararg, node.kwarg) if a is not None}
            elif isinstance(node, ast.ExceptHandler) and node.name:
                own.add(node.name)
            own |= {n.id for x in targets for n in ast.walk(x) if isinstance(n, ast.Name)}
    return own


def _made_earlier(tree, history: list, before: int, calls, objects, ns) -> str | None:
    """A variable the binding cell reads whose value an earlier cell computed with the experiment
    (``measured = {...run_app...}`` then ``PREDICTION = measured``): one step back, the latest
    earlier cell that assigns it, judged on the expressions it assigns."""
    import types
    read = {n.id for t in _trees(tree) for n in ast.walk(t)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for var in sorted(read - _own_names(tree)):
        value = ns.get(var)
        if var not in ns or callable(value) or isinstance(value, types.ModuleType):
            continue
        for src in reversed(history[:before]):
            if _binds(src, var):
                earlier = _parse(src)
                for expr in _assigned_values(earlier, var) if earlier is not None else []:
                    used = _calls(expr, calls, objects, ns)
                    if used:
                        return f"{used}, in the cell that made {var}"
                break
    return None


def runs_the_experiment(name: str, calls) -> str | None:
    """What, in the cells that made ``name``, runs the experiment instead of predicting it: a call
    of one of ``calls`` (the lesson's experiment functions, its parsers of their output, anything
    that runs a program: by name, or by identity under another name, or inside a function defined
    in the notebook), or a write that hides how the value was made (``globals()[...] =``,
    ``exec``, ``setattr``...). None if none, or outside IPython. A mention is not a call: the
    question tables (``EXERCISE_1``, ``QUESTIONS_1``) may give the keys, and strings are data.
    The code of ``%time``/``%timeit``/``%prun``/``%%capture`` magics is judged as code.

    The cells judged are the latest one that binds ``name`` (whole) and each cell run after it
    that names ``name`` (in code or a string); a later cell that does not name it is judged only
    for writes that need no name (``globals()``, ``exec``, ``%run``, IPython's ``push``...).
    A variable the binding cell reads is followed one step back, to the expressions the latest
    earlier cell assigned to it; another name bound in the same assignment (``PREDICTION = p``)
    counts as the name. This is a heuristic against the obvious shortcut, read from IPython's
    input history, not a proof: a value computed earlier and typed or copied in by hand, reached
    through more steps, or code hidden in a module of one's own, passes it."""
    cells = answer_cells(name)
    if cells is None:
        return None
    calls = set(calls)
    ns = _namespace()
    objects = _experiment_objects(calls, ns)
    names = {name}
    for k, src in enumerate(cells):
        tree = _parse(src)
        if tree is None:                     # not Python (a magic IPython did not transform)
            continue
        if k == 0:
            names |= {a for t in _trees(tree) for a in _aliases(t, name)}
            history = _history() or []
            used = _made_earlier(tree, history, len(history) - len(cells), calls, objects, ns)
            if used:
                return used
        named = k == 0 or re.search(rf"\b({'|'.join(map(re.escape, sorted(names)))})\b", src) is not None
        for t in _trees(tree):
            write = _dynamic_write(t)
            if write and (named or write in _BLIND_WRITES):
                return write
            used = named and _calls(t, calls, objects, ns)
            if used:
                return used if k == 0 else (f"{used}, in a cell run after the one that set {name}; if "
                                            "that cell left the value alone, run your prediction "
                                            "cell again, then this check")
    return None


PREDICT_FIRST = ("type what you predict, as plain values, before anything runs: the check runs "
                 "the experiment itself right after, and comparing its result with itself teaches "
                 "nothing. Reason from the rules in the text above")


def did_not_run(what: str, status: str):
    """The verdict when the experiment itself failed (timed out, killed, printed nothing):
    not a judgement of the answer."""
    return fail(f"the experiment did not run: {what}: {status}",
                "this says nothing about your answer: the machine may be busy or a tool failed. "
                "Run the check cell again; if it fails the same way, re-run the lesson's cells above "
                "that build the programs")


# the functions a prediction must not call (a mention, as of EXERCISE_1 for the keys, is fine)
_EXPERIMENT_1 = ("run_app", "outcome", "app", "_config_args", "run_program", "run_c", "run_python",
                 "check_outcomes", "greeting_report", "answer_cells", "solution_source")


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
    used = runs_the_experiment("PREDICTION", _EXPERIMENT_1)
    if used:
        return fail(f"your prediction runs the experiment ({used}) instead of predicting it", PREDICT_FIRST)
    answers = {q: prediction[q].strip().upper() for q in EXERCISE_1}
    actual = {}
    for q, (kind, mode, extra) in EXERCISE_1.items():
        r = run_app(out, kind, mode, *_config_args(out, extra))
        actual[q] = outcome(r)
        if r.timed_out or r.stopped_by or actual[q] not in OUTCOMES:
            return did_not_run(f"app_{kind} {mode}", r.status())
    return check(lambda question: answers[question], [
        Case(args=(q,), expected=actual[q], label=q, hint=EXERCISE_1_HINTS[q]) for q in EXERCISE_1
    ], reveal_expected=False, name="your prediction")


# ---------------------------------------------------------------------------- exercise 2

GREETING_NAMES = (b"world", b"cross-module free")
GREETING_CALLS = 100


def greeting_report(modname: str, path: str, names, libdir: str, calls: int = GREETING_CALLS) -> dict:
    """In a child: call the module's greeting_length once per name, then ``calls`` times more,
    the names taking turns, and count.

    Returns the first call whose length differs from the library's own greeting for that name
    (None if none), the library's strings made per call and still out at the end, and glibc's
    heap growth per call after the first round.
    """
    import ctypes
    import importlib.util
    import os
    import secrets
    # the library's greeting, with a prefix of a length drawn here: an answer that knows the
    # format ("hello, " + name) instead of measuring the string gets a wrong length
    os.environ["TEXTLIB_GREETING"] = "hi" + "!" * (4 + secrets.randbelow(36)) + ", "   # never 7 bytes
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
    real = {}
    for name in names:                                  # the library's own answers, measured
        p = text.text_greeting(name)
        real[name] = len(ctypes.string_at(p))
        text.text_free(p)
    made0 = text.text_made()
    wrong = None

    def call(name):
        nonlocal wrong
        n = module.lib.greeting_length(name)
        if wrong is None and n != real[name]:
            wrong = (name, n, real[name])
    for name in names:                                  # the first calls may set things up (stdio...)
        call(name)
    heap = libc.mallinfo2().uordblks
    for i in range(calls):                              # the names take turns: a cached copy shows
        call(names[i % len(names)])
    heap_per_call = (libc.mallinfo2().uordblks - heap) // calls   # < 16: noise, no block
    return dict(wrong=wrong, made_per_call=(text.text_made() - made0) / (calls + len(names)),
                live=text.text_live(), heap_per_call=heap_per_call)


def first_call(modname: str, path: str, name: bytes) -> int:
    """In a child: load the module and call its greeting_length(name) once, first thing."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lib.greeting_length(name)


# glibc's free() names what it found wrong before it aborts (malloc_printerr): "free(): invalid
# pointer" up to 2.41, "free(): invalid size" from 2.42 (commit 9b0c8ced9c) for a block it did
# not make, "munmap_chunk(): invalid pointer" when the size field says "mmapped", and others.
# mimalloc's mi_free says nothing. A SIGSEGV alone does not say whose free it was: with glibc
# 2.43 a glibc free() of the library's string, after a hundred calls, died of SIGSEGV without
# a word (its size field then holds the bytes of the block before), so the check asks a fresh
# child, where the first such free() aborts with glibc's message (2.36 and 2.43, measured).
GLIBC_FREE_MESSAGE = re.compile(r"(?:free|munmap_chunk|realloc)\(\): [^\n]+|double free[^\n]*|corrupted [^\n]+")


def _crash_hint(host, r) -> str:
    """The hint for a crashed greeting_length: whose free() was given the other's block."""
    said = GLIBC_FREE_MESSAGE.search(r.stderr or "")
    if not said and r.signal == "SIGSEGV":
        # the same module's first call, in a fresh child: its mimalloc page is new, and a glibc
        # free() of the library's string then aborts with its message in every glibc here
        first = run_python(first_call, host.modname, host.path, GREETING_NAMES[0], timeout=20)
        said = GLIBC_FREE_MESSAGE.search(first.stderr or "") if not first.ok else None
    if said:
        return (f"glibc's free() was given a block it did not make (it said \"{said.group(0).strip()}\"): "
                "the string from text_greeting belongs to the library, give it back with text_free()")
    if r.signal == "SIGSEGV":
        return ("the library's text_free() (its mimalloc) was given a block it did not make: strdup's "
                "copy comes from this module's malloc (glibc), give it back with free()")
    return "look for a block freed twice or by the wrong allocator"


@exercise(error_hint="greeting_length(const char *name) must return an int")
def check_greeting_length(host, libdir):
    """Exercise 2: the fixed greeting_length returns the greeting's length and leaves nothing behind."""
    if not hasattr(host, "path") or "greeting_length" not in getattr(host, "functions", ()):
        return fail("the C cell did not define int greeting_length(const char *name)",
                    "keep the function's name and signature; the cell builds the module `host`")
    call = f"greeting_length() on {' and '.join(map(repr, GREETING_NAMES))}, in turns"
    r = run_python(greeting_report, host.modname, host.path, GREETING_NAMES, str(libdir), timeout=60)
    if not r.ok:
        if "double free" in (r.stderr or ""):
            return fail(f"{call}, crashed: the child was {r.status()}, and glibc said \"double free\"",
                        "each block is freed exactly once: a second free() of the same copy aborts")
        if r.signal and not r.timed_out:
            return fail(f"{call}, crashed: the child was {r.status()}", _crash_hint(host, r))
        if r.timed_out or r.stopped_by:
            return fail(f"{call}, did not finish: the child {r.status()}",
                        "an endless loop in greeting_length? If not, the machine may be busy: run "
                        "the check cell again")
        last = (r.error or r.stderr).strip().splitlines()
        return fail(f"{call}, failed: {last[-1] if last else r.status()}",
                    "the check calls greeting_length in a child; it must return normally")
    got = r.value
    made = got["made_per_call"]
    if made < 1:
        return fail(f"{call}: the library made {made:.2f} strings per call",
                    "call text_greeting(name): the greeting's text belongs to the library, "
                    "computing its length yourself skips the ownership question")
    if got["wrong"]:
        name, n, real = got["wrong"]
        return fail(f"greeting_length({name!r}) returned {n}, but the library's greeting is "
                    f"{real} bytes long",
                    "return strlen of this call's greeting (or of its copy): a copy kept from an "
                    "earlier call, or read after it was freed, gives another length; and the check "
                    "changes the greeting's first word, so its format cannot be assumed")
    calls = GREETING_CALLS + len(GREETING_NAMES)
    if got["live"] < 0 and got["heap_per_call"] >= 16:
        # text_free was given glibc's copy: where mimalloc does not crash on it (glibc 2.41 here),
        # the library counts it as a string given back and glibc's heap keeps every copy
        return fail(f"{call}: after {calls} calls, text_free was called {-got['live']} times more "
                    f"than text_greeting made strings, and glibc's heap grew by "
                    f"{got['heap_per_call']} bytes per call",
                    "text_free() only takes what text_greeting made: strdup's copy comes from this "
                    "module's malloc (glibc), give it back with free()")
    if got["live"] < 0:
        return fail(f"{call}: after {calls} calls, text_free was called {-got['live']} times more "
                    "than text_greeting made strings",
                    "a string freed twice: each string from text_greeting gets exactly one text_free")
    if got["live"]:
        return fail(f"{call}: after {calls} calls, {got['live']} of the library's "
                    "strings were never given back",
                    "text_greeting's result needs text_free(), in every call (a string kept in "
                    "a static variable is still not given back)")
    if got["heap_per_call"] >= 16:
        return fail(f"{call}: glibc's heap grew by {got['heap_per_call']} bytes per call",
                    "strdup's copy comes from this module's malloc: it needs free()")
    return passed(f"greeting_length: right length, no crash; after {calls} calls every string "
                  "from the library was given back, and glibc's heap did not grow with the calls")
