"""C in a cell: compile ordinary C with cffi (API mode) and load it into the kernel.

How a build goes, and why:

1. ``gcc -fsyntax-only -aux-info`` parses the C once. Its diagnostics name the
   cell's own line numbers, and its prototype list tells us every non-static
   function, so the learner never writes declarations twice.
2. Top-level ``struct``/``union``/``enum``/``typedef`` definitions and integer
   ``#define`` s of the cell (and of local headers it includes) are copied into
   cffi's ``cdef`` so Python can use those types; anything cffi cannot parse is
   left out with a note, never a failure.
3. cffi generates the extension's C (``emit_c_code``); we call gcc on it directly
   (no setuptools: it costs more than the compile itself). The first ~580 lines of
   that C are the same for every cell (Python.h and cffi's helpers): gcc reads them
   from a precompiled header built once per machine, in the background, at the first
   cell (``precompiled_prologue``), which takes about a third off every later build.
   Until it exists, or when a cell's flags make gcc refuse it, gcc reads the same
   lines as text: the module is the same either way.
4. A compiled extension cannot be reloaded under the same name, so the module
   name is a hash of everything that affects the build: source, extra files,
   declarations, flags, the content of local headers, and the cffi, Python and
   gcc versions. An unchanged cell is a cache hit (memory or disk); an edited
   cell gets a new name and so always runs the new code.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cffi
from cffi.recompiler import make_c_source

from .toolchain import ROOT, cache_dir, mimalloc as _mimalloc_files, tool_path as _tool_path

__all__ = ["BUILD_VERSION", "DEFAULT_CFLAGS", "BuildFailed", "CModule", "CompileError", "LinkError",
           "Recipe", "build_c", "build_c_file", "build_program", "compiler_version", "load_module",
           "make_recipe", "precompiled_prologue"]

BUILD_VERSION = "3"          # bump when what a Recipe means changes
DEFAULT_CFLAGS = ("-O0", "-g", "-Wall")   # -O0: the lessons' bugs must not be optimised away
CELL_NAME = "cell.c"


class CompileError(Exception):
    """The C did not compile or link. ``str(err)`` is gcc's diagnostics, mapped to the cell."""

    def __init__(self, message: str, diagnostics: str = ""):
        super().__init__(message)
        self.diagnostics = diagnostics

    def _render_traceback_(self):   # IPython shows this instead of a Python traceback
        return [str(self)]


class LinkError(CompileError):
    """The module compiled but a symbol it uses is defined nowhere."""


@dataclass
class CModule:
    """A compiled cell: call its C functions as attributes (``c.add(1, 2)``)."""

    ffi: object
    lib: object
    modname: str
    path: str
    functions: tuple[str, ...]
    warnings: str = ""
    notes: list[str] = field(default_factory=list)
    cached: bool = False
    isolated: bool = False         # c.f(...) runs in an isolated child (build_c(isolate=True))
    timeout: float = 10.0          # for isolated calls
    not_done: bool = False         # built from an exercise's stub (a LAB_NOT_DONE(); line)

    def __getattr__(self, name):
        if name.startswith("__") or name == "direct_lib":
            raise AttributeError(name)
        try:
            fn = getattr(self.direct_lib if self.isolated else self.lib, name)
        except AttributeError:
            raise AttributeError(
                f"the C module has no callable {name!r}; it has: {', '.join(self.functions) or 'none'}"
                " (static functions are private to the C file)") from None
        if name not in self.functions:
            return fn                      # a global variable or a constant
        return _call_wrapper(self, name, fn)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.functions))

    def __repr__(self):
        return f"<C module: {', '.join(self.functions) or 'no functions'}>"


class BuildFailed:
    """What ``%%cffi NAME`` binds to NAME when the cell does not build: checks refuse it
    ("your cell did not build") instead of grading the module an earlier version of the cell
    left behind, while the learner's own cells can still use that earlier module (nothing
    lost); with none, using it raises the build's error again."""
    build_failed = True

    def __init__(self, name: str, error: CompileError, previous=None):
        self.name, self.error, self.previous = name, error, previous

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if self.previous is not None:
            return getattr(self.previous, attr)
        raise CompileError(f"the %%cffi cell that makes {self.name!r} did not build; fix it and run it "
                           f"again:\n{self.error}", getattr(self.error, "diagnostics", ""))

    def __dir__(self):
        return dir(self.previous) if self.previous is not None else []

    def __repr__(self):
        return (f"<{self.name}: the cell did not build"
                f"{'; the previous build is still callable' if self.previous is not None else ''}>")


def _direct(module, name, fn):
    return fn


_call_wrapper = _direct     # labsupport.calls installs the real one: isolated or guarded calls


