"""Lesson 01 (heap managers): reading talloc.c, the exercises' checks, the comparison table.

Helpers only this lesson uses; what a second lesson needs moves down into
``labsupport.heap`` (the model and the snapshot sources) or ``labsupport.widgets``.
Every check measures its expected values on this machine (a fresh glibc process,
the teaching allocator, the two-thread program) and explains a wrong answer with a hint
for *that* mistake. The checks are ``@exercise``s (``labsupport.exercises``): a stub says
"not done yet", an answer the check cannot use gets a ✘, never a traceback. They also
refuse the usual shortcuts: a limit of the task changed in this module (the checks use
literals and put the copies back), a choose-the-answer exercise answered with the check's own
replay (``real_reuse``, ``real_bins`` called outside a check, from any thread), a function
that runs the experiment instead of predicting it (``sandboxed``).
"""
from __future__ import annotations

import functools
import os
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from ..heap.glibc import NO_TCACHE, TCACHE_STRUCT_SIZE, ChunkState, glibc_steps, replay_glibc
from ..heap.mimalloc import replay_mimalloc
from ..heap.talloc import check_module, compare_policies, replay
from ..exercises import Case, check, exercise, fail, passed
from ..heap.traces import OpKind, Trace, TraceError, as_trace, example_dir, parse_trace
from ..widgets.text import format_table
from .start_here import holds_c, sandboxed

__all__ = ["c_function", "CHUNK_REQUESTS", "real_chunk_sizes", "check_chunk_sizes", "COALESCE_TRACES",
           "check_coalesce", "best_policy", "check_policy", "MAX_BEST_FIT_OPS", "first_beats_best",
           "check_first_beats_best", "REUSE_TRACE", "real_reuse", "check_reuse", "fragmentation_table",
           "BIN_TRACE", "BIN_KINDS", "real_bins", "check_bins", "MAX_FOOTPRINT_OPS", "footprint_ratio",
           "check_footprint_trace", "talloc_helpers", "WHO_CASES", "check_who_gets_it_back", "program_chunks",
           "chunk_table", "VERSIONS_TRACE", "VERSIONS_ASKED", "VERSIONS_RECORDED", "VERSIONS_PACKAGES",
           "real_glibc_places", "check_glibc_versions"]


# --------------------------------------------------------------------------- shortcuts the checks refuse
# The tasks' limits are literals in the code that uses them (``_limit_changed``, ``first_beats_best``,
# ``_footprint_verdict``), never a value the notebook can change: the module attributes
# ``MAX_BEST_FIT_OPS``/``MAX_FOOTPRINT_OPS`` and the dict ``_LIMITS`` are copies for reading, which
# a check compares with the literals and puts back.
_LIMITS = {"MAX_BEST_FIT_OPS": 12, "MAX_FOOTPRINT_OPS": 12}     # a copy for reading; not what the checks use
_peeked: set = set()          # a copy for reading of the oracles called outside a check (the record is below)
_MALLOC_ENV = ("GLIBC_TUNABLES", "LD_PRELOAD", "LD_AUDIT")


def _make_guard():
    """The checks' own state, in a closure rather than in module attributes a cell could clear:
    which oracles were called outside a check (from any thread), whether this thread is inside
    a check, and the objects the checks use as they were at import (to spot one replaced)."""
    peeked: set = set()
    local = threading.local()
    originals: dict = {}
    cursor = [0]                 # how far into heap.glibcs' record of reads the checks have looked

    @contextmanager
    def inside():
        local.depth = getattr(local, "depth", 0) + 1
        try:
            yield
        finally:
            local.depth -= 1

    def checking():
        """Inside a check (its own oracle calls are not peeks): granted to this module's code only;
        entered from a notebook cell it changes nothing."""
        from contextlib import nullcontext
        return inside() if sys._getframe(1).f_globals.get("__name__") == __name__ else nullcontext()

    def new_reads() -> list:
        """The reads of replayed steps noted outside the course's code since the last check
        looked (heap.glibcs keeps them; a cell calling untrusted_calls() hides none of them)."""
        from ..heap import glibcs
        got = glibcs.notes_since(cursor[0])
        cursor[0] = glibcs.note_count()
        return [("a cell emptied the record of reads", "")] if got is None else got

    def called(oracle: str) -> None:
        if not getattr(local, "depth", 0):
            peeked.add(oracle)
            _peeked.add(oracle)

    def take(oracle: str) -> bool:
        _peeked.discard(oracle)
        if oracle in peeked:
            peeked.discard(oracle)
            return True
        return False

    def snapshot(pairs) -> None:
        for mod, name in pairs:
            originals[(mod.__name__, name)] = (mod, getattr(mod, name))

    def tampered() -> str | None:
        """The first object a cell replaced (every one is put back), or None."""
        found = None
        for (modname, name), (mod, obj) in originals.items():
            if getattr(mod, name, None) is not obj:
                found = found or (name if mod is sys.modules[__name__] else f"{modname}.{name}")
                setattr(mod, name, obj)
        return found

    return checking, called, take, snapshot, tampered, new_reads


_checking, _called, _take_peek, _snapshot, _tampered, _new_reads = _make_guard()


def _oracle_called(oracle: str) -> None:
    """Record a call of a check's oracle made outside a check (``real_reuse``, ``_reuse``...: every
    function that computes an answer records it), from whatever thread (a cell, a worker, a timer)."""
    _called(oracle)


