"""Seeded wrong answers for lesson 08 (src/lessons/08_wasm_finalization.py), keyed by the
1-based index of the cell tagged ``solution``: (kind, whole replacement of that cell, a
fragment of the hint the check must print)."""

_BATCH_HEAD = '''def process_batch(m, n, size):
    """Make n WasmObjects in reference cycles, one after the other; return how many were made."""
'''

_SAFE_TAIL = '''
    def checksum(self):
        if self.released:
            raise ValueError("this object was released")
        return self.m.obj_sum(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False
'''

# the stub's class with a weakref.finalize that release() calls: the reference's first half
_FINALIZE_HEAD = '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle = m, handle
        self._finalizer = weakref.finalize(self, m.obj_free, handle)

    @property
    def released(self):
        return not self._finalizer.alive

    def release(self):
        self._finalizer()
'''

WRONG = {
    1: [
        # frees only every other object: the rest wait for the collector
        ("partial", _BATCH_HEAD + '''    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        if done % 2 == 0:
            obj._finalizer()
        done += 1
    return done
''', "at most 2 objects alive at once"),
        # reports the count the check wants without making the objects
        ("gaming", _BATCH_HEAD + '''    return n
''', "objects made"),
        # what the task forbids: tune the collector (a full collection per iteration, or a
        # smaller threshold)
        ("forbidden", _BATCH_HEAD + '''    import gc
    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        gc.collect()                      # let the collector find the cycle right away
        done += 1
    return done
''', "a full collection per iteration"),
        # the lesson's own section-5 bug: frees directly and leaves 1,999 stale finalizers armed
        # (review-04-05-08, D2)
        ("partial", _BATCH_HEAD + '''    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        m.obj_free(obj.handle)
        done += 1
    return done
''', "disarms the finalizer"),
        # drops the name only: the cycle keeps the object until the collector runs (review-04-05-08)
        ("partial", _BATCH_HEAD + '''    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        del obj
        done += 1
    return done
''', "free its linear memory in the iteration that made it"),
        # detaches the finalizer without freeing: every object leaks
        ("partial", _BATCH_HEAD + '''    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        obj._finalizer.detach()
        done += 1
    return done
''', "linear memory filled up"),
        # gc.collect under another name, bound before the check could patch gc.collect
        # (review-04-05-08, D3)
        ("forbidden", '''from gc import collect as tidy

''' + _BATCH_HEAD + '''    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        tidy()
        done += 1
    return done
''', "gc.collect under any name"),
        # the check's collection counter removed, then gc.collect per iteration: passed while
        # the check counted through gc.callbacks (review2-04-05-08, N3)
        ("forbidden", _BATCH_HEAD + '''    import gc
    gc.callbacks.clear()                  # the check's counter is gone
    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        gc.collect()
        done += 1
    return done
''', "gc.collect under any name"),
        # the next counter a cheat would reach for: gc.get_stats replaced by one that says no
        # collection ran, and a right free plus a gc.collect per iteration
        ("gaming", _BATCH_HEAD + '''    import gc
    gc.get_stats = lambda: [{"collections": 0, "collected": 0, "uncollectable": 0}] * 3
    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        obj._finalizer()
        gc.collect()
        done += 1
    return done
''', "gc.collect under any name"),
        ("forbidden", _BATCH_HEAD + '''    import gc
    gc.set_threshold(10, 10, 10)          # collect more often, so the finalizers keep up
    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj
        done += 1
    return done
''', "at most 2 objects alive at once"),
    ],
    2: [
        # an idempotent release() that frees directly and leaves the finalizer armed, so the
        # collector frees the handle a second time
        ("partial", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle, self.released = m, handle, False
        self._finalizer = weakref.finalize(self, m.obj_free, handle)

    def release(self):
        if not self.released:
            self.m.obj_free(self.handle)
            self.released = True
''' + _SAFE_TAIL, "the finalizer must not free it again"),
        # makes the check's count of live objects say 0 instead of freeing anything
        ("gaming", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle, self.released = m, handle, False
        self._finalizer = weakref.finalize(self, m.obj_free, handle)
        m.live_objects = lambda: 0        # the check counts live objects: make it say none

    def release(self):
        self.released = True
''' + _SAFE_TAIL, "MemoryError"),
        # checksum() that always raises passes every scenario that only uses released
        # objects (review-04-05-08, D1)
        ("gaming", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle = m, handle
        self._finalizer = weakref.finalize(self, m.obj_free, handle)

    def release(self):
        self._finalizer()

    def checksum(self):
        raise ValueError("released")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False
''', "raises only after release()"),
        # checksum() returns None after release instead of raising (review-04-05-08)
        ("partial", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle = m, handle
        self._finalizer = weakref.finalize(self, m.obj_free, handle)

    def release(self):
        self._finalizer()

    def checksum(self):
        if not self._finalizer.alive:
            return None
        return self.m.obj_sum(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False
''', "raise ValueError"),
        # released written as a plain method (the @property of the stub dropped), and tested
        # without calling it: always true, so checksum() raises for a live object
        # (review2-04-05-08, N4)
        ("partial", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle = m, handle
        self._finalizer = weakref.finalize(self, m.obj_free, handle)

    def released(self):
        return not self._finalizer.alive

    def release(self):
        self._finalizer()
''' + _SAFE_TAIL, "in the stub, released is a @property"),
        # checksum() after release returns 0 instead of raising (review2-04-05-08, N6)
        ("partial", _FINALIZE_HEAD + '''
    def checksum(self):
        return 0 if self.released else self.m.obj_sum(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False
''', "instead of raising"),
        # __exit__ releases only when the block ended without an error: an object still
        # referenced after a failing block keeps its memory (review5-04-05-08, defect 3)
        ("partial", _FINALIZE_HEAD + _SAFE_TAIL.replace(
            "    def __exit__(self, *exc_info):\n        self.release()\n",
            "    def __exit__(self, exc_type, exc, tb):\n        if exc_type is None:\n            self.release()\n"),
         "__exit__ runs when the block"),
        # the finalizer captures self through a bound method: nothing is ever collected
        ("forbidden", '''class SafeObject:
    def __init__(self, m, size):
        handle = m.obj_new(size)
        if handle == 0:
            raise MemoryError(f"obj_new({size}) returned NULL: linear memory is full")
        self.m, self.handle, self.released = m, handle, False
        self._finalizer = weakref.finalize(self, self.release)

    def release(self):
        if not self.released:
            self.released = True
            self.m.obj_free(self.handle)
''' + _SAFE_TAIL, "the bound method holds self"),
    ],
}