def set_call_wrapper(wrapper) -> None:
    """How ``c.f`` is called: ``wrapper(module, name, fn)`` returns the callable. Set once by
    ``labsupport.calls`` (the running layer: isolated children, the last-word guard), so that
    building a module never imports the code that runs it."""
    global _call_wrapper
    _call_wrapper = wrapper


class _RefusingLib:
    """``c.lib`` of an isolated module: its functions would run in the kernel, outside the isolation
    the cell asked for, so calling one through ``c.lib`` is refused with the way to do it."""

    def __init__(self, module: CModule):
        self._module = module

    def __getattr__(self, name):
        value = getattr(self._module.direct_lib, name)
        if name in self._module.functions:
            raise AttributeError(
                f"c.lib.{name} would run in the notebook's own process, not in the isolated child this "
                f"module was built for (--isolate): call c.{name}(...) instead, or, to pass pointers "
                f"knowing that a crash then kills the kernel, c.direct_lib.{name}(...)")
        return value

    def __dir__(self):
        return dir(self._module.direct_lib)


# --------------------------------------------------------------------------- helpers

_version_cache: dict[tuple[str, ...], str] = {}


def _build_env(extra: dict | None = None) -> dict:
    """The environment of a compiler run, read now (not frozen at import): the kernel's
    current variables, LC_ALL=C for ASCII quotes in diagnostics whatever the locale."""
    return {**os.environ, "LC_ALL": "C", **(extra or {})}


def _gcc() -> str:
    gcc = os.environ.get("CC") or _tool_path("gcc")
    if not gcc:
        from .toolchain import missing
        raise CompileError(missing("gcc"))
    return gcc