@contextmanager
def _default_malloc():
    """The check's own measurements run with glibc's defaults: ``GLIBC_TUNABLES``, ``LD_PRELOAD``
    (another allocator) and the ``MALLOC_*`` variables a notebook may have set (``%env``,
    ``os.environ``) are put aside while the check measures, and put back after."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in _MALLOC_ENV or k.startswith("MALLOC_")}
    try:
        yield
    finally:
        os.environ.update(saved)


def _guarded(check_fn):
    """A check that measures with glibc's defaults, inside ``_checking`` (its oracle calls are its
    own), and refuses to run when a cell replaced one of the functions or constants it uses."""
    @functools.wraps(check_fn)
    def run(*args, **kwargs):
        replaced = _tampered()
        if replaced:
            return fail(f"{replaced} was replaced: the check uses the course's own (now put back)",
                        "the check's functions stay as the course defines them: answer the task itself")
        with _default_malloc(), _checking():
            return check_fn(*args, **kwargs)
    return run


def _limit_changed() -> str | None:
    """The name of a task limit a notebook changed (this module's ``MAX_...`` attributes or
    ``_LIMITS``), if any; every copy is put back from the literals, so each later attempt is
    checked against the task's limits too."""
    changed = None
    limits = {"MAX_BEST_FIT_OPS": 12, "MAX_FOOTPRINT_OPS": 12}     # the literals: the tasks' limits
    for name, value in limits.items():
        if not isinstance(globals().get("_LIMITS"), dict) or _LIMITS.get(name) != value:
            changed = changed or name
        mod = sys.modules[__name__]
        if getattr(mod, name, value) != value:
            changed = changed or name
            setattr(mod, name, value)
    globals()["_LIMITS"] = dict(limits)
    return changed


def talloc_helpers(path: str | Path | None = None) -> str:
    """The boundary-tag and free-list helpers of talloc.h (exercise 1 may use them), as text."""
    text = Path(path or example_dir() / "talloc.h").read_text()
    start = text.index("/* ---- boundary-tag helpers")
    end = text.index("\n}", text.index("static inline void ta_list_insert")) + 2
    return text[start:end]


def c_function(name: str, path: str | Path | None = None) -> str:
    """The source text of one function of talloc.c (or ``path``), for reading in the notebook."""
    text = Path(path or example_dir() / "talloc.c").read_text()
    # comments blanked out (same length, newlines kept) for the search, so a name in a comment
    # (the file's header lists ta_coalesce) is not taken for the function
    code = re.sub(r"/\*.*?\*/|//[^\n]*", lambda c: re.sub(r"[^\n]", " ", c.group()), text, flags=re.S)
    m = re.search(rf"^[^\n;{{}}]*\b{re.escape(name)}\s*\([^;{{]*\)\s*\{{", code, re.M)
    if not m:
        raise KeyError(f"no function {name!r}")
    depth, i = 0, m.end() - 1
    while i < len(code):
        depth += {"{": 1, "}": -1}.get(code[i], 0)
        i += 1
        if depth == 0:
            break
    return text[m.start():i]


CHUNK_REQUESTS = (0, 1, 8, 24, 25, 40, 41, 100, 1000, 4000)


def real_chunk_sizes(requests=CHUNK_REQUESTS) -> dict:
    """Chunk sizes glibc really gives each request (measured in a fresh process)."""
    t = parse_trace("".join(f"alloc r{i} {n}\n" for i, n in enumerate(requests)), "sizes")
    got = {c.owner: c.size for c in replay_glibc(t).chunks if c.state == ChunkState.USED}
    return {n: got[f"r{i}"] for i, n in enumerate(requests)}


@exercise
@_guarded
def check_chunk_sizes(fn, requests=CHUNK_REQUESTS):
    """Exercise: fn(n) must give the size of the chunk glibc uses for malloc(n)."""
    real = real_chunk_sizes(requests)
    return check(fn, [Case(args=(n,), expected=real[n],
                           hint="a chunk is the request plus its 8-byte size field, rounded up to a "
                                "multiple of 16, and never smaller than 32") for n in requests],
                 name=getattr(fn, "__name__", "chunk_size"))


COALESCE_TRACES = ("coalesce", "fragment", "exercise", "random1000")


_LEARNER_MARK = b"talloc: ta_coalesce is the learner's"     # in talloc.c, built with -DTA_LEARNER_COALESCE
_COALESCE_HINTS = {
    "invariant": "after ta_coalesce, no two free blocks may touch, every free block must be on the free "
                 "list exactly once, and header == footer for every block",
    "crash": "the replay crashed inside your ta_coalesce: a pointer into nowhere. ta_list_remove takes a "
             "block off the list and handles the list's ends (a block with no prev or no next) for you",
    "timeout": "the replay never finished: a loop in ta_coalesce whose condition never changes, or a "
               "free list that now points back into itself",
}


