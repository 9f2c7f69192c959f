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
    """The instance, with the objects made, the peak of live objects recorded at every obj_new,
    and every obj_free counted: the calls that freed an object and the ones the module refused
    (-1: a handle freed already)."""

    def __init__(self, m):
        self._m, self.peak, self.made, self.freed, self.refused = m, 0, 0, 0, 0

    def obj_new(self, size):
        handle = self._m.obj_new(size)
        self.made += 1
        self.peak = max(self.peak, self._m.live_objects())
        return handle

    def obj_free(self, handle):
        status = self._m.obj_free(handle)
        if status == -1:
            self.refused += 1
        else:
            self.freed += 1
        return status

    def __getattr__(self, name):
        return getattr(self._m, name)


def _batch_scenario(batch, path, size, ballast, measure="peak"):
    """One case of exercise 1 in a fresh child. ``measure``: "peak" (iterations, objects made,
    at most two alive), "frees" (obj_free calls that freed, that were refused, once every
    wrapper is collected) or "collections" (collections that ran during the loop)."""
    import gc

    from labsupport import wasm
    raw = wasm.instantiate(path)
    m = PeakModule(raw)
    gc.collect()
    gc.freeze()                                   # a small program ...
    other_objects = [[] for _ in range(ballast)]  # noqa: F841 - ... plus unrelated live objects
    gc.collect()                                  # (as the lesson's loop does: the collector recounts)
    get_stats = gc.get_stats                      # held here: the answer may rebind gc.get_stats
    if measure == "collections":
        gc.disable()                              # so any collection in the loop is the answer's
    before = sum(s["collections"] for s in get_stats())   # counters no code can reset or remove
    try:
        done = batch(m, BATCH, size)
    except MemoryError:
        return f"MemoryError with {raw.live_objects()} live objects"
    finally:
        collections = sum(s["collections"] for s in get_stats()) - before
        gc.enable()
    if measure == "collections":
        return collections
    if measure == "frees":
        gc.collect()                              # the wrappers' cycles, and any finalizer still armed
        return m.freed, m.refused
    return done, m.made, m.peak <= 2


@exercise(error_hint="process_batch(m, n, size) makes n WasmObjects and returns how many it made")
def check_batch(batch, path, size):
    """Exercise 1: ``batch(m, n, size)`` runs BATCH iterations with at most two objects alive,
    in a small program and in one holding BALLAST other objects, frees each object exactly
    once, and starts no collection."""
    def run_case(ballast, measure):                  # sent to the child with batch inside it
        return _batch_scenario(batch, path, size, ballast, measure)

    return check(run_case, [
        Case(args=(0, "peak"), expected=(BATCH, BATCH, True), label="small program",
             hint="(iterations done, objects made, at most 2 objects alive at once; a MemoryError "
                  "means linear memory filled up): make one WasmObject per iteration and free its "
                  "linear memory in the iteration that made it; don't wait for the collector. "
                  "Something the wrapper already holds frees the object exactly once"),
        Case(args=(BALLAST, "peak"), expected=(BATCH, BATCH, True),
             label=f"program with {BALLAST:,} other live objects",
             hint="the same in a bigger program: a collector setting that works in a small "
                  "program fails here; free explicitly"),
        Case(args=(0, "frees"), expected=(BATCH, 0),
             label="obj_free calls that freed, and that were refused, once every wrapper is collected",
             hint="each object must be freed exactly once: a free that leaves the wrapper's "
                  "finalizer armed is followed by a second obj_free of the same handle when the "
                  "collector runs that finalizer (refused here, or freeing whichever object now "
                  "has that handle, as in section 5). Free in a way that disarms the finalizer"),
        Case(args=(0, "collections"), expected=0, label="collections started during the loop",
             hint="the automatic collector was off for this case, so every collection counted "
                  "(by gc.get_stats(), which no code can reset) was started by your code "
                  "(gc.collect under any name, or the collector switched on): a full collection per "
                  "iteration scans every object of the program each time; free the object itself "
                  "instead"),
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


def scenario_checksum_before_release(cls, path):
    from labsupport import wasm
    raw = wasm.instantiate(path)
    obj = cls(CountingModule(raw), CHECK_SIZE)
    try:
        value = obj.checksum()
    except Exception as exc:                 # noqa: BLE001 - reported as the scenario's result
        return f"{type(exc).__name__}: {exc}"
    fresh = wasm.instantiate(path)               # the same object made directly: its checksum
    truth = fresh.obj_sum(fresh.obj_new(CHECK_SIZE))
    return "obj_sum of the object" if value == truth else f"returned {value!r}, not obj_sum"


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
    return f"returned {value!r} instead of raising"


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
    obj = cls(CountingModule(raw), CHECK_SIZE)   # still referenced after the block: only
    try:                                         # __exit__ can have freed it, not the finalizer
        with obj:
            raise KeyError("boom")
    except KeyError:
        propagated = True
    live = raw.live_objects()
    del obj
    return propagated, live


SCENARIOS = [   # (scenario, expected result, hint for a wrong result)
    (scenario_collected_without_release, 0,
     "an object nobody released must still be freed: keep weakref.finalize(self, m.obj_free, handle). "
     "Not weakref.finalize(self, self.release): the bound method holds self, the finalizer holds "
     "the method, so the object stays reachable and is never collected"),
    (scenario_loop_with_cycles, (300, 0),
     "(iterations, live objects at the end): release() must free the object at once, "
     "even when it is in a reference cycle"),
    (scenario_release_twice_then_collect, (1, 1),
     "(obj_free calls after two release(), after collection): the object must be freed once, "
     "and the finalizer must not free it again when the wrapper is collected. Section 5 says "
     "what a weakref.finalize object does when you call it"),
    (scenario_checksum_before_release, "obj_sum of the object",
     "checksum() of a live object returns m.obj_sum(handle), as UnsafeObject's does; it raises "
     "only after release(). (A method tested without calling it, `if self.released:` on a plain "
     "def, is always true: in the stub, released is a @property)"),
    (scenario_use_after_release, "ValueError mentioning 'released'",
     "checksum() must check whether the object was released, and then raise ValueError with a "
     "message that says so, instead of passing a dead handle to the module"),
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