def compiler_version(compiler) -> str:
    """The compiler's own version line (gcc, MinGW's gcc, zig cc ...), cached per process;
    part of every cache key, so a new compiler rebuilds everything."""
    argv = (compiler,) if isinstance(compiler, str) else tuple(compiler)
    if argv not in _version_cache:
        try:
            out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=120,
                                 env=_build_env(), stdin=subprocess.DEVNULL)
            text = (out.stdout or out.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            text = f"unknown ({exc})"
        _version_cache[argv] = text.splitlines()[0] if text else "unknown"
    return _version_cache[argv]


@dataclass(frozen=True)
class Recipe:
    """One build, described by everything that decides what it produces.

    ``build_c`` (a cffi module), ``build_program`` (a program or library, any
    compiler) and lesson 08's WebAssembly build each make one; ``key()`` hashes
    every field, so an edit to a source, a local header, a flag or the compiler
    (its version included) gives a new key and a rebuild, and nothing else does.
    """
    kind: str                                   # "cffi", "program", "wasm"
    compiler: tuple[str, ...]                   # argv prefix, e.g. ("gcc",) or zig's
    compiler_version: str
    sources: tuple[tuple[str, str], ...]        # (path, text); a cell is ("<cell>", text)
    headers: tuple[tuple[str, str], ...]        # local headers reached by quoted #includes
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    library_dirs: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    link_inputs: tuple[str, ...] = ()           # archives or objects linked in (libmimalloc.a)
    extra: tuple[tuple[str, str], ...] = ()     # what else decides the output (cdef, target...)

    def key(self, length: int = 20) -> str:
        from dataclasses import asdict
        text = json.dumps({"v": BUILD_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:length]


def make_recipe(kind: str, compiler, sources, *, search=(), cflags=(), ldflags=(), libraries=(),
                library_dirs=(), include_dirs=(), link_inputs=(), extra=None) -> Recipe:
    """A ``Recipe`` with the sources' texts and local headers read now.

    sources: paths, or ``(name, text)`` pairs for text that is not a file (a cell).
    search: folders where quoted #includes are looked up (after each file's own).
    """
    argv = (compiler,) if isinstance(compiler, str) else tuple(compiler)
    texts, headers = [], {}
    for src in sources:
        if isinstance(src, tuple):
            name, text, own = src[0], src[1], []
        else:
            path = Path(src)
            name, text, own = str(path), path.read_text(errors="replace"), [path.parent]
        texts.append((name, text))
        _local_headers(text, [*own, *map(Path, search)], headers)
    return Recipe(kind=kind, compiler=argv, compiler_version=compiler_version(argv),
                  sources=tuple(texts), headers=tuple(sorted(headers.items())),
                  cflags=tuple(map(str, cflags)), ldflags=tuple(map(str, ldflags)),
                  libraries=tuple(libraries), library_dirs=tuple(map(str, library_dirs)),
                  include_dirs=tuple(map(str, include_dirs)), link_inputs=tuple(map(str, link_inputs)),
                  extra=tuple(sorted((k, str(v)) for k, v in (extra or {}).items())))


_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def _local_headers(text: str, search: list[Path], seen: dict[str, str]) -> None:
    """Find quoted #includes (recursively) and record path -> content, for the cache key."""
    for name in _QUOTED_INCLUDE.findall(text):
        for d in search:
            cand = (d / name).resolve()
            if cand.is_file():
                if str(cand) not in seen:
                    content = cand.read_text(errors="replace")
                    seen[str(cand)] = content
                    _local_headers(content, [cand.parent, *search], seen)
                break


def _strip_comments(text: str) -> str:
    """Remove C comments and string/char literal contents (keeps line structure)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


_INT_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(\(?-?(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*\)?)\s*$", re.M)


_ANY_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)[ \t]+(.+?)\s*$", re.M)
_INT_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|<<|>>|[-+~*/%|&^()]|[A-Za-z_]\w*)")


def _integer_expression_defines(text: str, known: set[str]) -> list[str]:
    """``#define NAME (1 << 5)``-style macros: an integer expression of literals,
    operators and integer macros already known. cffi is told ``#define NAME ...``
    and asks the compiler for the value."""
    out = []
    for m in _ANY_DEFINE.finditer(text):
        name, expr = m.group(1), m.group(2)
        if name in known or "(" == text[m.start(1) + len(name):m.start(1) + len(name) + 1]:
            continue
        pos, ok, has_op = 0, True, False
        while pos < len(expr):
            t = _INT_TOKEN.match(expr, pos)
            if not t:
                ok = False
                break
            tok = t.group(1)
            if (tok[0].isalpha() or tok[0] == "_") and tok not in known:
                ok = False
                break
            has_op |= not tok[0].isdigit()
            pos = t.end()
        if ok and has_op and expr.strip():
            out.append(f"#define {name} ...")
            known.add(name)
    return out


def type_declarations(text: str) -> list[str]:
    """Top-level struct/union/enum/typedef declarations and integer #defines of C text.

    A small scanner, not a C parser: it splits the file into top-level
    statements by braces and semicolons and keeps the type declarations.
    """
    text = _strip_comments(text)
    decls = [f"#define {m.group(1)} {m.group(2).strip('()').rstrip('uUlL')}"
             for m in _INT_DEFINE.finditer(text)]
    decls += _integer_expression_defines(text, {d.split()[1] for d in decls})
    body = "\n".join("" if line.lstrip().startswith("#") else line for line in text.splitlines())
    depth, start = 0, 0
    for i, c in enumerate(body):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                stmt = body[start:i + 1].strip()
                head = stmt.split("{", 1)[0]
                if "(" in head and not re.match(r"(typedef|struct|union|enum)\b", stmt):
                    start = i + 1      # a function definition: skip it
        elif c == ";" and depth == 0:
            stmt = " ".join(body[start:i + 1].split())
            start = i + 1
            if re.match(r"(typedef|struct|union|enum)\b", stmt) and (
                    stmt.startswith("typedef") or "{" in stmt):
                decls.append(stmt)
    return decls


_LINE_MARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"')


def _marked_files(preprocessed: str) -> set[str]:
    """Every file named by the line markers of ``gcc -E`` output."""
    return {m.group(2) for m in map(_LINE_MARKER.match, preprocessed.splitlines()) if m}


def _local_part(preprocessed: str, local: set[str]) -> str:
    """The lines of ``gcc -E`` output that came from the cell or a local file (by line markers)."""
    out, keep = [], False
    for line in preprocessed.splitlines():
        m = _LINE_MARKER.match(line)
        if m:
            name = m.group(2)
            keep = os.path.basename(name) == CELL_NAME or os.path.realpath(name) in local
            continue
        if keep:
            out.append(line)
    return "\n".join(out)


_LAYOUT = "__lab_layout__"      # stands where a packed/aligned attribute was


def _balanced_end(text: str, i: int) -> int:
    """Index just past the parenthesised group starting at text[i] == '('."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


_EXTENSION = re.compile(r"\b(__attribute__|__attribute|__asm__|__asm|asm|__declspec|_Alignas|__typeof__)\s*(?=\()")
_DROP = re.compile(r"\b(__extension__|__restrict__|__restrict|__inline__|__inline|inline|_Noreturn|"
                   r"__thread|_Thread_local)\b")
_RENAME = {"__const": "const", "__signed__": "signed", "__volatile__": "volatile", "__signed": "signed"}


def strip_gcc_extensions(text: str) -> str:
    """What cffi's parser does not accept, removed or translated: attributes (a packed or
    aligned one leaves a marker so the layout is taken from the compiler), inline asm
    labels, __extension__, __restrict, inline, _Noreturn."""
    out, i = [], 0
    while True:
        m = _EXTENSION.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i:m.start()])
        end = _balanced_end(text, text.index("(", m.end()))
        group = text[m.start():end]
        if m.group(1).startswith("__attribute") and ("packed" in group or "aligned" in group):
            out.append(f" {_LAYOUT} ")
        elif m.group(1) == "_Alignas":
            out.append(f" {_LAYOUT} ")
        i = end
    text = _DROP.sub(" ", "".join(out))
    return re.sub(r"\b(" + "|".join(_RENAME) + r")\b", lambda m: _RENAME[m.group(1)], text)


