"""Lesson 08 (WebAssembly memory and finalizers): the exercises' scenarios and checks, and
which cyclic collector the running CPython has.

Every scenario runs in an isolated child with its own instance of ``objects.wasm``
(16 MiB of linear memory at most), and counts from the instance itself, not from the
object the learner's code receives.
"""
from __future__ import annotations

import sys

from ..exercises import Case, check, exercise, fail

__all__ = ["collector", "BATCH", "BALLAST", "check_batch", "CHECK_SIZE", "SCENARIOS", "check_wrapper",
           "CountingModule", "PeakModule"]

KiB = 1024
BATCH = 2000                   # iterations of process_batch in each case
BALLAST = 20_000               # unrelated live objects in the "bigger program" case
CHECK_SIZE = 200 * KiB         # bytes per object in the wrapper's scenarios
LONG = 300                     # seconds a child may take on a busy machine


def collector(version=None) -> str:
    """Which cyclic garbage collector this CPython has: CPython 3.14.0 to 3.14.4 shipped an
    incremental one, 3.14.5 went back to 3.13's generational collector (What's New in
    Python 3.14, "Garbage collection")."""
    v = tuple(version or sys.version_info[:3])
    if (3, 14, 0) <= v[:3] <= (3, 14, 4):
        return "incremental (young and old generations; CPython 3.14.0 to 3.14.4 only)"
    return "generational (three generations)"


class PeakModule:
    """The instance, with the objects made and the peak of live objects recorded at every obj_new."""

    def __init__(self, m):
        self._m, self.peak, self.made = m, 0, 0

    def obj_new(self, size):
        handle = self._m.obj_new(size)
        self.made += 1
        self.peak = max(self.peak, self._m.live_objects())
        return handle

    def __getattr__(self, name):
        return getattr(self._m, name)


def _batch_scenario(batch, path, size, ballast, count_collects=False):
    import gc

    from labsupport import wasm
    raw = wasm.instantiate(path)
    m = PeakModule(raw)
    gc.collect()
    gc.freeze()                                   # a small program ...
    other_objects = [[] for _ in range(ballast)]  # noqa: F841 - ... plus unrelated live objects
    gc.collect()                                  # (as the lesson's loop does: the collector recounts)
    calls, real_collect = [], gc.collect

    def counting_collect(*args, **kwargs):
        calls.append(1)
        return real_collect(*args, **kwargs)
    gc.collect = counting_collect
    try:
        done = batch(m, BATCH, size)
    except MemoryError:
        return f"MemoryError with {raw.live_objects()} live objects"
    finally:
        gc.collect = real_collect
    if count_collects:
        return len(calls)
    return done, m.made, m.peak <= 2


@exercise(error_hint="process_batch(m, n, size) makes n WasmObjects and returns how many it made")
def check_batch(batch, path, size):
    """Exercise 1: ``batch(m, n, size)`` runs BATCH iterations with at most two objects alive,
    in a small program and in one holding BALLAST other objects, without gc.collect()."""
    def run_case(ballast, count_collects):           # sent to the child with batch inside it
        return _batch_scenario(batch, path, size, ballast, count_collects)

    return check(run_case, [
        Case(args=(0, False), expected=(BATCH, BATCH, True), label="small program",
             hint="(iterations done, objects made, at most 2 objects alive at once): make one "
                  "WasmObject per iteration and free its linear memory in the iteration that made "
                  "it, by calling its finalizer (obj._finalizer()) or breaking the cycle; don't "
                  "wait for the collector"),
        Case(args=(BALLAST, False), expected=(BATCH, BATCH, True),
             label=f"program with {BALLAST:,} other live objects",
             hint="the same in a bigger program: a collector setting that works in a small "
                  "program fails here; free explicitly"),
        Case(args=(0, True), expected=0, label="gc.collect() calls",
             hint="a full collection per iteration scans every object of the program each "
                  "time; free the object itself instead"),
    ], isolate=True, name="process_batch", timeout=LONG,
        hints={"error": "the loop raised: a MemoryError means linear memory filled up, so objects "
                        "were not freed in the iteration that made them"})


# ---------------------------------------------------------------------------- exercise 2

class CountingModule:
    """The instance, with every obj_free call counted."""

    def __init__(self, m):
        self._m, self.frees = m, 0

    def obj_free(self, handle):
        self.frees += 1
        return self._m.obj_free(handle)

    def __getattr__(self, name):
        return getattr(self._m, name)


