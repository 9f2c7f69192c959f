"""Configure and build a CMake project, cached, and show what CMake did without temp paths.

    b = lab.cmake_build(lab.example_path("06_static_vs_dynamic", "who"))
    b.ok, b.stage            # True, "done"  (or False, "configure" / "build")
    b.path("who_archive")    # the built program
    b.link_line("who_archive")   # the linker command CMake generated, paths shortened
    print(b.errors())        # the compiler's and linker's error lines, if it failed

CMake is the one from the ``cmake`` wheel on PyPI (``pip install cmake``), found
through the wheel itself, never a system ``/usr/bin/cmake`` the learner may not
have. ``CMAKE_PREFIX_PATH`` points at the ``cmeel-mimalloc`` wheel, so
``find_package(mimalloc)`` finds mimalloc's own CMake package there.

A build is cached under ``cache_dir()/cmake/`` by a hash of everything that
affects it: every file of the project (and ``extra_files``), the options, the
cmake version, the C and C++ compilers' versions and the mimalloc wheel's
version. A failed build is cached too (a link error is a result worth showing
again). Re-running a notebook
therefore does not rebuild; editing any project file does. Configure and
build run through ``run_program`` with a timeout.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .isolate import run_program
from .toolchain import MissingTool, cache_dir, have, missing, mimalloc

__all__ = ["CMAKEBUILD_VERSION", "CMakeBuild", "GENERATOR", "build_key", "cmake_build", "cmake_path", "plain_text"]

CMAKEBUILD_VERSION = 1
GENERATOR = "Unix Makefiles"     # needs make; the wheel has no ninja


def cmake_path() -> str | None:
    """The ``cmake`` binary of the PyPI wheel, or None when the wheel is not installed."""
    if not have("cmake"):
        return None
    try:
        import cmake as wheel          # the wheel's package knows its binary folder
    except ImportError:
        return None
    path = Path(wheel.CMAKE_BIN_DIR) / "cmake"
    return str(path) if path.exists() else None


def _first_line(argv) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _project_files(source_dir: Path) -> dict[str, str]:
    files = {}
    for f in sorted(source_dir.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            files[str(f.relative_to(source_dir))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain_text(text: str) -> str:
    """Text without terminal colour codes (CMake 4 colours its errors even into a pipe)."""
    return _ANSI.sub("", text)


def _mimalloc_version() -> str | None:
    try:
        return mimalloc().version      # a new wheel at the same path must rebuild
    except MissingTool:
        return None


def _mimalloc_prefix() -> str | None:
    try:
        return str(mimalloc().lib_dir.parent)
    except MissingTool:
        return None


@dataclass
class CMakeBuild:
    source_dir: Path
    build_dir: Path
    ok: bool
    stage: str             # "done", or where it failed: "configure" or "build"
    log: str               # configure + build output, paths shortened
    cached: bool = False
    replacements: list = field(default_factory=list, repr=False)

    def path(self, target: str) -> Path:
        """A file the build made, e.g. ``path("server")`` or ``path("opened.so")``."""
        return self.build_dir / target

    def shorten(self, text: str) -> str:
        """Replace the build folder, the project folder, the mimalloc wheel and the course
        folder by short names, so outputs are the same on every machine and every run."""
        for long, short in self.replacements:
            text = text.replace(long, short)
        return text

    def link_line(self, target: str) -> str:
        """The link command CMake generated for ``target`` (Makefile generator: link.txt)."""
        f = self.build_dir / "CMakeFiles" / f"{target}.dir" / "link.txt"
        if not f.exists():
            why = "failed" if self.stage == "configure" else "did not create it"
            return f"(no link step for {target}: configure {why})"
        return " ".join(self.shorten(f.read_text()).split())

    def errors(self) -> str:
        """The lines of the log that say what failed (compiler, linker, CMake errors)."""
        keep = re.compile(r"(error|cannot find|undefined reference|multiple definition|CMake Error|"
                          r"not found|No such file)",
                          re.IGNORECASE)
        noise = re.compile(r"^(g?make(\[\d+\])?: \*\*\*|\s*$)")
        return "\n".join(l for l in self.log.splitlines() if keep.search(l) and not noise.match(l))

    def __str__(self) -> str:
        head = f"cmake build of {self.source_dir.name}: " + (
            "ok" if self.ok else f"FAILED at the {self.stage} step")
        return head if self.ok else head + "\n" + self.errors()

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def build_key(source_dir, options: dict, extra_files=(), cmake: str | None = None) -> str:
    """The cache key: a hash of the project's files, the options, cmake's, the compilers' and
    mimalloc's versions."""
    source_dir = Path(source_dir).resolve()
    key = dict(v=CMAKEBUILD_VERSION, files=_project_files(source_dir), source=str(source_dir),
               extra={str(Path(f).resolve()): hashlib.sha256(Path(f).read_bytes()).hexdigest()
                      for f in extra_files},
               options={k: str(v) for k, v in sorted(options.items())},
               cmake=_first_line([cmake, "--version"]) if cmake else None,
               cc=_first_line(["cc", "--version"]), cxx=_first_line(["c++", "--version"]),
               mimalloc=_mimalloc_version(), generator=GENERATOR)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def cmake_build(source_dir, *, options: dict | None = None, extra_files=(), name: str | None = None,
                timeout: float = 600, jobs: int = 2) -> CMakeBuild:
    """Configure and build the CMake project in ``source_dir`` (cached; see the module doc).

    options: ``-D`` cache variables, e.g. ``{"SETUP": "private"}``.
    extra_files: files outside ``source_dir`` the build reads (their content joins the key).
    Raises ``MissingTool`` when the cmake wheel is absent (print ``lab.missing("cmake")``).
    """
    cmake = cmake_path()
    if cmake is None:
        raise MissingTool(missing("cmake"))
    source_dir = Path(source_dir).resolve()
    opts = dict(options or {})
    prefix = _mimalloc_prefix()
    if prefix:
        opts.setdefault("CMAKE_PREFIX_PATH", prefix)
    digest = build_key(source_dir, opts, extra_files, cmake)
    root = cache_dir() / "cmake"
    root.mkdir(parents=True, exist_ok=True)
    build_dir = root / f"{name or source_dir.name}-{digest}"
    replacements = [(str(build_dir), "<build>"), (str(source_dir), "<project>")]
    if prefix:
        replacements.append((prefix, "<mimalloc wheel>"))
    replacements += [(str(Path(cmake).parent) + os.sep, ""),
                     (str(Path(__file__).resolve().parent.parent), "<course>")]
    result_file = build_dir / "labsupport-result.json"
    with open(root / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # two kernels building the same project wait
        if result_file.exists():
            saved = json.loads(result_file.read_text())
            return CMakeBuild(source_dir, build_dir, saved["ok"], saved["stage"], plain_text(saved["log"]),
                              cached=True, replacements=replacements)
        shutil.rmtree(build_dir, ignore_errors=True)      # a half-finished earlier attempt
        build_dir.mkdir(parents=True)
        env = {"CMAKE_BUILD_PARALLEL_LEVEL": str(jobs), "MAKEFLAGS": "", "LC_ALL": "C"}
        configure = [cmake, "-S", str(source_dir), "-B", str(build_dir), "-G", GENERATOR,
                     *[f"-D{k}={v}" for k, v in opts.items()]]
        r = run_program(configure, timeout=timeout, cwd=str(build_dir), env=env)
        log = r.stdout + r.stderr
        stage = "configure"
        if r.ok:
            r = run_program([cmake, "--build", str(build_dir), "-v"], timeout=timeout,
                            cwd=str(build_dir), env=env)
            log += r.stdout + r.stderr
            stage = "build" if not r.ok else "done"
        if r.timed_out:
            log += f"\n(timed out after {timeout} s)"
        log = "\n".join(l for l in log.splitlines()
                        if not re.match(r"g?make(\[\d+\])?: (Entering|Leaving) directory", l))
        build = CMakeBuild(source_dir, build_dir, stage == "done", stage, "", replacements=replacements)
        build.log = build.shorten(plain_text(log))
        if not r.timed_out:                     # a timeout is not a result worth caching
            result_file.write_text(json.dumps(dict(ok=build.ok, stage=build.stage, log=build.log)))
        return build
