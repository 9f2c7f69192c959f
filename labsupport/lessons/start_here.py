"""Lesson 00 (start here): the checks of its two exercises, and a sandbox for learners' functions.

Expected values are measured when a check runs (a fresh process for glibc's chunk sizes), never
typed in, and every check adds cases the book does not show, so an answer that hard-codes the
book's cases fails. ``sandboxed`` (also used by lesson 01) runs a learner's function where it
may not start programs or load C, so a function that *runs the experiment* (or measures with
``ctypes`` or ``cffi``) instead of computing the answer is caught with a reason.

The checks measure with glibc's defaults, whatever the notebook's environment says
(``GLIBC_TUNABLES`` emptied, ``LD_PRELOAD`` emptied: ``DEFAULTS_ENV``), and they use the
functions this module defined: a cell cannot rebind them (``start_here.measure_chunk_sizes = ...``
raises), and one rebound another way (``vars(start_here)[...]``) is put back and reported.
"""
from __future__ import annotations

import functools
import os
import random
import re
import sys
import types

from ..cbuild import build_program
from ..exercises import Case, check, exercise, fail
from ..isolate import run_program
from ..toolchain import ROOT

__all__ = ["BOOK_BUFFERS", "HIGH_BYTES", "count_zeros_cases", "check_count_zeros", "CHUNK_REQUESTS",
           "chunk_size_requests", "measure_chunk_sizes", "check_chunk_size", "sandboxed", "holds_c",
           "DEFAULTS_ENV", "defaults_env", "NO_TCACHE_ENV", "running_glibc", "as_its_glibc_does"]


# --------------------------------------------------------------------------- the checks' own names
def _make_guard():
    """(snapshot, guarded, names): ``snapshot()`` records every name this module defines;
    ``guarded(check)`` makes ``check`` first put back any name a cell rebound (through ``vars()``
    or ``__dict__``, since the module refuses ``setattr``) and then answer ✘ naming it. The record
    lives in this closure, not in a module attribute a cell could reach."""
    saved: dict = {}
    mod_globals = globals()

    def snapshot() -> None:
        saved.clear()
        saved.update({k: v for k, v in mod_globals.items() if not k.startswith("__")})

    def restore() -> list:
        changed = [k for k, v in saved.items() if mod_globals.get(k, restore) is not v]
        mod_globals.update({k: saved[k] for k in changed})
        return changed

    def guarded(check_fn):
        @functools.wraps(check_fn)
        def run(*args, **kwargs):
            changed = restore()
            if changed:
                return saved["fail"](
                    f"a cell replaced {', '.join(changed)}, which belongs to the check "
                    f"({__name__}); the check put its own back",
                    "answer the question in the solution cell and leave the check's functions alone; "
                    "then run the check again")
            return check_fn(*args, **kwargs)
        return run
    return snapshot, guarded, saved.keys()



_snapshot, _guarded, _OWN_NAMES = _make_guard()


# --------------------------------------------------------------------------- sandbox
_FORBIDDEN_EVENTS = ("subprocess.Popen", "os.system", "os.posix_spawn", "os.fork", "os.forkpty", "pty.spawn",
                     "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.cdata",
                     "ctypes.addressof", "ctypes.string_at")


def _refuse_cffi(refuse) -> None:
    """cffi raises no audit event: refuse a new ``cffi.FFI()`` (whose ``cast`` reads any address,
    so no loader is needed to measure), its loaders (``dlopen``, ``verify``, ``compile``,
    ``set_source``), and every function of ``_cffi_backend`` (``cast``, ``new_pointer_type``,
    ``load_library``, its ``FFI``...), by patching them."""
    try:
        import _cffi_backend
        import cffi.api
    except ImportError:                          # no cffi here: nothing to refuse
        return
    for name in ("__init__", "dlopen", "dlclose", "verify", "compile", "set_source", "set_source_pkgconfig",
                 "emit_c_code", "distutils_extension", "cast", "from_buffer", "new"):
        if hasattr(cffi.api.FFI, name):
            setattr(cffi.api.FFI, name, refuse)
    for name in dir(_cffi_backend):
        if not name.startswith("__") and callable(getattr(_cffi_backend, name, None)):
            try:
                setattr(_cffi_backend, name, refuse)
            except (AttributeError, TypeError):
                pass


def _stdlib_only(create_dynamic, refuse):
    """``_imp.create_dynamic`` that loads only the standard library's own compiled modules
    (``math``, ``_decimal``, ... in ``lib-dynload``): any other compiled module is refused."""
    import os
    import sys
    import sysconfig
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    dirs = {sysconfig.get_config_var("DESTSHARED") or "",                       # the base install's, not a venv's
            os.path.join(sys.base_exec_prefix, "lib", ver, "lib-dynload")}
    dynload = tuple(os.path.realpath(d) + os.sep for d in dirs if d and os.path.isdir(d))

    def load(spec, *rest):
        if dynload and os.path.realpath(getattr(spec, "origin", None) or "").startswith(dynload):
            return create_dynamic(spec, *rest)
        return refuse()
    return load