def _compiler_layout(decl: str) -> str:
    """A struct/union whose layout attributes were stripped: end its body with "...;" so
    cffi takes the layout (offsets, size) from the compiler instead of computing it."""
    if _LAYOUT not in decl:
        return decl
    decl = " ".join(decl.replace(_LAYOUT, " ").split())
    close = decl.rfind("}")
    if close < 0 or not re.search(r"\b(struct|union)\b", decl[:decl.find("{") + 1] if "{" in decl else ""):
        return decl
    return decl[:close].rstrip() + " ...; " + decl[close:]


def _declarations_seen_by_compiler(pre_texts: list[str], local: set[str], raw_texts: list[str],
                                   api_texts: list[str]) -> list[str]:
    """Types (struct/union/enum/typedef) declared in the cell and local files, from the
    preprocessed text (macros expanded, extern "C" guards gone), and integer #defines
    from their raw text."""
    decls: list[str] = []
    for text in [*raw_texts, *api_texts]:
        decls += [d for d in type_declarations(_only_defines(text)) if d not in decls]
    for text in pre_texts:
        part = strip_gcc_extensions(_local_part(text, local))
        for d in type_declarations(part):
            d = _compiler_layout(d)
            if d not in decls:
                decls.append(d)
    return decls


def _only_defines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))


_AUX_LINE = re.compile(r"^/\* (?P<file>.+?):(?P<line>\d+):(?P<kind>[NO][CF]) \*/ (?P<decl>.*?;)")


def _prototypes(aux_text: str, local_files: set[str]) -> list[tuple[str, str]]:
    """(name, prototype) of non-static functions declared in the cell or local headers."""
    protos, seen = [], set()
    for line in aux_text.splitlines():
        m = _AUX_LINE.match(line)
        if not m:
            continue
        fname = m.group("file")
        if os.path.basename(fname) != CELL_NAME and os.path.realpath(fname) not in local_files:
            continue
        decl = m.group("decl")
        if decl.startswith("static "):
            continue
        decl = re.sub(r"^extern\s+", "", decl)
        nm = re.search(r"(\w+)\s*\((?!\*)", decl)
        if nm and nm.group(1) not in seen:
            seen.add(nm.group(1))
            protos.append((nm.group(1), decl))
    return protos


def _map_diagnostics(text: str, build_dir: str, line_offset: int) -> str:
    """Rewrite gcc's messages so they point at the cell's lines, without temp paths."""
    def fix(m):
        return f"cell line {int(m.group(1)) + line_offset}:{m.group(2)}"
    text = text.replace(build_dir + os.sep, "").replace(f"{CELL_NAME}: ", "")
    text = re.sub(r"(?<![\w/])" + re.escape(CELL_NAME) + r":(\d+):(\d+:)?",
                  lambda m: fix(m) if m.group(2) else f"cell line {int(m.group(1)) + line_offset}:", text)
    # gcc's source excerpts number the lines too ("    3 |   x = y"): shift them
    if line_offset:
        text = re.sub(r"^(\s*)(\d+)( \| )", lambda m: f"{m.group(1)}{int(m.group(2)) + line_offset}{m.group(3)}",
                      text, flags=re.M)
    return text.strip()


