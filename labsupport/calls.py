"""How a built C module's functions are called: in an isolated child, or directly with a guard.

``c.f(...)`` of a module built with ``isolate=True`` (``%%cffi NAME --isolate``) runs through
``run_c`` in a child: values in and out, a crash raises ``IsolatedCallError`` naming the signal
and the allocator's message, and the kernel lives on. Any other module's ``c.f(...)`` is a
direct call wrapped by ``lastword.guarded`` (if it kills the kernel, the next kernel says
what did). ``labsupport.cbuild`` builds modules and knows nothing of running them; importing
this module (``labsupport/__init__`` does) installs these wrappers there.
"""
from __future__ import annotations

import sys

from . import cbuild, lastword
from .isolate import run_c

__all__ = ["IsolatedCallError"]


class IsolatedCallError(RuntimeError):
    """A function of an isolated module crashed, timed out or failed in its child.
    ``.result`` is the ``RunResult`` (signal, stdout, stderr)."""

    def __init__(self, name: str, result):
        self.result = result
        detail = "\n".join(line for line in str(result).splitlines()[1:])
        super().__init__(f"{name}(): the isolated child {result.status()}"
                         + (f"\n{detail}" if detail else "") + "\n(the kernel and its variables are fine)")


class _IsolatedFunction:
    """``c.f`` of an isolated module: each call runs in a child through ``run_c``."""

    def __init__(self, module: cbuild.CModule, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):
        for a in args:
            if isinstance(a, self.module.ffi.CData):
                raise TypeError(
                    f"{self.name}(): a cffi pointer or struct cannot be passed to an isolated call: the "
                    f"child has its own copy of memory, so a pointer into the kernel's memory means "
                    f"nothing there. Pass ints, floats or bytes, or call c.direct_lib.{self.name}(...) "
                    f"(not isolated: a crash then kills the kernel) when you need pointers.")
        r = run_c(self.module, self.name, *args, timeout=self.module.timeout)
        if r.stdout:
            sys.stdout.write(r.stdout)
        if r.stderr:
            sys.stderr.write(r.stderr)
        if not r.ok:
            raise IsolatedCallError(self.name, r)
        return r.value

    def __repr__(self):
        return f"<isolated C function {self.name}>"


def _wrap(module, name: str, fn):
    if module.isolated:
        return _IsolatedFunction(module, name)
    return lastword.guarded(fn, name)


cbuild.set_call_wrapper(_wrap)
