"""Seeded wrong answers for lesson 08 (src/lessons/08_wasm_finalization.py).

Keyed by the 1-based index of the cell tagged ``solution``; each value replaces that
whole cell, and the check in the following cell must print "✘" and "hint:".
"""

WRONG = {
    # Exercise 1: tune the collector instead of freeing. In the check's small program the
    # loop survives but holds many objects at once (case 1 fails: "(2000, False)"); with
    # 20,000 other live objects it runs out of memory.
    1: '''\
def process_batch(m, n, size):
    """Make n WasmObjects in reference cycles, one after the other; return how many were made."""
    import gc
    gc.set_threshold(10, 10, 10)          # collect more often, so the finalizers keep up
    done = 0
    for _ in range(n):
        obj = WasmObject(m, size)
        obj.myself = obj                  # the cycle stays
        done += 1
    return done
''',
    # Exercise 2: an idempotent release() that frees directly and leaves the finalizer
    # armed, so the collector frees the handle a second time.
    2: '''\
class SafeObject:
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

    def checksum(self):
        if self.released:
            raise ValueError("this object was released")
        return self.m.obj_sum(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False
''',
}