def _call_sandboxed(fn, why, *args, **kwargs):
    """In the isolated child: refuse programs, the course's runners, ctypes, cffi's loaders and the
    loading of any compiled module outside the standard library while ``fn`` runs."""
    import _imp
    import sys

    from .. import isolate

    def refuse(*_a, **_k):
        raise PermissionError(why)

    isolate._start_and_wait = refuse           # lab.run_program / run_c / run_python, and every probe
    _refuse_cffi(refuse)
    _imp.create_dynamic = _stdlib_only(_imp.create_dynamic, refuse)   # a %%cffi module, a .so, from fn
    active = [True]

    def hook(event, _args):
        if active[0] and (event in _FORBIDDEN_EVENTS or event.startswith(("os.exec", "os.spawn"))):
            raise PermissionError(why)

    sys.addaudithook(hook)                      # a child's hook: gone with the child
    try:
        return fn(*args, **kwargs)
    finally:
        active[0] = False


_C_NAMES = re.compile(rb"(?<![A-Za-z0-9_])(?:_?cffi|_cffi_backend|_?ctypes|_imp)(?![A-Za-z0-9_])")


def holds_c(fn) -> bool:
    """True when ``fn`` uses C: it holds a C object (a ``%%cffi``/``lab.build_c`` module, a cffi or
    ctypes object), which cannot be sent to the check's child, or it names cffi, ctypes or ``_imp``
    (in its code, its defaults or the globals it uses), whose loaders the sandbox refuses only
    once the function is in the child. Such a function measures instead of computing."""
    import cloudpickle
    try:
        data = cloudpickle.dumps(fn)
    except Exception as e:                      # noqa: BLE001 (any pickling error: look at its text)
        return bool(re.search(r"cffi|FFI|ctypes|CData|CModule", f"{type(e).__name__} {e}"))
    return bool(_C_NAMES.search(data))


def sandboxed(fn, why: str):
    """``fn`` wrapped for ``check(..., isolate=True)``: in the child it may compute but not start a
    program, call the course's runners (``lab.run_program``, the probes), use ``ctypes``, use cffi's
    loaders (``FFI().dlopen``, ``verify``, ``set_source``) or load a compiled module; trying
    raises ``PermissionError(why)``, which the check reports with ``why``."""
    return functools.partial(_call_sandboxed, fn, why)


# --------------------------------------------------------------------------- exercise 1: count_zeros
BOOK_BUFFERS = (b"memory", b"a\0b\0\0c", b"\0\0\0\0", b"\0 at the start", b"")


HIGH_BYTES = b"\x80\xff\x00\x7f"       # bytes 0x80-0xff: negative where char is signed (x86-64)


def count_zeros_cases(rng: random.Random | None = None) -> list:
    """The book's buffers, three more it shows in a verdict (one with bytes 0x80 to 0xff), then
    buffers the book does not show (new ones on every check)."""
    rng = rng or random.Random()
    extra = [b"no zero at all", b"ends with a zero\0", HIGH_BYTES]
    for n in (rng.randrange(20, 200), rng.randrange(200, 3000)):
        extra.append(bytes(0 if rng.random() < 0.3 else rng.randrange(1, 256) for _ in range(n)))
    return [*BOOK_BUFFERS, *extra]


_N_SHOWN = len(BOOK_BUFFERS) + 3          # the buffers a verdict prints in full
_ALL_BYTES = "look at all n bytes: here a zero byte is data, not the end of a string"
_SIGNED = ("bytes 0x80 to 0xff are not zero either: count only buf[i] == 0 (on x86-64 a char is signed, "
           "so those bytes are negative and buf[i] <= 0 or buf[i] < 1 counts them)")


def _count_hint(buf: bytes) -> str:
    high = sum(b >= 0x80 for b in buf)
    if buf == HIGH_BYTES:
        return _SIGNED
    if high:
        return f"{_ALL_BYTES}; this buffer also holds {high} bytes from 0x80 to 0xff: {_SIGNED}"
    return _ALL_BYTES