def scenario_collected_without_release(cls, path):
    from labsupport import wasm
    raw = wasm.instantiate(path)
    obj = cls(CountingModule(raw), CHECK_SIZE)
    del obj
    return raw.live_objects()


def scenario_loop_with_cycles(cls, path):
    from labsupport import wasm
    raw = wasm.instantiate(path)
    m = CountingModule(raw)
    done = 0
    for _ in range(300):
        obj = cls(m, CHECK_SIZE)
        obj.myself = obj
        obj.release()
        done += 1
    return done, raw.live_objects()


def scenario_release_twice_then_collect(cls, path):
    import gc

    from labsupport import wasm
    m = CountingModule(wasm.instantiate(path))
    obj = cls(m, CHECK_SIZE)
    obj.release()
    obj.release()
    after_two = m.frees
    del obj
    gc.collect()
    return after_two, m.frees


def scenario_use_after_release(cls, path):
    from labsupport import wasm
    m = CountingModule(wasm.instantiate(path))
    obj = cls(m, CHECK_SIZE)
    obj.release()
    try:
        value = obj.checksum()
    except ValueError as exc:
        return "ValueError mentioning 'released'" if "released" in str(exc) else f"ValueError: {exc}"
    except Exception as exc:                 # noqa: BLE001 - reported as the scenario's result
        return f"{type(exc).__name__}: {exc}"
    return f"returned {value} (it used a released handle)"


def scenario_with_block(cls, path):
    from labsupport import wasm
    raw = wasm.instantiate(path)
    with cls(CountingModule(raw), CHECK_SIZE) as obj:
        inside = raw.live_objects()
        same = isinstance(obj, cls)
    return same, inside, raw.live_objects()


def scenario_with_block_raising(cls, path):
    from labsupport import wasm
    raw = wasm.instantiate(path)
    propagated = False
    try:
        with cls(CountingModule(raw), CHECK_SIZE):
            raise KeyError("boom")
    except KeyError:
        propagated = True
    return propagated, raw.live_objects()


SCENARIOS = [   # (scenario, expected result, hint for a wrong result)
    (scenario_collected_without_release, 0,
     "an object nobody released must still be freed: keep weakref.finalize(self, m.obj_free, handle). "
     "Not weakref.finalize(self, self.release): the bound method holds self, the finalizer holds "
     "the method, so the object stays reachable and is never collected"),
    (scenario_loop_with_cycles, (300, 0),
     "(iterations, live objects at the end): release() must free the object at once, "
     "even when it is in a reference cycle"),
    (scenario_release_twice_then_collect, (1, 1),
     "(obj_free calls after two release(), after collection): release() should call "
     "self._finalizer(), which frees once and detaches, instead of m.obj_free(...) directly"),
    (scenario_use_after_release, "ValueError mentioning 'released'",
     "checksum() must check whether the object was released (self._finalizer.alive) and raise ValueError"),
    (scenario_with_block, (True, 1, 0),
     "(__enter__ gave the object, live objects inside, live objects after): "
     "__enter__ returns self, __exit__ calls release()"),
    (scenario_with_block_raising, (True, 0),
     "(the exception reached the caller, live objects after): __exit__ runs when the block "
     "raises too: release there, and return False so the exception is not swallowed"),
]


@exercise(error_hint="SafeObject is a class: SafeObject(m, size)")
def check_wrapper(cls, path):
    """Run every scenario on ``cls``, each in an isolated child."""
    if not isinstance(cls, type):
        return fail(f"SafeObject is a {type(cls).__name__}, not a class", "define it with class SafeObject:")
    by_name = {scenario.__name__: scenario for scenario, _, _ in SCENARIOS}

    def run_scenario(name):                  # sent to the child with cls inside it
        return by_name[name](cls, path)

    cases = [Case(args=(scenario.__name__,), expected=expected, hint=hint,
                  label=f"{scenario.__name__}({cls.__name__})")
             for scenario, expected, hint in SCENARIOS]
    return check(run_scenario, cases, isolate=True, name=cls.__name__, timeout=LONG,
                 hints={"error": "a scenario raised: a MemoryError means released objects were not "
                                 "freed; a TypeError or AttributeError, a method missing or with "
                                 "another signature (SafeObject(m, size), release(), checksum(), "
                                 "__enter__, __exit__)"})