@exercise(error_hint="the cell must build: %%cffi NAME ... --cflags \"-DTA_LEARNER_COALESCE\", with a ta_coalesce")
@_guarded
def check_coalesce(module, traces=COALESCE_TRACES, policy: str = "first", order: str = "lifo"):
    """Exercise: a talloc.c built with your ta_coalesce keeps every heap invariant on every
    trace. Each replay runs in an isolated child: a crash or an endless loop is reported
    with the step it happened at, and the notebook keeps running."""
    if _LEARNER_MARK not in Path(module.path).read_bytes():
        return fail("your cell defines no ta_coalesce, so the allocator uses talloc.c's own: there is "
                    "nothing of yours to grade",
                    "keep --cflags \"-DTA_LEARNER_COALESCE\" (it leaves talloc.c's ta_coalesce out) and "
                    "write ta_coalesce in the cell")
    for n, name in enumerate(traces, 1):
        got = check_module(module, name, policy, order)
        if got == "ok":
            continue
        kind = ("timeout" if "did not finish" in got or "did not return" in got or "endless loop" in got
                else "crash" if re.search(r"\[SIG\w+\]|killed by SIG", got) else "invariant")
        return fail(f"case {n} of {len(traces)} failed: replay({name!r}): {got}", _COALESCE_HINTS[kind],
                    total=len(traces))
    return passed(f"all {len(traces)} traces replayed, every invariant held after every step", total=len(traces))


def best_policy(trace, options=None) -> tuple:
    """The (policy, order) with the smallest peak footprint on ``trace`` (no failed allocations)."""
    options = options or [("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo")]
    runs = {f"{p}/{o}": replay(trace, p, o) for p, o in options}
    return min(runs, key=lambda k: (len(runs[k].failures), runs[k].peak_footprint)), runs


@exercise
@_guarded
def check_policy(answer, trace="exercise"):
    """Exercise: which of first/lifo, first/address, next/lifo, best/lifo needs the least memory
    (smallest peak footprint) on ``trace``? The check compares footprints, so a wrong answer
    does not give the right one away."""
    winner, runs = best_policy(trace)
    a = str(answer).strip().lower()
    a = a if "/" in a else a + "/lifo"

    def peak_footprint_of(choice):
        if choice not in runs:
            raise ValueError(f"{answer!r} is not one of {', '.join(runs)}")
        return runs[choice].peak_footprint

    return check(peak_footprint_of, [Case(args=(a,), expected=runs[winner].peak_footprint,
                                          hint="the smallest peak footprint of the four is the expected value; "
                                               "replay the trace under each policy and compare")],
                 name="peak_footprint_of")


MAX_BEST_FIT_OPS = 12


def first_beats_best(text) -> str:
    """Replay a trace under first/lifo and best/lifo; "ok" when best fit fails an
    allocation and first fit fails none, else what is wrong (the exercise's verdict)."""
    if text is None:
        return "no trace yet"
    try:
        t = text if isinstance(text, Trace) else parse_trace(str(text), "your trace")
    except TraceError as e:
        return f"the trace does not parse: {e}"
    if not len(t):
        return "the trace is empty"
    limit = 12                            # the task's limit, a literal (not MAX_BEST_FIT_OPS, which a cell can set)
    if len(t) > limit:
        return f"{len(t)} operations: at most {limit} please"
    try:
        first, best = replay(t, "first", "lifo"), replay(t, "best", "lifo")
    except ValueError as e:
        return str(e)
    arena = first.arena_size
    if not best.failures:
        return f"best fit fails no allocation (arena {arena:,} B)"
    if first.failures:
        return (f"first fit fails too, at step {first.failures[0].step} ({first.failures[0].op}) "
                f"(arena {arena:,} B)")
    return "ok"


@exercise(error_hint="my_trace is the trace as a string: one operation a line")
@_guarded
def check_first_beats_best(text):
    """Exercise: a trace of at most 12 operations on which best fit fails and first fit succeeds."""
    changed = _limit_changed()
    if changed:
        return fail(f"{changed} was changed: the check keeps the task's limits",
                    "the task's limits stay as the lesson states them (at most 12 operations): "
                    "find a trace that fits them")
    if not isinstance(text, (str, Trace)):
        return fail(f"my_trace is a {type(text).__name__}, not a trace",
                    "my_trace is the trace as a string: one operation a line")
    verdict = first_beats_best(text)
    if verdict.startswith(("the trace does not parse", "the trace is empty", "arena")):
        return fail(f"replay(your trace) returned {verdict!r}",
                    "the trace's format: one operation a line (alloc ID SIZE, free ID), and an optional "
                    "'# arena: BYTES' line whose size is a multiple of 16")
    return check(first_beats_best, [Case(args=(text,), expected="ok", label="replay(your trace)",
                                         hint="make best fit's choice leave two holes that are each too small "
                                              "for a later request, while first fit leaves one hole that fits; "
                                              "the free list is LIFO (the last block freed is searched first), "
                                              "and a '# arena: BYTES' line makes the arena small enough to fill")],
                 name="replay")


REUSE_TRACE = """\
alloc a 40
alloc b 40
alloc c 100
alloc d 40
free b
free d
free a
free c
alloc x 40
alloc y 100
alloc z 24
alloc w 40
"""


def real_reuse(trace=REUSE_TRACE) -> dict:
    """For each block allocated after the first free: the id of the freed block whose
    chunk it got in a fresh glibc process, or "new" for a chunk that was never used."""
    _oracle_called("real_reuse")
    return _reuse(trace)


