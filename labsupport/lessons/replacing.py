"""Lesson 05 (replacing the allocator): the exercises' questions, hints and checks.

Exercise 1 predicts who serves an allocation in six new builds of ``whoserves``;
exercise 2 predicts ``redirect.exe``'s counts when other import tables are patched
(under Wine). Both checks run the real programs now and compare without showing the
answers; the answers live nowhere else.
"""
from __future__ import annotations

from ..exercises import Case, check, exercise, fail
from .cross_module import PREDICT_FIRST, did_not_run, runs_the_experiment

__all__ = ["ALLOCATORS", "QUESTIONS_1", "HINTS_1", "parse_report", "check_who_serves",
           "QUESTIONS_2", "redirect_count", "check_redirect_counts"]

ALLOCATORS = ("glibc", "mimalloc")

QUESTIONS_1 = [   # (configuration, the line of whoserves' report that answers it)
    ("mimalloc.o last", "asprintf (allocates inside libc)"),
    ("libmimalloc.a first", "malloc in the program"),
    ("libmimalloc.a last", "malloc in the program"),
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"),
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"),
    ("RTLD_GLOBAL, late", "malloc in the program"),
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"),
]

HINTS_1 = {
    ("mimalloc.o last", "asprintf (allocates inside libc)"):
        "An object file on the command line is always linked in, wherever it stands; "
        "libc refers to malloc, so the program exports the one it contains.",
    ("libmimalloc.a first", "malloc in the program"):
        "When the linker reads the archive, nothing refers to malloc yet (whoserves.c comes "
        "later), so it takes no member, and it does not go back for it.",
    ("libmimalloc.a last", "malloc in the program"):
        "By the time the linker reaches the archive, whoserves.c has left malloc "
        "undefined: it takes the member that defines it.",
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"):
        "RTLD_DEEPBIND searches the library and its own dependencies first. Its "
        "dependency is libc.so.6, which defines malloc; the preloaded library is not among them.",
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"):
        "Same rule: the plugin's own dependencies come first, and the program is not one of them.",
    ("RTLD_GLOBAL, late", "malloc in the program"):
        "RTLD_GLOBAL appends the library to the END of the global search order: "
        "libc.so.6 is still found first.",
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"):
        "A library opened later looks up malloc in the global order too, and libc.so.6 "
        "is before the late libmimalloc.so.",
}


def parse_report(stdout: str) -> dict:
    """whoserves' report as {line name: allocator}."""
    return {line[:34].strip(): line[34:].strip() for line in stdout.splitlines()}


# the functions a prediction must not call (a mention, as of QUESTIONS_1 for the keys, is fine)
_EXPERIMENT_1 = ("whoserves", "parse_report", "check_who_serves", "run_program", "run_c", "run_python",
                 "malloc_bindings", "mimalloc_lines")
_EXPERIMENT_2 = ("redirect", "redirect_count", "check_redirect_counts", "run_wine", "run_program", "run_c",
                 "run_python")


def _keys_and_values(prediction, questions, what: str):
    """The learner's answer for each question, or a ``fail`` verdict."""
    if not isinstance(prediction, dict):
        return None, fail(f"the prediction is a {type(prediction).__name__}, not a dict",
                          f"keep the dict of the cell: each question -> {what}")
    missing = [q for q in questions if q not in prediction]
    if missing:
        return None, fail(f"no prediction for {missing[0]}",
                          "keep the questions (the keys) of the cell as they are and answer each")
    return {q: prediction[q] for q in questions}, None