def _count_guarded(modname: str, path: str, data: bytes) -> int:
    """In the child: count_zeros on ``data`` placed right before an unreadable page, so a read of
    byte n (or a string function looking for a terminating zero) faults instead of passing by luck."""
    import ctypes
    import importlib.util
    import mmap

    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = mmap.PAGESIZE
    mem = mmap.mmap(-1, 2 * page)
    start = page - len(data)
    mem[start:page] = data
    base = mod.ffi.from_buffer(mem)
    addr = int(mod.ffi.cast("uintptr_t", base))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.mprotect(addr + page, page, 0) != 0:          # PROT_NONE: the guard page
        raise OSError(ctypes.get_errno(), "mprotect failed")
    return int(mod.lib.count_zeros(base + start, len(data)))


def _did_not_build(module) -> bool:
    """True when the latest ``%%cffi`` cell run for the name ``module`` is bound to did not build:
    that name still holds the module of an earlier run, which a check must not grade. The cell is
    found in IPython's input history and built again (cached when it built before)."""
    try:
        import shlex

        from IPython import get_ipython

        from ..magics import cffi_magic
        ip = get_ipython()
        if ip is None:
            return False
        names = {k for k, v in ip.user_ns.items() if v is module and not k.startswith("_")}
        for raw in reversed(ip.history_manager.input_hist_raw):
            first, _, body = raw.lstrip().partition("\n")
            tokens = shlex.split(first)
            if tokens[:1] == ["%%cffi"] and names & set(tokens[1:]):
                try:
                    cffi_magic(" ".join(shlex.quote(t) for t in tokens[1:]) + " --quiet", body, {})
                except Exception:                    # noqa: BLE001 - any build error: the cell did not build
                    return True
                return False
    except Exception:                                # noqa: BLE001 - no IPython, no history: nothing to tell
        return False
    return False


def _fresh_build(check_fn):
    """``check_fn(module)`` answers ✘ "your cell did not build" instead of grading a module an earlier
    run of the cell built."""
    @functools.wraps(check_fn)
    def run(module, *args, **kwargs):
        if _did_not_build(module):
            return fail("your %%cffi zeros cell did not build (gcc's message is under it), so zeros is still "
                        "the module an earlier run built: the check does not grade that",
                        "fix the error gcc reported, run the cell again, then this check")
        return check_fn(module, *args, **kwargs)
    return run


_PAST_THE_END = ("read only buf[0] to buf[n - 1]: in the check the byte after the n bytes is an unreadable "
                 "page, so reading past the end (i <= n, or strlen and friends, which look for a "
                 "terminating zero a buffer does not have) crashes")


@_fresh_build
@exercise(error_hint="define size_t count_zeros(const char *buf, size_t n) in the %%cffi zeros cell")
@_guarded
def check_count_zeros(module):
    """Exercise 1: count_zeros(buf, n) of a ``%%cffi`` module counts the zero bytes among n bytes.
    Each case runs in a child with the buffer right before an unreadable page."""
    if "count_zeros" not in getattr(module, "functions", ()):
        return fail("your C cell defines no function count_zeros",
                    "keep the signature size_t count_zeros(const char *buf, size_t n)")
    cases = []
    for k, buf in enumerate(count_zeros_cases()):
        shown = repr(buf) if k < _N_SHOWN else f"<a {len(buf)}-byte buffer the book does not show>"
        cases.append(Case(args=(buf,), expected=buf.count(0), label=f"count_zeros({shown}, {len(buf)})",
                          hint=_count_hint(buf)))
    return check(functools.partial(_count_guarded, module.modname, module.path), cases, isolate=True,
                 name="count_zeros", hints={"crash": _PAST_THE_END,
                                            "timeout": "count_zeros did not return: does your loop stop at n?"})


# --------------------------------------------------------------------------- exercise 2: chunk_size
CHUNK_REQUESTS = (0, 1, 8, 24, 25, 40, 41, 100, 1000, 4000)


def chunk_size_requests(rng: random.Random | None = None) -> list:
    """The book's requests, then requests it does not show (new ones on every check)."""
    rng = rng or random.Random()
    extra = {23, 56, 57, 1032, 1033}
    while len(extra) < 10:                    # always ten more, so the verdict's count is fixed
        n = rng.randrange(2, 60_000)
        if n not in CHUNK_REQUESTS:
            extra.add(n)
    return [*CHUNK_REQUESTS, *sorted(extra)]


# glibc's defaults for a measurement, whatever the notebook's environment holds: an empty
# GLIBC_TUNABLES sets no tunable (glibc-2.36 elf/dl-tunables.c:291-297 parses the value, and an
# empty one has no name=value in it; glibc-2.42 dl-tunables.c:185 returns at once for ""), and an
# empty LD_PRELOAD keeps glibc's malloc. The old MALLOC_*_ variables are aliases of tunables
# (glibc-2.36 elf/dl-tunables.list:39-77) and an empty one reads as 0 (tunable_initialize,
# dl-tunables.c:143-152), so the two that decide whether a block is mmapped are set to glibc's
# defaults instead, and only when the notebook set them (DEFAULT_MMAP_THRESHOLD_MIN 128 KiB and
# DEFAULT_MMAP_MAX 65536, glibc-2.36 malloc/malloc.c:961 and 1088). A chunk's size does not depend
# on the other malloc tunables.
DEFAULTS_ENV = {"GLIBC_TUNABLES": "", "LD_PRELOAD": ""}
_ALIAS_DEFAULTS = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_MMAP_MAX_": "65536"}