def _reuse(trace=REUSE_TRACE) -> dict:
    _oracle_called("real_reuse")
    t = as_trace(trace)
    first_free = next(i for i, op in enumerate(t.ops) if op.kind == OpKind.FREE)
    last_free = max(i for i, op in enumerate(t.ops) if op.kind == OpKind.FREE)
    before = {ch.offset: ch.owner for ch in replay_glibc(t, stop=first_free).chunks if ch.state == ChunkState.USED}
    after = {ch.owner: ch.offset for ch in replay_glibc(t).chunks if ch.state == ChunkState.USED}
    return {op.id: before.get(after[op.id], "new") for op in t.ops[last_free + 1:] if op.kind == OpKind.ALLOC}


def _peeked_at(oracle: str):
    if _take_peek(oracle):
        return fail(f"the answer was made by {oracle}(), the check's own replay",
                    "predict it yourself: read the trace, apply the rules of the section, and write the "
                    "dict by hand (run the check again after you do)")
    return _made_by_replay()


# what the cells that made ``answer`` must not call (cross_module's prediction gate, lessons 04/05):
# the checks' oracles, the replays and the ways round their guards
_REPLAYS = ("real_reuse", "_reuse", "real_bins", "_bins", "real_glibc_places", "_glibc_places", "steps_under",
            "glibc_steps", "replay_glibc", "GlibcSteps", "run_probe", "build_probe", "trusted", "_trust",
            "untrusted_calls", "notes_since", "note_read", "_checking", "_new_reads", "_step", "_quiet",
            "glibcs_view", "compare_glibcs", "glibc_version_panels", "compare_managers", "manager_panels",
            "GlibcStepper", "bins_side_by_side", "choices_text", "_build", "_state", "_owners_before")


def _made_by_replay():
    """✘ when the cell that bound ``answer`` (or a later one naming it) ran a replay or an oracle,
    read from IPython's input history: so running the refused check again, or reaching the replays
    through a door the record does not see, is refused too. A heuristic, as in lessons 04/05:
    a value typed in by hand after reading a replay passes it."""
    from .cross_module import runs_the_experiment
    used = runs_the_experiment("answer", _REPLAYS)
    if used is None:
        return None
    return fail(f"the answer was read from the replays: the cell that made it runs {used}, and the check's "
                "own replay is not a prediction",
                "predict it yourself: apply the rules of the section and write the dict by hand in the "
                "answer cell, then run the check")


@exercise(error_hint='answer is a dict: {"x": "a", ...}, each value one of "a", "b", "c", "d", "new"')
@_guarded
def check_reuse(answer, trace=REUSE_TRACE):
    """Exercise: answer = {new id: old id or "new"}; compared with glibc in a fresh process.
    Choose-the-answer: a wrong guess is not told the right one."""
    peeked = _peeked_at("real_reuse")
    if peeked is not None:
        return peeked
    real = _reuse(trace)
    t = as_trace(trace)
    allowed = sorted({op.id for op in t.ops if op.kind == OpKind.FREE}) + ["new"]
    if not isinstance(answer, dict):
        return fail(f"answer is a {type(answer).__name__}, not a dict",
                    'answer is a dict: {"x": "a", ...}, each value one of ' + ", ".join(map(repr, allowed)))
    answer = {str(k).strip(): v for k, v in answer.items()}
    for k in real:
        v = answer.get(k)
        if not (type(v) is str and v.strip().lower() in allowed):
            return fail(f"answer[{k!r}] is {v!r}: one answer per block, exactly one of "
                        + ", ".join(map(repr, allowed)),
                        "one chunk per malloc: name exactly one block, or \"new\"")
    return check(lambda k: answer[k].strip().lower(),
                 [Case(args=(k,), expected=v, label=f"answer[{k!r}]",
                       hint="each chunk size has its own tcache list, last in, first out; a request whose "
                            "size class has nothing freed is cut from the top chunk (\"new\")")
                  for k, v in real.items()],
                 name="answer", reveal_expected=False)


_IN_A_BIN = {ChunkState.FREE, ChunkState.UNSORTED, ChunkState.SMALLBIN, ChunkState.LARGEBIN}


def program_chunks(chunks) -> list:
    """The chunks of a glibc heap that the program's requests made, with offsets counted from the
    first of them, in address order: glibc's own tcache chunk (656 bytes in glibc 2.30-2.41, 768
    from 2.42; the heap's first chunk up to 2.42, made at the first free from 2.43) and the top
    chunk left out, so the offsets are the same on every glibc the course runs on."""
    mine = [c for c in chunks if c.state not in (ChunkState.TCACHE_STRUCT, ChunkState.TOP)]
    base = mine[0].offset if mine else 0
    return [(c.offset - base, c) for c in mine]


def chunk_table(chunks) -> str:
    """``program_chunks`` as a table, one line per chunk: offset from the first chunk the program
    got, size, the P bit, and where it is (used, tcache, fastbin, "free in a bin": glibc 2.41
    changed which bin a freed small chunk goes to, lesson text explains), then whether a top chunk
    follows. The same text on glibc 2.36 to 2.43."""
    lines = ["offset   size  P  state"]
    for off, c in program_chunks(chunks):
        state = "free in a bin" if c.state in _IN_A_BIN else str(c.state)
        lines.append(f"+{off:<6} {c.size:>5}  {c.flags & 1}  {state}" + (f" ({c.owner})" if c.owner else ""))
    if any(c.state is ChunkState.TOP for c in chunks):
        lines.append("then the top chunk")
    return "\n".join(lines)


