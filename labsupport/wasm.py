"""C compiled to WebAssembly in the kernel, run with wasmtime; node scripts run isolated.

Small and obvious on purpose (lesson 08); use it as ``from labsupport import wasm``.

- ``compile_wasm(source)`` / ``compile_wasm_file(path)`` build a ``.wasm`` with the
  ``ziglang`` wheel. zig's cache lives in ``cache_dir()/zig`` (or
  ``$LABSUPPORT_ZIG_CACHE``), so the one-off build of zig's wasi libc (~15 s) is
  paid once per machine. The module is cached in
  ``cache_dir()/wasm`` under a hash of the source, the local headers it includes,
  the flags and the zig version: an unchanged source is not recompiled.
- ``instantiate(path, memory_limit=...)`` gives a ``WasmInstance``: call exports as
  attributes (``m.obj_new(1024)``), read ``m.memory_pages`` and ``m.memory_bytes``.
  ``memory_limit`` caps linear memory through ``Store.set_limits``; when
  ``memory.grow`` is refused, malloc inside the module returns NULL.
- ``run_node(script, *args)`` runs a node script through ``run_program`` with a
  timeout (an exhausted WebAssembly context can hang), and raises ``MissingTool``
  naming what to install when node or an npm package is missing.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .cbuild import CompileError, make_recipe
from .toolchain import ROOT, MissingTool, cache_dir, missing, tool_path, zig_argv

__all__ = ["DEFAULT_FLAGS", "PAGE", "WASM_BUILD_VERSION", "WasmInstance", "compile_wasm", "compile_wasm_file",
           "instantiate", "last_json", "node_missing", "node_modules", "node_ready", "require_node",
           "run_node", "without_json", "zig_cache_dir", "zig_env", "zig_version"]

WASM_BUILD_VERSION = "1"     # bump when the recipe below changes
PAGE = 65536                 # bytes in a WebAssembly page

# A module that imports nothing: a "reactor" (no main; call _initialize first),
# a 64 KiB stack (the default 16 MiB stack would not fit a small cap), stripped.
DEFAULT_FLAGS = ("-O2", "-mexec-model=reactor", "-s", "-Wl,-z,stack-size=65536")


def zig_cache_dir() -> Path:
    """zig's cache: ``$LABSUPPORT_ZIG_CACHE`` if set, else ``cache_dir()/zig``.

    The override lets test runs with a throw-away ``LABSUPPORT_CACHE`` share one
    zig cache (its wasi libc is ~58 MB and ~15 s to build).
    """
    return Path(os.environ.get("LABSUPPORT_ZIG_CACHE") or cache_dir() / "zig")


def zig_env() -> dict[str, str]:
    """Environment variables that point zig's caches at the course cache."""
    d = str(zig_cache_dir())
    return {"ZIG_GLOBAL_CACHE_DIR": d, "ZIG_LOCAL_CACHE_DIR": d}


def _zig_argv() -> list[str]:
    return zig_argv()                    # found in one place: toolchain


