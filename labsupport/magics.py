"""The ``%%cffi`` cell magic: ordinary C in a notebook cell, callable from Python.

    %%cffi [NAME] [-l LIB]... [-L DIR]... [-I DIR]... [--cflags "..."] [--ldflags "..."]
           [--mimalloc static|dynamic] [--cdef "..."] [--file PATH]... [--header H]... [--isolate [--timeout S]]

Binds NAME (default ``c``) to the built ``CModule``. With no C of your own, the line
form ``%cffi NAME --header H -l LIB`` binds a library's API. A compile error prints
gcc's diagnostics with the cell's line numbers and no Python traceback; the
kernel stays as it was (an earlier ``c`` keeps working).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from .cbuild import BuildFailed, CModule, CompileError, build_c

__all__ = ["UsageError", "cffi_magic", "register", "usage"]

_parser = argparse.ArgumentParser(prog="%%cffi", add_help=False, exit_on_error=False)
_parser.add_argument("name", nargs="?", default="c", help="the Python name the module is bound to (default c)")
_parser.add_argument("-l", dest="libraries", action="append", default=[], metavar="LIB",
                     help="link a library, as gcc -l (repeatable)")
_parser.add_argument("-L", dest="library_dirs", action="append", default=[], metavar="DIR",
                     help="where to look for libraries, as gcc -L (repeatable)")
_parser.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                     help="where to look for headers, as gcc -I (repeatable)")
_parser.add_argument("--cflags", default="", metavar='"..."', help="more compiler flags (after -O0 -g -Wall)")
_parser.add_argument("--ldflags", default="", metavar='"..."', help="more linker flags")
_parser.add_argument("--mimalloc", choices=["static", "dynamic"],
                     help="link mimalloc from the wheel: libmimalloc.a or libmimalloc.so")
_parser.add_argument("--cdef", default="", metavar='"..."',
                     help="extra declarations for cffi, for what the automatic scan cannot see")
_parser.add_argument("--file", dest="files", action="append", default=[], metavar="PATH",
                     help="another C file compiled into the same module (repeatable)")
_parser.add_argument("--header", dest="headers", action="append", default=[], metavar="H",
                     help="an installed header whose API becomes callable, e.g. cjson/cJSON.h with -l cjson")
_parser.add_argument("--quiet", action="store_true", help="do not print warnings and notes")
_parser.add_argument("--isolate", action="store_true",
                     help="run every call of the cell's functions in an isolated child (a crash raises)")
_parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                     help="seconds an isolated call may take (default 10)")


def usage() -> str:
    """The magic's usage, generated from each option's help string."""
    lines = ["usage: " + _parser.format_usage()[7:].strip()]
    for action in _parser._actions:
        flag = ", ".join(action.option_strings) or action.dest.upper()
        if action.metavar:
            flag += f" {action.metavar}"
        elif action.choices:
            flag += " {" + "|".join(action.choices) + "}"
        lines.append(f"  {flag:24} {action.help}")
    return "\n".join(lines)


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
        raise UsageError(f"%%cffi: {exc}\n{usage()}") from None
    if unknown:
        raise UsageError(f"%%cffi: unknown option(s) {' '.join(unknown)}\n{usage()}")
    if not opts.name.isidentifier():
        raise UsageError(f"%%cffi: {opts.name!r} is not a Python name")
    try:
        mod = build_c(cell, libraries=opts.libraries, library_dirs=opts.library_dirs,
                      include_dirs=opts.include_dirs, cflags=shlex.split(opts.cflags),
                      ldflags=shlex.split(opts.ldflags), mimalloc=opts.mimalloc, cdef=opts.cdef,
                      files=opts.files, line_offset=1, isolate=opts.isolate, headers=opts.headers)
    except CompileError as exc:       # the name no longer means the last version that built
        previous = namespace.get(opts.name)
        previous = getattr(previous, "previous", previous)
        namespace[opts.name] = BuildFailed(opts.name, exc, previous if isinstance(previous, CModule) else None)
        raise
    mod.timeout = opts.timeout
    namespace[opts.name] = mod
    if not opts.quiet:
        if mod.warnings:
            print(mod.warnings, file=sys.stderr)
        for note in mod.notes:
            print("note:", note, file=sys.stderr)
    return None


def register(ipython) -> None:
    def _magic(line, cell=None):
        return cffi_magic(line, cell or "", ipython.user_ns)
    _magic.__doc__ = __doc__ + "\n" + usage()
    # a line magic too: ``%cffi cj --header cjson/cJSON.h -l cjson`` (no C of your own) gives the
    # library's API; IPython refuses a %%cell magic with an empty body and suggests the line form
    ipython.register_magic_function(_magic, magic_kind="line_cell", magic_name="cffi")