def fragmentation_table(trace, arena_size: int | None = None, real: bool = True) -> str:
    """Every teaching-allocator policy, then glibc and mimalloc, on the same trace."""
    rows = compare_policies(trace, arena_size)
    if real:
        rows += [replay_glibc(trace).summary(), replay_glibc(trace, tunables=NO_TCACHE).summary(),
                 replay_mimalloc(trace).summary()]
    return format_table(rows)


# --------------------------------------------------------------------------- from which bin?
BIN_TRACE = """\
alloc a 40
alloc b 1500
alloc c 40
alloc d 3000
alloc e 40
free a
free b
free d
free c
alloc x 40
alloc y 1500
alloc z 2000
alloc w 5000
"""

BIN_KINDS = ("tcache", "fastbin", "unsorted", "smallbin", "largebin", "top")


def _owners_before(steps, i) -> dict:
    """chunk offset -> the trace id whose chunk started there, among the blocks allocated before step i."""
    owners = {}
    for k in range(1, i):
        op = steps.trace.ops[k - 1]
        if op.kind == OpKind.ALLOC and isinstance(steps[k].changed, int):
            owners[steps[k].changed] = op.id
    return owners


def real_bins(trace=BIN_TRACE) -> dict:
    """For each block allocated after the first free, in a fresh glibc process: (the id of the
    block whose chunk it got, or "new"; the kind of place that chunk was in just before the
    malloc: "tcache", "fastbin", "unsorted", "smallbin", "largebin" or "top")."""
    _oracle_called("real_bins")
    return _bins(trace)


def _bins(trace=BIN_TRACE) -> dict:
    _oracle_called("real_bins")
    s = glibc_steps(trace)
    ops = s.trace.ops
    first_free = next(i for i, op in enumerate(ops, 1) if op.kind == OpKind.FREE)
    owners = _owners_before(s, first_free)
    out = {}
    for i in range(first_free + 1, len(s)):
        op = ops[i - 1]
        if op.kind == OpKind.ALLOC:
            out[op.id] = (owners.get(s[i].changed, "new"), (s[i].served or "?").split()[0])
    return out


def _bins_with_ids(step, owners) -> str:
    sizes = {c.offset: c.size for c in step.chunks}
    lines = [f"{b.name}: " + " → ".join(f"{owners.get(o, '+' + str(o))} ({sizes.get(o, '?')} B)" for o in b.offsets)
             for b in step.bins]
    if step.top:
        lines.append(f"top: +{step.top[0]} ({step.top[1]:,} B)")
    return "; ".join(lines)


def _norm(answer):
    """("B", "Unsorted bin") -> ("b", "unsorted"): ids in lower case (the trace's are), the
    place in the exercise's words however it was spelled ("small bin", "top chunk")."""
    if isinstance(answer, (tuple, list)) and len(answer) == 2:
        place = re.sub(r"[\s_-]", "", str(answer[1]).lower())
        place = _PLACE_ALIASES.get(place.removesuffix("chunk"), place.removesuffix("chunk"))
        return (str(answer[0]).strip().lower(), place)
    return answer


_PLACE_ALIASES = {"unsortedbin": "unsorted", "tcachebin": "tcache", "fast": "fastbin", "small": "smallbin",
                  "large": "largebin", "topbin": "top"}


@exercise(error_hint='answer is a dict: {"x": ("a", "tcache"), ...}')
@_guarded
def check_bins(answer, trace=BIN_TRACE):
    """Exercise: answer = {new id: (old id or "new", bin kind)}, compared with glibc replayed
    in a fresh process. Choose-the-answer: a wrong guess is shown the bins as they were just
    before that malloc (with the blocks' ids), not the answer."""
    peeked = _peeked_at("real_bins")
    if peeked is not None:
        return peeked
    s = glibc_steps(trace)
    real = _bins(trace)
    ids = sorted({op.id for op in s.trace.ops if op.kind == OpKind.ALLOC} - set(real)) + ["new"]
    if not isinstance(answer, dict):
        return fail(f"answer is a {type(answer).__name__}, not a dict",
                    'answer is a dict: {"x": ("a", "tcache"), ...}')
    answer = {str(k).strip(): v for k, v in answer.items()}
    for k in real:
        v = _norm(answer.get(k))
        if not (type(v) is tuple and v[0] in ids and v[1] in BIN_KINDS):
            return fail(f"answer[{k!r}] is {answer.get(k)!r}: it must be a pair (block, place), the block one of "
                        + ", ".join(map(repr, ids)) + " and the place one of " + ", ".join(map(repr, BIN_KINDS)),
                        "use exactly the strings the task lists: a kind of bin, not glibc's name for one list "
                        "(\"tcache\", not \"tcache 0x30\")")
    step_of = {op.id: i for i, op in enumerate(s.trace.ops, 1) if op.kind == OpKind.ALLOC}
    answer = answer if isinstance(answer, dict) else {}
    cases = []
    for k, v in real.items():
        before = s[step_of[k] - 1]
        owners = _owners_before(s, step_of[k])
        cases.append(Case(args=(k,), expected=v, label=f"answer[{k!r}]",
                          hint=f"just before alloc {k}, glibc's bins held (each list from its head): "
             f"{_bins_with_ids(before, owners)}. "
                               "The tcache is checked first (exact size, last in first out); the unsorted bin is "
                               "scanned from its oldest chunk and an exact fit is taken at once; otherwise a chunk "
                               "is cut from the smallest bigger free chunk, or from top. Name the bin the chunk "
                               "(or the piece it was cut from) was in before the call"))
    return check(lambda k: _norm(answer[k]), cases, name="answer", reveal_expected=False)