@functools.lru_cache(maxsize=None)
def zig_version() -> str:
    """The version of the ziglang wheel's compiler, e.g. ``0.17.1``."""
    out = subprocess.run([*_zig_argv(), "version"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    return out.stdout.strip() or "?"


def compile_wasm(source: str, *, target: str = "wasm32-wasi", flags=DEFAULT_FLAGS,
                 cflags=(), max_memory: int | None = 16 * 2**20, name: str = "module",
                 include_dirs=(), timeout: float = 600) -> Path:
    """Compile C source to a WebAssembly module and return the path of the ``.wasm``.

    target: ``wasm32-wasi`` (zig's libc, malloc included) or ``wasm32-freestanding``.
    flags: the base recipe (see DEFAULT_FLAGS); cflags: added after it (``-DNAME``...).
    max_memory: the maximum linear memory the module declares (bytes, a multiple of
    64 KiB), or None for no declared maximum.
    A compile error raises ``CompileError`` carrying zig's diagnostics.
    """
    if max_memory is not None and max_memory % PAGE:
        raise ValueError(f"max_memory must be a multiple of {PAGE} bytes (one page)")
    include_dirs = [str(Path(d).resolve()) for d in include_dirs]
    argv_flags = ["-target", target, *flags, *cflags, *(f"-I{d}" for d in include_dirs)]
    if max_memory is not None:
        argv_flags.append(f"-Wl,--max-memory={max_memory}")
    # the same recipe and key as every other build (cbuild.Recipe); zig's version is in it
    recipe = make_recipe("wasm", [*_zig_argv(), "cc"], [("<cell>", source)],
                         search=[Path.cwd(), *include_dirs], cflags=argv_flags,
                         extra={"wasm_build": WASM_BUILD_VERSION, "zig": zig_version()})
    digest = recipe.key()
    out_dir = cache_dir() / "wasm"
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    out = out_dir / f"{safe}-{digest}.wasm"
    if out.exists():
        return out
    if target == "wasm32-wasi":
        from .warmstate import wait_for
        wait_for("zig-wasm")             # zig's wasi libc being prepared in the background?
    with tempfile.TemporaryDirectory(prefix="labwasm-", dir=out_dir) as tmp:
        src = Path(tmp) / f"{safe}.c"
        src.write_text(source)
        obj = Path(tmp) / "out.wasm"
        argv = [*_zig_argv(), "cc", *argv_flags, str(src), "-o", str(obj)]
        env = {**os.environ, **zig_env()}
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                                  stdin=subprocess.DEVNULL, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise CompileError(f"zig cc did not finish in {timeout:g} s") from None
        diag = (proc.stderr + proc.stdout).replace(str(src), f"{safe}.c").strip()
        if proc.returncode != 0 or not obj.exists():
            raise CompileError(diag or f"zig cc failed with exit code {proc.returncode}", diag)
        os.replace(obj, out)          # atomic: another kernel never sees half a file
    return out


def compile_wasm_file(path: str | os.PathLike, **kwargs) -> Path:
    """``compile_wasm`` on a C file (its folder is searched for quoted includes)."""
    path = Path(path)
    kwargs.setdefault("name", path.stem)
    kwargs["include_dirs"] = (path.parent.resolve(), *kwargs.get("include_dirs", ()))
    return compile_wasm(path.read_text(), **kwargs)


class WasmInstance:
    """One instance of a module in its own wasmtime Store.

    Exported functions are attributes: ``m.obj_new(4096)`` calls the export with
    this instance's store. A trap inside the module raises ``wasmtime.Trap``.
    """

    def __init__(self, path: str | os.PathLike, memory_limit: int | None = None,
                 initialize: bool = True):
        import wasmtime
        self.path = Path(path)
        self.engine = wasmtime.Engine()
        self.module = wasmtime.Module.from_file(self.engine, str(self.path))
        imports = [f"{i.module}.{i.name}" for i in self.module.imports]
        if imports:
            raise ValueError(f"{self.path.name} imports {', '.join(imports)}; "
                             "build it as a reactor that imports nothing (DEFAULT_FLAGS)")
        self.store = wasmtime.Store(self.engine)
        self.memory_limit = memory_limit
        if memory_limit is not None:
            self.store.set_limits(memory_size=int(memory_limit))
        self.instance = wasmtime.Instance(self.store, self.module, [])
        self.exports = {e.name: self.instance.exports(self.store)[e.name] for e in self.module.exports}
        self._memory = next((v for v in self.exports.values() if isinstance(v, wasmtime.Memory)), None)
        self.functions = tuple(k for k, v in self.exports.items() if isinstance(v, wasmtime.Func))
        if initialize and "_initialize" in self.exports:
            self.exports["_initialize"](self.store)

    def __getattr__(self, name):
        if name.startswith("_") and name != "_initialize":
            raise AttributeError(name)
        func = self.__dict__.get("exports", {}).get(name)
        if func is None:
            raise AttributeError(f"the module exports no {name!r}; functions: "
                                 f"{', '.join(self.__dict__.get('functions', ())) or 'none'}")
        return functools.partial(func, self.store)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.functions))

    @property
    def memory_pages(self) -> int:
        """Current size of the linear memory in 64 KiB pages."""
        return self._memory.size(self.store) if self._memory else 0

    @property
    def memory_bytes(self) -> int:
        return self.memory_pages * PAGE

    @property
    def max_pages(self) -> int | None:
        """The maximum the module itself declares (None: no declared maximum)."""
        return self._memory.type(self.store).limits.max if self._memory else None

    def read(self, offset: int, size: int) -> bytes:
        """Bytes of the linear memory (a copy)."""
        return bytes(self._memory.read(self.store, offset, offset + size))

    def __repr__(self):
        cap = f", limit {self.memory_limit // PAGE} pages" if self.memory_limit else ""
        return (f"<wasm instance of {self.path.name}: {len(self.functions)} functions, "
                f"memory {self.memory_pages} pages{cap}>")


def instantiate(path: str | os.PathLike, memory_limit: int | None = None,
                initialize: bool = True) -> WasmInstance:
    """A fresh instance of the module at ``path``; ``memory_limit`` caps linear memory (bytes)."""
    return WasmInstance(path, memory_limit=memory_limit, initialize=initialize)


# --------------------------------------------------------------------------- node

def node_modules() -> Path:
    """Where ``npm install`` (run in the course folder) puts the packages."""
    return ROOT / "node_modules"


def require_node(*packages: str) -> str:
    """Path of node; raise MissingTool naming what to install if node or a package is absent."""
    node = tool_path("node")
    if node is None:
        raise MissingTool(missing("node"))
    for pkg in packages:
        if not (node_modules() / pkg / "package.json").exists():
            tool = f"{pkg} (npm)"
            try:
                msg = missing(tool)
            except KeyError:
                msg = (f"the npm package {pkg} is not installed: run  npm install  in {ROOT}")
            raise MissingTool(f"{msg} (looked in {node_modules()})")
    return node


def node_ready(*packages: str) -> bool:
    """True when node (and the npm packages named) are installed."""
    try:
        require_node(*packages)
    except MissingTool:
        return False
    return True


def node_missing(*packages: str) -> str:
    """The message to print instead of running a node cell ('' when all is there)."""
    try:
        require_node(*packages)
    except MissingTool as exc:
        return str(exc)
    return ""


def run_node(script: str | os.PathLike, *args, expose_gc: bool = False, packages=(),
             timeout: float = 60, node_flags=(), cwd=None):
    """Run ``node [--expose-gc] script args...`` isolated, with a timeout; returns a RunResult.

    packages: npm packages the script imports (checked before running).
    Never pass a memory cap here: V8 and WebAssembly reserve far more address
    space than they use, so RLIMIT_AS would kill node for the wrong reason.
    """
    from .isolate import run_program
    node = require_node(*packages)
    script = Path(script).resolve()
    flags = [*(["--expose-gc"] if expose_gc else []), *node_flags]
    return run_program([node, *flags, str(script), *map(str, args)], timeout=timeout,
                       cwd=str(cwd or script.parent))


def last_json(text: str):
    """The last line of ``text`` that parses as JSON (how the node scripts report data)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def without_json(text: str) -> str:
    """``text`` without its JSON lines: what a person reads."""
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(("{", "[")))
