"""The ``%%cffi`` cell magic: ordinary C in a notebook cell, callable from Python.

    %%cffi [NAME] [-l LIB]... [-L DIR]... [-I DIR]... [--cflags "..."] [--ldflags "..."]
           [--mimalloc static|dynamic] [--cdef "..."] [--file PATH]... [--isolate [--timeout S]]

Binds NAME (default ``c``) to the built ``CModule``. A compile error prints
gcc's diagnostics with the cell's line numbers and no Python traceback; the
kernel stays as it was (an earlier ``c`` keeps working).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from .cbuild import CompileError, build_c

_parser = argparse.ArgumentParser(prog="%%cffi", add_help=False, exit_on_error=False)
_parser.add_argument("name", nargs="?", default="c")
_parser.add_argument("-l", dest="libraries", action="append", default=[])
_parser.add_argument("-L", dest="library_dirs", action="append", default=[])
_parser.add_argument("-I", dest="include_dirs", action="append", default=[])
_parser.add_argument("--cflags", default="")
_parser.add_argument("--ldflags", default="")
_parser.add_argument("--mimalloc", choices=["static", "dynamic"])
_parser.add_argument("--cdef", default="")
_parser.add_argument("--file", dest="files", action="append", default=[])
_parser.add_argument("--quiet", action="store_true", help="do not print warnings and notes")
_parser.add_argument("--isolate", action="store_true",
                     help="run every call of the cell's functions in an isolated child (a crash raises)")
_parser.add_argument("--timeout", type=float, default=10.0, help="seconds an isolated call may take")


class UsageError(CompileError):
    pass


def cffi_magic(line: str, cell: str, namespace: dict):
    """Build ``cell`` and bind it in ``namespace``; return nothing (the binding is the effect)."""
    tokens, args = shlex.split(line), []
    while tokens:                     # "--cflags -O2": a value that looks like an option
        t = tokens.pop(0)
        if t in ("--cflags", "--ldflags", "--cdef") and tokens:
            t = f"{t}={tokens.pop(0)}"
        args.append(t)
    try:
        opts, unknown = _parser.parse_known_args(args)
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"%%cffi: {exc}\nusage: {_parser.format_usage()[7:]}") from None
    if unknown:
        raise UsageError(f"%%cffi: unknown option(s) {' '.join(unknown)}\n"
                         f"usage: {_parser.format_usage()[7:]}")
    if not opts.name.isidentifier():
        raise UsageError(f"%%cffi: {opts.name!r} is not a Python name")
    mod = build_c(cell, libraries=opts.libraries, library_dirs=opts.library_dirs,
                  include_dirs=opts.include_dirs, cflags=shlex.split(opts.cflags),
                  ldflags=shlex.split(opts.ldflags), mimalloc=opts.mimalloc, cdef=opts.cdef,
                  files=opts.files, line_offset=1, isolate=opts.isolate)
    mod.timeout = opts.timeout
    namespace[opts.name] = mod
    if not opts.quiet:
        if mod.warnings:
            print(mod.warnings, file=sys.stderr)
        for note in mod.notes:
            print("note:", note, file=sys.stderr)
    return None


def register(ipython) -> None:
    def _magic(line, cell):
        return cffi_magic(line, cell, ipython.user_ns)
    _magic.__doc__ = __doc__
    ipython.register_magic_function(_magic, magic_kind="cell", magic_name="cffi")