# --------------------------------------------------------------------------- one trace, three glibc versions
VERSIONS_TRACE = ("".join(f"alloc a{i} 150\n" for i in range(1, 10)) + "alloc pin 16\n"
                  + "".join(f"free a{i}\n" for i in range(1, 10)) + "".join(f"alloc x{i} 150\n" for i in range(1, 10)))
VERSIONS_ASKED = ("x8", "x9")
# What each version did with VERSIONS_TRACE, recorded here (2026-12-07) with Debian's libc6
# 2.36-9+deb12u14, 2.41-12+deb13u5 and 2.43-7 under their own loaders (tests/test_glibcs.py
# measures it again wherever they can be fetched). The check grades a version it cannot run
# on this machine (no Debian archive in apt's sources, as on Ubuntu; offline; the pinned 2.43
# gone from Debian's suites) against this record, and says so, rather than refuse a right answer.
VERSIONS_RECORDED = {"2.36": {"x8": ("a8", "unsorted"), "x9": ("a9", "unsorted")},
                     "2.41": {"x8": ("a8", "smallbin"), "x9": ("a9", "unsorted")},
                     "2.43": {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")}}
VERSIONS_PACKAGES = {"2.36": "2.36-9+deb12u14", "2.41": "2.41-12+deb13u5", "2.43": "2.43-7"}


def _version_key(root) -> str:
    return "%d.%d" % root.version


def _version_rules(v: tuple) -> str:
    """What glibc version v does with this trace's chunks, in the words of the lesson."""
    fill = 16 if v >= (2, 43) else 7
    rules = [f"glibc {v[0]}.{v[1]}: a tcache list holds {fill} chunks, last in, first out"]
    if v >= (2, 43):
        rules.append("there are no fastbins")
    if v >= (2, 41):
        rules.append("free puts a chunk the tcache does not take, once merged with its free neighbours, "
                     "straight into the small bin of its size (a remainder that malloc splits off still goes to "
                     "the unsorted bin)")
    else:
        rules.append("free puts a chunk the tcache does not take, once merged with its free neighbours, "
                     "into the unsorted bin")
    rules.append("malloc looks in the tcache first, then the small bin of exactly its size, then scans the "
                 "unsorted bin from its oldest chunk (an exact fit is taken); otherwise it cuts the smallest "
                 "bigger free chunk, and the rest goes to the unsorted bin")
    return "; ".join(rules)


def _glibc_places(trace=VERSIONS_TRACE, asked=VERSIONS_ASKED) -> tuple:
    """Measured: {version: {id: (block whose chunk it got or "new", kind of place it was in)}}, and
    {version: (steps, version tuple)}, replaying ``trace`` under each fetched glibc (``heap.glibcs``)."""
    from ..heap import glibcs
    _oracle_called("real_glibc_places")
    roots = glibcs.installed() or glibcs.fetch()
    if len(roots) < 2:
        raise RuntimeError(f"only {len(roots)} glibc version is in the course cache")
    places, runs = {}, {}
    with glibcs.trusted():
        for g in roots:
            s = glibcs.steps_under(trace, g)
            ops = s.trace.ops
            first_free = next(i for i, op in enumerate(ops, 1) if op.kind == OpKind.FREE)
            owners = _owners_before(s, first_free)
            step_of = {op.id: i for i, op in enumerate(ops, 1) if op.kind == OpKind.ALLOC}
            places[_version_key(g)] = {k: (owners.get(s[step_of[k]].changed, "new"),
                                           (s[step_of[k]].served or "?").split()[0]) for k in asked}
            runs[_version_key(g)] = (s, g.version, step_of)
    return places, runs


def real_glibc_places(trace=VERSIONS_TRACE) -> dict:
    """For x8 and x9 of the trace, under each glibc version in the course cache: (the block whose
    chunk it got, or "new"; the kind of place that chunk was in just before the malloc)."""
    _oracle_called("real_glibc_places")
    return _glibc_places(trace)[0]


_VERSIONS_FORMAT = ('answer is a dict of dicts: {"2.36": {"x8": ("a1", "tcache"), "x9": (...)}, "2.41": {...}, '
                    '"2.43": {...}}')


@exercise(error_hint=_VERSIONS_FORMAT)
@_guarded
def check_glibc_versions(answer, trace=VERSIONS_TRACE):
    """Exercise: for x8 and x9, under each glibc version (2.36, 2.41, 2.43): which block's chunk,
    from which kind of place. Measured by replaying the trace under each version's own C
    library (``heap.glibcs``); choose-the-answer, so a wrong guess is shown that version's bins
    just before the malloc and its rules, not the answer. Refused: the check's own replay
    (``real_glibc_places``) or the replays' steps read outside the view (``heap.glibcs``)."""
    from ..toolchain import MissingTool
    from ..widgets.sidebyside import GET_THEM, failure_line
    peeked = _peeked_at("real_glibc_places")
    reads = _new_reads()
    if peeked is not None:
        return peeked
    if reads:
        named = f", trace {reads[0][1]!r}" if reads[0][1] not in ("", "trace") else ""
        return fail(f"the answer was read from the replays themselves ({reads[0][0]}{named}), not predicted",
                    "reason it from each version's rules (the section above names them) and write the dict by "
                    "hand; moving a view's slider is fine, reading its steps in code is not (run the check "
                    "again after you do)")
    try:
        real, runs = _glibc_places(trace)
        why = ""
    except (MissingTool, RuntimeError, OSError) as exc:
        real, runs, why = {}, {}, failure_line(exc)
    missing = [v for v in VERSIONS_RECORDED if v not in real]
    if missing and trace is not VERSIONS_TRACE and trace != VERSIONS_TRACE:
        return fail(f"the glibc versions could not be run here, so this check cannot measure them: {why}",
                    GET_THEM)
    if missing:                     # graded against the record: a right answer still passes, and is told so
        print(f"(glibc {', '.join(missing)} cannot run on this machine{': ' + why if why else ''}; "
              f"graded against what Debian's libc6 {', '.join(VERSIONS_PACKAGES[v] for v in missing)} did "
              f"with this trace when the course was recorded)")
        for v in missing:
            real[v] = dict(VERSIONS_RECORDED[v])
            runs[v] = None
    if not isinstance(answer, dict):
        return fail(f"answer is a {type(answer).__name__}, not a dict", _VERSIONS_FORMAT)
    answer = {str(k).strip().lower().removeprefix("glibc").strip(): v for k, v in answer.items()}
    ops = as_trace(trace).ops
    first_free = next(i for i, op in enumerate(ops) if op.kind == OpKind.FREE)
    ids = sorted({op.id for op in ops[:first_free] if op.kind == OpKind.ALLOC}) + ["new"]
    given = {}
    for ver in real:
        per = answer.get(ver)
        if not isinstance(per, dict):
            return fail(f"answer has no dict for glibc {ver} (its keys: {', '.join(map(repr, answer)) or 'none'})",
                        _VERSIONS_FORMAT + "; one key per version: " + ", ".join(map(repr, real)))
        per = {str(k).strip(): v for k, v in per.items()}
        for k in real[ver]:
            v = _norm(per.get(k))
            if not (type(v) is tuple and v[0] in ids and v[1] in BIN_KINDS):
                return fail(f"answer[{ver!r}][{k!r}] is {per.get(k)!r}: it must be a pair (block, place), the block "
                            "one of " + ", ".join(map(repr, ids)) + " and the place one of "
                            + ", ".join(map(repr, BIN_KINDS)),
                            "use exactly the strings the task lists: a kind of bin, not glibc's name for one list "
                            "(\"tcache\", not \"tcache 0xa0\")")
            given[(ver, k)] = v
    truths = {tuple(sorted(p.items())) for p in real.values()}
    answers = {tuple(sorted((k, given[(ver, k)]) for k in real[ver])) for ver in real}
    if len(truths) > 1 and len(answers) == 1:
        return fail("the same answer for all three versions: these versions do not serve x8 and x9 alike",
                    "each version has its own rules (a tcache list's length, where free puts a small chunk, "
                    "fastbins or none): apply each version's own, as the section above lists them")
    cases = []
    last_free = max(i for i, op in enumerate(ops, 1) if op.kind == OpKind.FREE)
    for ver, per in real.items():
        version = tuple(int(x) for x in ver.split("."))
        if runs[ver] is not None:    # the bins after the last free: x1..x7 and any split still to work out
            s = runs[ver][0]
            seen = (f"after the last free (step {last_free}), the bins held (each list from its head): "
                    f"{_bins_with_ids(s[last_free], _owners_before(s, last_free + 1))}. ")
        else:
            seen = ""
        for k, v in per.items():
            cases.append(Case(args=(ver, k), expected=v, label=f"answer[{ver!r}][{k!r}]",
                              hint=f"with glibc {ver}, {seen}Rules: {_version_rules(version)}. Follow the "
                                   f"mallocs before {k} one by one, and name the bin the chunk (or the piece it "
                                   "was cut from) was in before the call"))
    return check(lambda ver, k: given[(ver, k)], cases, name="answer", reveal_expected=False)


# --------------------------------------------------------------------------- footprint >= 2 x live
MAX_FOOTPRINT_OPS = 12


def footprint_ratio(text) -> tuple:
    """(peak footprint without the tcache chunk, peak live bytes) of a trace replayed with glibc
    (default tunables) in a fresh process. The footprint is what glibc holds below its top
    chunk (mallinfo2: arena - keepcost), minus its own tcache chunk (``TCACHE_STRUCT_SIZE`` of the running glibc:
    656 bytes in 2.30 to 2.41, 768 from 2.42)."""
    s = glibc_steps(text)
    return max(s.footprints) - TCACHE_STRUCT_SIZE, s.peak_live


def _footprint_verdict(text) -> str:
    try:
        t = parse_trace(text, "your trace")
    except TraceError as e:
        return f"the trace does not parse: {e}"
    limit = 12                            # the task's limit, a literal (not MAX_FOOTPRINT_OPS, which a cell can set)
    if len(t) > limit:
        return f"{len(t)} operations: at most {limit} are allowed"
    bad = [op for op in t if op.kind == OpKind.ALLOC and not 100 <= op.size <= 65536]
    if bad:
        return f"every request must be 100 to 65,536 bytes: {bad[0]}"
    if not any(op.kind == OpKind.ALLOC for op in t):
        return "the trace allocates nothing"
    foot, live = footprint_ratio(t)
    if foot >= 2 * live:
        return "ok"
    return (f"peak footprint {foot:,} B is {foot / live:.2f} x the peak live {live:,} B; "
            "it must be at least 2 x")


@exercise(error_hint="my_trace is the trace as a string: one operation a line")
@_guarded
def check_footprint_trace(text):
    """Exercise: a trace of at most 12 operations (requests of 100 to 65,536 bytes) on which
    glibc's peak footprint is at least twice the peak live bytes, checked by replaying it."""
    changed = _limit_changed()
    if changed:
        return fail(f"{changed} was changed: the check keeps the task's limits",
                    "the task's limits stay as the lesson states them (at most 12 operations, requests "
                    "of 100 to 65,536 bytes): find a trace that fits them")
    if not isinstance(text, (str, Trace)):
        return fail(f"my_trace is a {type(text).__name__}, not a trace",
                    "my_trace is the trace as a string: one operation a line")
    return check(_footprint_verdict, [Case(args=(text,), expected="ok", label="glibc_steps(your trace)",
                                           hint="glibc reuses a freed chunk only for a request it fits: the "
                                                "tcache only for its exact size, a bin chunk after cutting it; "
                                                "a chunk next to top merges into top; free before you allocate "
                                                "again, so the peak live bytes stay small")],
                 name="replay")


# --------------------------------------------------------------------------- exercise 6: who gets it back?
WHO_CASES = ((True, 0), (False, 0), (True, 7), (True, 3), (True, 6), (False, 7), (True, 12))
_WHO_ANSWERS = ("main thread", "thread 2", "neither")
_DONT_RUN = ("the check runs who_gets_it_back where it may not start programs: the answer comes "
             "from the rules of free() and malloc(), not from running the two threads")


def _who_cases(rng=None) -> list:
    """The cases the book names, then three it does not (new ones on every check), one of them
    with the main thread's tcache list already full (7 chunks by default, 16 from glibc 2.43)."""
    import random

    from ..heap.glibc import tcache_fill_count
    rng = rng or random.Random()
    fill = tcache_fill_count()
    extra = set()
    while len(extra) < 3:
        if not any(t and n >= fill for t, n in extra):
            case = (True, fill + rng.randrange(0, 8))
        else:
            case = (rng.random() < 0.75, rng.randrange(0, 2 * fill))
        if case not in WHO_CASES:
            extra.add(case)
    return [*WHO_CASES, *sorted(extra)]


@exercise(error_hint="define who_gets_it_back(tcache_on, own_freed) with def")
@_guarded
def check_who_gets_it_back(fn):
    """Exercise 6: fn(tcache_on, own_freed) names the thread whose next malloc(24) gets thread 2's
    chunk after the main thread freed ``own_freed`` chunks of its own and then that one; compared
    with the real two-thread program (``arena_outcome``) without showing the answers. fn runs
    sandboxed, where it cannot run that program itself."""
    from ..heap.threads import arena_outcome
    if holds_c(fn):
        return fail("who_gets_it_back uses C (a C module, cffi or ctypes): " + _DONT_RUN.split(": ", 1)[1],
                    "work the answer out from the rules of free() and malloc(), with no C")
    cases = [Case(args=(t, n), expected=arena_outcome(t, n),
                  hint="free() first tries the tcache of the thread that calls it, but only while that "
                       "tcache bin has room: how many chunks does a bin hold?")
             for t, n in _who_cases()]
    return check(sandboxed(fn, _DONT_RUN), cases, isolate=True, name="who_gets_it_back",
                 reveal_expected=False,
                 hints={"error": "return one of " + ", ".join(map(repr, _WHO_ANSWERS)) + ", worked out from "
                                 "the rules for any tcache_on and own_freed, not looked up for the book's cases"})


def _take_snapshot() -> None:
    """What the checks use, as it is now (at import): this module's functions, classes and
    constants (not the task limits, which ``_limit_changed`` keeps), and the functions of other
    modules they reach through a module attribute."""
    from ..heap import glibc as glibc_mod
    from ..heap import glibcs, threads
    me = sys.modules[__name__]
    skip = {"_LIMITS", "_peeked", "MAX_BEST_FIT_OPS", "MAX_FOOTPRINT_OPS"}
    mine = [(me, n) for n, v in vars(me).items()
            if not n.startswith("__") and n not in skip and not isinstance(v, type(sys))
            and (callable(v) or isinstance(v, (str, bytes, tuple, frozenset, dict)))]
    from . import cross_module
    _snapshot(mine + [(glibcs, n) for n in ("steps_under", "installed", "fetch", "trusted", "_trust",
                                            "untrusted_calls", "note_read", "note_count", "notes_since",
                                            "_notes", "_local", "run_program", "build_probe")]
              + [(cross_module, "runs_the_experiment")]
              + [(threads, n) for n in ("arena_outcome", "arena_demo")]
              + [(glibc_mod, n) for n in ("tcache_fill_count", "run_probe", "build_probe", "GlibcSteps",
                                          "glibc_steps", "replay_glibc")])


_take_snapshot()