def defaults_env() -> dict:
    """The ``env=`` of a run that must see glibc's default malloc (``DEFAULTS_ENV``, plus glibc's
    defaults for the ``MALLOC_MMAP_*_`` variables the notebook set)."""
    return {**DEFAULTS_ENV, **{k: v for k, v in _ALIAS_DEFAULTS.items() if k in os.environ}}


def measure_chunk_sizes(requests) -> dict:
    """{n: the chunk glibc uses for malloc(n)}, measured in a fresh process (chunk_sizes.c) with
    glibc's defaults (``defaults_env()``); RuntimeError when what it read is not a chunk size."""
    exe = build_program([ROOT / "native_examples" / "00_start_here" / "chunk_sizes.c"])
    r = run_program([str(exe), *map(str, requests)], timeout=30, env=defaults_env())
    if not r.ok:
        raise RuntimeError(f"chunk_sizes failed: {r}\n{r.stderr[-500:]}")
    sizes = dict(tuple(map(int, line.split())) for line in r.stdout.splitlines())
    odd = [n for n in requests if sizes.get(n, 0) % 16 or sizes.get(n, 0) < max(32, n + 8)]
    if odd:
        raise RuntimeError(f"chunk_sizes read {sizes.get(odd[0])} for malloc({odd[0]}), not a chunk of "
                           f"glibc's malloc: is another allocator preloaded?")
    return sizes


# ------------------------------------------------------------ a double free the glibc version decides
NO_TCACHE_ENV = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0", "LD_PRELOAD": ""}


def running_glibc() -> tuple:
    """The running glibc's version, e.g. (2, 36) (``confstr``); (0, 0) when it is not glibc."""
    m = re.match(r"glibc (\d+)\.(\d+)", os.confstr("CS_GNU_LIBC_VERSION") or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def as_its_glibc_does(run) -> str:
    """One line that reads the same on every glibc: did ``double_free fastbin`` (free(a), free(b),
    free(a) with the tcache off) end as the running glibc's version makes it end? glibc 2.43 and
    later abort ("double free or corruption (!prev)"); up to 2.42 the fastbin's check misses it
    and ``a`` is handed out twice (double_free.c says why, with the sources)."""
    if running_glibc() >= (2, 43):
        did = run.signal == "SIGABRT" and "double free" in run.stderr
    else:
        did = run.ok and "same memory? yes" in run.stdout
    return ("this glibc did what its version does (2.43 and later: abort; up to 2.42: a handed "
            f"out twice): {did}")


_MEASURE = ("the check runs chunk_size where it may not start programs or load C (ctypes, cffi): "
            "write the rule that computes the size from n, do not measure it")


@exercise(error_hint="define chunk_size(n) with def, returning an int")
@_guarded
def check_chunk_size(fn):
    """Exercise 2: fn(n) is the size of the chunk glibc uses for malloc(n), for the book's requests
    and for others measured now in a fresh process. fn runs sandboxed: no programs, no ctypes."""
    if holds_c(fn):
        return fail("chunk_size uses C (a C module, cffi or ctypes): " + _MEASURE.split(": ", 1)[1],
                    "compute the size from n with arithmetic only")
    requests = chunk_size_requests()
    real = measure_chunk_sizes(requests)
    cases = [Case(args=(n,), expected=real[n],
                  hint="a chunk holds the request plus its 8-byte size field, is a multiple of 16, "
                       "and is at least 32") for n in requests]
    return check(sandboxed(fn, _MEASURE), cases, isolate=True, name="chunk_size",
                 hints={"error": "compute the size from n with a rule that works for every request, "
                                 "not only the ones the book shows"})



class _Module(types.ModuleType):
    """This module, refusing a cell's ``start_here.NAME = ...`` for a name it defines."""

    def __setattr__(self, name, value):
        if name in _OWN_NAMES:
            raise AttributeError(f"{self.__name__}.{name} belongs to the lesson's checks: a cell may not "
                                 "replace it (answer in the solution cell instead)")
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if name in _OWN_NAMES:
            raise AttributeError(f"{self.__name__}.{name} belongs to the lesson's checks: a cell may not delete it")
        super().__delattr__(name)


_snapshot()                                   # last: every name above is the check's own
sys.modules[__name__].__class__ = _Module