def _cdef_that_parses(decls: list[str], notes: list[str]) -> tuple[str, "cffi.FFI"]:
    """Join declarations, dropping (with a note) those cffi cannot parse; with the FFI that
    parsed them (pycparser is a fifth of a build with a library's header: parse once)."""
    try:
        ffi = cffi.FFI()
        ffi.cdef("\n".join(decls))
        return "\n".join(decls), ffi
    except Exception:
        pass
    accepted: list[str] = []
    for d in decls:
        trial = [*accepted, d]
        try:
            cffi.FFI().cdef("\n".join(trial))
            accepted.append(d)
            continue
        except Exception as exc:
            err = str(exc).splitlines()[0]
        m = re.match(r"(?:typedef\s+)?(struct|union)\s+(\w+)?", d)
        fallback = None
        if d.startswith("typedef") and re.search(r"}\s*(\w+)\s*;$", d):
            name = re.search(r"}\s*(\w+)\s*;$", d).group(1)
            fallback = f"typedef {m.group(1) if m else 'struct'} {{ ...; }} {name};" if m else f"typedef ... {name};"
        elif m and m.group(2):
            fallback = f"{m.group(1)} {m.group(2)} {{ ...; }};"
        if fallback:
            try:
                cffi.FFI().cdef("\n".join([*accepted, fallback]))
                accepted.append(fallback)
                notes.append(f"declared as opaque (fields not visible from Python): {d[:60]}  [{err}]")
                continue
            except Exception:
                pass
        notes.append(f"not visible from Python (pass it with --cdef): {d[:70]}  [{err}]")
    ffi = cffi.FFI()
    ffi.cdef("\n".join(accepted))
    return "\n".join(accepted), ffi


def _error_kind(diag: str) -> type:
    """LinkError when the compiler's messages are the linker's, else CompileError."""
    linking = ("undefined reference" in diag or "cannot find -l" in diag or "undefined symbol" in diag
               or " ld:" in diag or "/ld: " in diag or "collect2" in diag)
    return LinkError if linking else CompileError


def load_module(modname: str, path: str):
    """Import a built cffi module once per process (a module cannot be reloaded)."""
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules[modname] = mod
    return mod


_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
_meta_cache: dict[str, dict] = {}


# --------------------------------------------------------------------------- public


def _resolve(base: Path, path) -> str:
    """A path as the cell wrote it, relative to the notebook's folder; a lesson's relative path
    (``../native_examples/...``) that does not exist there, say in a copy of the lesson put in an
    nbgrader course folder, is taken relative to the course's own ``notebooks/``."""
    here = (base / path).resolve()
    if not here.exists() and not Path(path).is_absolute():
        book = (ROOT / "notebooks" / path).resolve()
        if book.exists():
            return str(book)
    return str(here)


NOT_DONE_LINE = "LAB_NOT_DONE();"         # a working copy's C stub: removed before compiling
NBGRADER_STUB_LINE = "raise NotImplementedError()"   # nbgrader's stub, inside a C comment in a released cell


def build_c(source: str, *, isolate: bool = False, **kwargs) -> CModule:
    """Compile C source with cffi (API mode) and return a loaded ``CModule``.

    isolate: every call of a function of the module (``c.f(...)``) runs in an
    isolated child (``run_c``): a crash raises ``IsolatedCallError`` naming the
    signal and the allocator's message, and the kernel lives on. Arguments and
    results must then be plain values (ints, floats, bytes); a pointer into the
    kernel's memory cannot cross into the child. ``c.lib.f`` is then refused with a message;
    ``c.direct_lib.f`` is the direct call, for pointers, at the kernel's risk.
    A line ``LAB_NOT_DONE();`` (an exercise stub) is removed before compiling and marks the
    module ``not_done`` (so is a cell still holding nbgrader's stub inside a comment).
    Other arguments: see ``_build_module``.
    """
    lines = source.split("\n")
    stub = [i for i, line in enumerate(lines) if line.strip() == NOT_DONE_LINE]
    for i in stub:
        lines[i] = ""                      # keep the line numbers of the diagnostics
    mod = _build_module("\n".join(lines), **kwargs)
    mod.not_done = bool(stub) or any(line.strip() == NBGRADER_STUB_LINE for line in lines)
    if isolate:
        mod.isolated = True
        mod.direct_lib, mod.lib = mod.lib, _RefusingLib(mod)
    return mod