@exercise(error_hint='PREDICTION is a dict: each (configuration, line) -> "glibc" or "mimalloc"')
def check_who_serves(prediction, configs, run):
    """Exercise 1: run every configuration (``run(program, env, args)`` -> RunResult) and compare."""
    answers, verdict = _keys_and_values(prediction, QUESTIONS_1, '"glibc" or "mimalloc"')
    if verdict is not None:
        return verdict
    for key, value in answers.items():
        if type(value) is not str or value.strip().lower() not in ALLOCATORS:
            what = repr(value) if type(value) is str else f"a {type(value).__name__} object, not a plain string,"
            return fail(f"{key[0]}: {key[1]}: {what} is not one of {', '.join(ALLOCATORS)}",
                        'each answer is the string "glibc" or "mimalloc": who serves the allocation, '
                        "not where the code came from")
    used = runs_the_experiment("PREDICTION", _EXPERIMENT_1)
    if used:
        return fail(f"your prediction runs the experiment ({used}) instead of predicting it", PREDICT_FIRST)
    answers = {k: v.strip().lower() for k, v in answers.items()}
    actual = {}
    for config, line in QUESTIONS_1:
        if config not in actual:
            r = run(*configs[config])
            if r.timed_out or r.stopped_by or r.signal:
                return did_not_run(config, r.status())
            actual[config] = parse_report(r.stdout)
        if actual[config].get(line) not in ALLOCATORS:
            return did_not_run(config, f"its report has no line {line!r} naming glibc or mimalloc")
    return check(lambda config, line: answers[(config, line)], [
        Case(args=key, expected=actual[key[0]][key[1]], label=f"{key[0]}: {key[1]}",
             hint=HINTS_1[key]) for key in QUESTIONS_1
    ], reveal_expected=False, name="who serves malloc")


# ---------------------------------------------------------------------------- exercise 2

QUESTIONS_2 = {   # (mode, the line of redirect.exe's report) -> the hint for a wrong count
    ("iat-plugin", "malloc from the program"):
        "Each module calls the CRT through its own IAT: patching plugin.dll's slots "
        "changes nothing for the program's calls.",
    ("iat-plugin", "malloc from plugin.dll"):
        "Every malloc the plugin makes after the patch goes through its patched slot.",
    ("iat-plugin", "blocks the new free() never allocated"):
        "Only the plugin's free is redirected. Which block does the plugin free that it "
        "allocated before the patch?",
    ("iat-all", "malloc inside msvcrt.dll"):
        "_strdup calls malloc inside msvcrt.dll, through no import table at all.",
    ("iat-all", "blocks the new free() never allocated"):
        "Which blocks reach a patched free() that the new malloc never made? Count the ones "
        "allocated before the patch, and the ones allocated where no import table is involved.",
}


def redirect_count(stdout: str, line: str):
    """The first number on ``line`` of redirect.exe's report."""
    for text in stdout.splitlines():
        if text.strip().startswith(line):
            return int(text.split(":")[1].split()[0])
    return None


@exercise(error_hint="PREDICTION_2 is a dict: each (mode, line) -> a count (an int)")
def check_redirect_counts(prediction, run):
    """Exercise 2: run redirect.exe in both modes (``run(mode)`` -> RunResult) and compare counts."""
    answers, verdict = _keys_and_values(prediction, list(QUESTIONS_2), "a count")
    if verdict is not None:
        return verdict
    for key, value in answers.items():
        if type(value) is not int or value < 0:
            what = repr(value) if type(value) in (int, str) else f"a {type(value).__name__} object"
            return fail(f"{key[0]}: {key[1]}: {what} is not a count",
                        "each answer is a whole number of calls or blocks (0, 1, 2...), as "
                        "redirect.exe prints it")
    used = runs_the_experiment("PREDICTION_2", _EXPERIMENT_2)
    if used:
        return fail(f"your prediction runs the experiment ({used}) instead of predicting it", PREDICT_FIRST)
    outputs = {}
    for mode in dict.fromkeys(mode for mode, _ in QUESTIONS_2):
        r = run(mode)
        if not r.ok:
            return did_not_run(f"redirect.exe {mode} under Wine", r.status())
        outputs[mode] = r.stdout
    actual = {key: redirect_count(outputs[key[0]], key[1]) for key in QUESTIONS_2}
    for key, count in actual.items():
        if count is None:
            return did_not_run(f"redirect.exe {key[0]} under Wine", f"its output has no line {key[1]!r}")
    return check(lambda mode, line: answers[(mode, line)], [
        Case(args=key, expected=actual[key], label=f"{key[0]}: {key[1]}", hint=hint)
        for key, hint in QUESTIONS_2.items()
    ], reveal_expected=False, name="redirect counts")
