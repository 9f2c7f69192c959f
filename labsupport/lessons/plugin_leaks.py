"""Lesson 07 (leaks at plugin boundaries): the leak reports' excerpts, and both exercises' checks.

Exercise 1 classifies five excerpts of the tools' reports; its truths are read from the
unblanked reports of the run the notebook just made (heaptrack's from valgrind's record
of the same allocation site, since heaptrack has no kinds), never typed in.
Exercise 2 runs the learner's ``encode_batch`` in a child under the counting allocator,
once without faults and then with the N-th allocation failing for every N.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..exercises import answer_keys, exercise, fail, passed
from ..leakcount import sanitize

__all__ = ["KINDS", "NO_RECORD", "QUIZ_HINTS", "source_lines", "blank", "valgrind_record", "lsan_record",
           "heaptrack_record", "truth", "check_classification", "sweep_batch", "check_encode_batch"]

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

def sweep_batch(modname: str, path: str, given_modname: str, given_path: str, plugin: bytes, n: int,
                limit: int = 1000) -> dict:
    """In a child under the counting allocator: the given code's total and allocation count for
    n images, then the learner's encode_batch without faults, then with the N-th allocation
    failing for N = 1, 2, ... until N is past the job's last allocation.

    Each row is (N, result, allocations, blocks left, arms, failures): arms and failures are
    how many times leakcount_arm ran and how many allocations it made fail during that call
    (1 and 1 when nobody tampered with the fault injection and N was reached).
    """
    import ctypes
    import importlib.util

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
    allocations = module.ffi.new("long *")
    failures = ctypes.c_long()

    def run(lib, fail_at):
        arms = shim.leakcount_history(ctypes.byref(failures))
        before = failures.value
        result = lib.encode_batch_failing(plugin, n, fail_at, allocations)
        left = shim.leakcount_epoch_live(None)
        arms = shim.leakcount_history(ctypes.byref(failures)) - arms
        return (fail_at, int(result), int(allocations[0]), int(left), int(arms), int(failures.value - before))

    expected = int(given.lib.encode_batch(plugin, n))       # also loads the plugin once
    given_row = run(given.lib, 0)
    total = int(module.lib.encode_batch(plugin, n))
    rows = [run(module.lib, 0)]
    for fail_at in range(1, limit):
        rows.append(run(module.lib, fail_at))
        _, _, made, left, arms, _ = rows[-1]
        if left or arms != 1 or fail_at > made:
            break
    return {"expected": expected, "given_allocations": given_row[2], "total": total, "rows": rows}


_LEAK_HINT = ("Every return after mh_open succeeded must still call mh_close(ctx), and free whatever "
              "malloc, aligned_alloc (or strdup...) gave you. One 'done:' label that frees everything (free(NULL) and "
              "mh_close(NULL) do nothing) covers every path; initialise all pointers to NULL first.")


_TAMPER_HINT = ("leave leakcount_arm/leakcount_disarm to encode_batch_failing: encode_batch must not "
                "re-arm or switch off the fault injection, and encode_batch_failing must stay as given")


@exercise(error_hint="define encode_batch(plugin, n) in the C cell, and keep encode_batch_failing as given")
def check_encode_batch(module, given, plugin: bytes, shim_env: dict, sizes=(2, 5), timeout: float = 60):
    """Exercise 2: for batch sizes the notebook never printed, the total the given code returns
    and at least its allocations (minus the two buffers, which may live on the stack), then no
    leak and a negative result for every N whose allocation failed (or the full total, when the
    failure was absorbed); the fault injection armed once per call, and the planned failure
    really made."""
    from ..isolate import run_python
    cases = len(sizes)
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
        for fail_at, result, allocations, left, arms, failures in rows:
            if arms != 1 or (fail_at and fail_at <= allocations and failures != 1):
                what = (f"leakcount_arm ran {arms} times" if arms != 1 else
                        f"allocation N={fail_at} was planned to fail and did not")
                return fail(f"encode_batch(plugin, {n}): {what} during one call of encode_batch_failing",
                            _TAMPER_HINT, total=cases)
        made, given_made = rows[0][2], r.value["given_allocations"]
        if not rows[1:] or made == 0:
            return fail(f"encode_batch(plugin, {n}): the counting allocator saw no allocation while "
                        "the fault was armed", _TAMPER_HINT, total=cases)
        if rows[0][1] != expected or made < given_made - 2:
            return fail(f"encode_batch(plugin, {n}) made {made} allocations without faults (returned "
                        f"{rows[0][1]}); the given code makes {given_made}",
                        "it must still open the encoder and encode every image with mh_encode: the "
                        "total comes from the encoder, not from a formula", total=cases)
        for fail_at, result, allocations, left, _, _ in rows:
            if left:
                when = f"when allocation N={fail_at} fails" if fail_at else "without any failing allocation"
                return fail(f"encode_batch(plugin, {n}) leaks {when} "
                            f"(it returned {result}, {left} blocks left)", _LEAK_HINT, total=cases)
            if fail_at <= allocations and result >= 0 and result != expected:
                return fail(f"encode_batch(plugin, {n}) returned {result} after allocation N={fail_at} "
                            f"failed", "after a failure encode_batch must return minus the error code "
                            "(a negative number: -e.code, or -MH_ERR_NOMEM for your own malloc)",
                            total=cases)
    return passed(f"{cases} batch sizes: the right totals, and no leak and an error code for every "
                  "failing allocation", total=cases)