def _build_module(source: str, *, libraries=(), library_dirs=(), include_dirs=(), cflags=(),
                  ldflags=(), mimalloc: str | None = None, cdef: str = "", files=(),
                  line_offset: int = 0, base_dir: str | os.PathLike | None = None,
                  headers=()) -> CModule:
    """Compile C source with cffi (API mode) and return a loaded ``CModule``.

    libraries/library_dirs/include_dirs: as for gcc's ``-l``/``-L``/``-I``.
    cflags/ldflags: extra compiler/linker flags (after the defaults ``-O0 -g -Wall``).
    mimalloc: ``"static"`` links the wheel's ``libmimalloc.a`` into the module,
    ``"dynamic"`` links ``libmimalloc.so`` (with an rpath); both add its headers.
    cdef: extra declarations for cffi (for what the automatic scan cannot see).
    files: more C files compiled into the same module.
    line_offset: added to line numbers in diagnostics (the magic passes 1 for its own line).
    base_dir: where relative include dirs and quoted includes are resolved (default: cwd).
    headers: installed headers whose API becomes callable, e.g. ``["cjson/cJSON.h"]`` with
    ``libraries=["cjson"]``: their functions, types and integer macros are declared to
    cffi as the compiler sees them (no declarations written twice).
    """
    base = Path(base_dir or os.getcwd()).resolve()
    api_headers = [h.strip().strip("<>\"") for h in headers]
    if api_headers:
        source = "".join(f"#include <{h}>\n" for h in api_headers) + source
        line_offset -= len(api_headers)
    include_dirs = [_resolve(base, d) for d in include_dirs]
    library_dirs = [_resolve(base, d) for d in library_dirs]
    files = [_resolve(base, f) for f in files]
    libraries, cflags, ldflags = list(libraries), list(cflags), list(ldflags)
    link_inputs: list[str] = []
    if mimalloc:
        mi = _mimalloc_files()
        include_dirs.append(str(mi.include_dir))
        if mimalloc == "static":
            link_inputs.append(str(mi.static_lib))
            libraries.append("pthread")
        elif mimalloc == "dynamic":
            library_dirs.append(str(mi.lib_dir))
            libraries.append("mimalloc")
            ldflags.append(f"-Wl,-rpath,{mi.lib_dir}")
        else:
            raise ValueError("mimalloc must be None, 'static' or 'dynamic'")
    recipe = make_recipe("cffi", _gcc(), [("<cell>", source), *files], search=[base, *include_dirs],
                         cflags=cflags, ldflags=ldflags, libraries=libraries,
                         library_dirs=library_dirs, include_dirs=include_dirs,
                         link_inputs=link_inputs,
                         extra={"cdef": cdef, "cffi": cffi.__version__, "python": sys.version,
                                "base": base, "api_headers": "\n".join(api_headers)})
    modname = f"_labc_{recipe.key()}"
    out_dir = cache_dir() / "cffi"
    out_dir.mkdir(parents=True, exist_ok=True)
    so_path = out_dir / f"{modname}{_SUFFIX}"
    meta_path = out_dir / f"{modname}.json"

    if so_path.exists() and meta_path.exists():
        meta = _meta_cache.get(modname) or json.loads(meta_path.read_text())
        _meta_cache[modname] = meta
        mod = load_module(modname, str(so_path))
        return CModule(mod.ffi, mod.lib, modname, str(so_path), tuple(meta["functions"]),
                       meta["warnings"], meta["notes"], cached=True)

    build_dir = tempfile.mkdtemp(prefix=f"{modname}-", dir=out_dir)
    try:
        return _compile_module(recipe, modname, build_dir, so_path, meta_path, cdef, line_offset, base)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


_pch_jobs: dict[str, subprocess.Popen] = {}
_pch_failed: set[str] = set()


def _c_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def precompiled_prologue(gcc: str, prologue: str, py_inc: str, *, wait: bool = False) -> Path | None:
    """The header holding cffi's prologue, if gcc's precompiled form of it is ready.

    Every cell's generated C starts with the same lines (Python.h and cffi's helpers):
    parsing them is most of a small cell's compile. The first call starts gcc in the
    background to precompile them (``-x c-header``, the cells' own default flags; about
    2.5 s once, an 11 MB file in the course cache) and returns None, so that build reads
    them as text; later builds get the header's path, and gcc loads its ``.gch`` instead
    of parsing (gcc checks the flags itself and reads the text when they differ). Only for
    gcc (clang's precompiled headers work differently). ``wait=True`` builds it now.
    ``LABSUPPORT_PCH_DIR`` puts it elsewhere than the course cache (the tests share one).
    """
    if "gcc" not in compiler_version(gcc).lower() and "gcc" not in Path(gcc).name:
        return None
    key = hashlib.sha256("\0".join([compiler_version(gcc), py_inc, prologue, *DEFAULT_CFLAGS])
                         .encode()).hexdigest()[:16]
    where = Path(os.environ.get("LABSUPPORT_PCH_DIR") or cache_dir() / "pch") / key
    header, gch = where / "cffi_prologue.h", where / "cffi_prologue.h.gch"
    if gch.exists():
        return header
    if str(where) in _pch_failed:
        return None
    job = _pch_jobs.get(str(where))
    if job is None:
        where.mkdir(parents=True, exist_ok=True)
        if not header.exists():
            tmp = where / f"cffi_prologue.h.{os.getpid()}"
            tmp.write_text(prologue)
            os.replace(tmp, header)
        out = where / f"cffi_prologue.h.gch.{os.getpid()}"
        job = _pch_jobs[str(where)] = subprocess.Popen(
            [gcc, "-x", "c-header", "-fPIC", *DEFAULT_CFLAGS, "-w", f"-I{py_inc}", str(header),
             "-o", str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=_build_env(), cwd=where)
        job.out = out                                       # type: ignore[attr-defined]
    if wait:
        job.wait()
    if job.poll() is None:                                  # still building: text this time
        return None
    del _pch_jobs[str(where)]
    if job.returncode == 0 and job.out.exists():             # type: ignore[attr-defined]
        os.replace(job.out, gch)                              # type: ignore[attr-defined]
        return header
    job.out.unlink(missing_ok=True)                           # type: ignore[attr-defined]
    _pch_failed.add(str(where))                                    # never again in this process
    return None


def _compile_module(recipe: Recipe, modname, build_dir, so_path, meta_path, cdef, line_offset, base):
    """Build a cffi module from its recipe in ``build_dir``; install it at ``so_path``."""
    gcc = recipe.compiler[0]
    source = recipe.sources[0][1]
    files = [name for name, _ in recipe.sources[1:]]
    headers = dict(recipe.headers)
    cflags, ldflags = list(recipe.cflags), list(recipe.ldflags)
    libraries, library_dirs = list(recipe.libraries), list(recipe.library_dirs)
    include_dirs, link_inputs = list(recipe.include_dirs), list(recipe.link_inputs)
    cell = Path(build_dir, CELL_NAME)
    cell.write_text(source)
    inc = [f"-I{d}" for d in [str(base), *include_dirs]]
    # pass 1, per source: preprocess (the compiler's own view of every declaration),
    # then a syntax-only pass over that text for diagnostics with the cell's line numbers
    # and the list of prototypes (-aux-info)
    api = dict(recipe.extra).get("api_headers", "")
    api_headers = [h for h in api.split("\n") if h]
    notes: list[str] = []
    aux_texts, pre_texts = [], []
    for i, src in enumerate([str(cell), *files]):
        tu = Path(build_dir, f"tu{i}")        # -save-temps leaves the preprocessed text here
        tu.mkdir()
        aux_i = tu / "aux.txt"
        p = subprocess.run([gcc, "-fsyntax-only", "-save-temps", f"-aux-info={aux_i}", *DEFAULT_CFLAGS,
                            *inc, *cflags, src], capture_output=True, text=True, cwd=tu,
                           env=_build_env())
        diag = _map_diagnostics(p.stderr, build_dir, line_offset if i == 0 else 0)
        if p.returncode != 0:
            raise CompileError(f"C compile error:\n{diag}", diag)
        if diag:
            notes.append(diag)
        aux_texts.append(aux_i.read_text() if aux_i.exists() else "")
        pre_texts.append("\n".join(f.read_text(errors="replace") for f in tu.glob("*.i")))
    warnings = "\n".join(notes)
    notes = []
    local = {os.path.realpath(h) for h in headers} | {os.path.realpath(f) for f in files}
    local |= {os.path.realpath(f) for t in pre_texts for f in _marked_files(t)
              if any(f.endswith("/" + h) for h in api_headers)}
    protos = []
    for t in aux_texts:
        protos += [p for p in _prototypes(t, local) if p[0] not in {q[0] for q in protos}]
    type_decls = _declarations_seen_by_compiler(pre_texts, local, [source, *headers.values()],
                                                [Path(f).read_text(errors="replace")
                                                 for f in local if f.endswith(".h")])
    cdef_text, ffi = _cdef_that_parses(type_decls + [p for _, p in protos] + ([cdef] if cdef else []),
                                       notes)
    functions = tuple(n for n, p in protos if p in cdef_text)
    sentinel = "/* ---- end of the cell's C ---- */"
    gen = Path(build_dir, f"{modname}.c")
    cell_start = f'#line 1 "{CELL_NAME}"'
    make_c_source(ffi, modname, f'{cell_start}\n{source}\n{sentinel}\n', str(gen))
    full_text = gen.read_text()
    py_inc = sysconfig.get_paths()["include"]
    prologue, _, rest = full_text.partition(cell_start + "\n")
    pch = precompiled_prologue(gcc, prologue, py_inc) if rest else None
    if pch:                                  # the same C, its first part read precompiled
        full_text = f'#include "{_c_string(str(pch))}"\n{cell_start}\n{rest}'
    gen_lines = full_text.splitlines()
    idx = next(i for i, line in enumerate(gen_lines) if line == sentinel)
    gen_lines.insert(idx + 1, f'#line {idx + 3} "{gen.name}"')
    gen.write_text("\n".join(gen_lines) + "\n")
    # pass 2: the real compile, straight to gcc
    tmp_so = Path(build_dir, so_path.name)
    cmd = [gcc, "-shared", "-fPIC", *DEFAULT_CFLAGS, "-w", f"-I{py_inc}", *inc, *cflags,
           str(gen), *files, *link_inputs, "-o", str(tmp_so),
           *[f"-L{d}" for d in library_dirs], *[f"-l{lib}" for lib in libraries], *ldflags]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=build_dir, env=_build_env())
    if p.returncode != 0:
        diag = _map_diagnostics(p.stderr, build_dir, line_offset)
        if pch:                              # name the module's C, as when read as text
            diag = diag.replace(str(pch), gen.name)
        if "Python.h" in diag and "conflicting types" in diag:
            diag += ("\nHint: the cell is compiled together with Python.h, which declares the POSIX "
                     "functions above; give your function another name.")
        kind = _error_kind(diag)
        raise kind(f"C {'link' if kind is LinkError else 'compile'} error:\n{diag}", diag)
    try:
        mod = load_module(modname, str(tmp_so))
    except ImportError as exc:
        sys.modules.pop(modname, None)
        msg = str(exc).replace(str(tmp_so), "the cell's module")
        sym = re.search(r"undefined symbol: (\S+)", msg)
        if sym:
            raise LinkError(f"C link error: undefined symbol {sym.group(1)}\n"
                            f"The cell uses {sym.group(1)} but neither the cell nor a linked library "
                            f"defines it. Check the spelling, or link the library that has it (-l...).",
                            msg) from None
        raise LinkError(f"C module failed to load: {msg}", msg) from None
    os.replace(tmp_so, so_path)
    # the generated C, whole (the prologue as text), for the curious and the benchmarks
    Path(so_path.parent, f"{modname}.c").write_text(gen.read_text().replace(
        f'#include "{_c_string(str(pch))}"\n', prologue, 1) if pch else gen.read_text())
    meta = dict(functions=list(functions), warnings=warnings, notes=notes)
    meta_path.write_text(json.dumps(meta))
    _meta_cache[modname] = meta
    # the module was loaded from the build dir; it stays valid after the rename (same inode)
    return CModule(mod.ffi, mod.lib, modname, str(so_path), functions, warnings, notes)


def build_c_file(path: str | os.PathLike, **kwargs) -> CModule:
    """Build a C file (e.g. from native_examples/) like a cell; its folder is on the include path."""
    p = Path(path).resolve()
    kwargs.setdefault("base_dir", p.parent)
    return build_c(p.read_text(), **kwargs)


def build_program(sources, *, output: str | None = None, cflags=(), ldflags=(), libraries=(),
                  compiler=None, env: dict | None = None, default_cflags=DEFAULT_CFLAGS,
                  base_dir=None) -> Path:
    """Compile C files into an executable (or a library, with ``-shared`` in ldflags), cached.

    sources: C files (relative to base_dir). cflags go before the sources,
    ldflags and libraries after them, as a linker wants. compiler: another
    compiler, as a command name or an argv prefix (e.g. ``x86_64-w64-mingw32-gcc``,
    or zig's ``[python, -m, ziglang, cc, -target, x86_64-windows-gnu]``), run with
    ``env`` added to the environment. The output is cached by a hash of the
    sources, their local headers, the flags and the compiler; a failed build
    raises ``CompileError`` (or ``LinkError``) with the compiler's diagnostics.
    """
    base = Path(base_dir or os.getcwd()).resolve()
    srcs = [(base / s).resolve() for s in sources]
    cc = [compiler] if isinstance(compiler, str) else list(compiler or [_gcc()])
    recipe = make_recipe("program", cc, srcs, search=[base], cflags=cflags, ldflags=ldflags,
                         libraries=libraries,
                         extra={"output": output or "", "default_cflags": " ".join(default_cflags),
                                "env": json.dumps(env or {}, sort_keys=True)})
    digest = recipe.key(16)
    out_dir = cache_dir() / "programs" / digest
    target = out_dir / (output or srcs[0].stem)
    if target.exists():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"tmp{os.getpid()}-{target.name}"
    cmd = [*cc, *default_cflags, *map(str, cflags), *map(str, srcs), "-o", str(tmp),
           *map(str, ldflags), *[f"-l{x}" for x in libraries]]
    p = subprocess.run(cmd, capture_output=True, text=True, env=_build_env(env))
    if p.returncode != 0:
        diag = p.stderr.replace(str(base) + os.sep, "").strip()
        for s in srcs:
            diag = diag.replace(str(s.parent) + os.sep, "")
        kind = _error_kind(diag)
        raise kind(f"C build error:\n{diag}", diag)
    os.replace(tmp, target)
    return target
