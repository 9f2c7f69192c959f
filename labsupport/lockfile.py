"""The Python packages' exact versions: ``requirements.lock``, what ``./lab setup`` installs.

``./lab lock`` writes it (``uv pip compile --universal``: one set for Python 3.11 to 3.14,
with markers where a version differs by Python) and ``./lab setup`` installs with it as
constraints (``-c``), with uv or with pip, so a learner a year from now gets the versions the
lessons were recorded with (CMake, wasmtime, zig and z3 among them). ``compare_installed``
is what the doctor prints; ``diff`` is what ``./lab lock`` prints.
"""
from __future__ import annotations

import re
from pathlib import Path

from .toolchain import ROOT

__all__ = ["LOCK", "read_lock", "compare_installed", "diff"]

LOCK = ROOT / "requirements.lock"
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK, all_pythons: bool = False) -> dict:
    """{package: version} for the running Python (markers evaluated), or every line's pin with
    its marker when ``all_pythons`` ({package: {marker or "": version}})."""
    from packaging.markers import Marker
    out: dict = {}
    for line in Path(path).read_text().splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        name, version, marker = _norm(m.group(1)), m.group(2), (m.group(3) or "").strip()
        if all_pythons:
            out.setdefault(name, {})[marker] = version
        elif not marker or Marker(marker).evaluate():
            out[name] = version
    return out


def compare_installed(path: Path = LOCK) -> tuple[int, list]:
    """(how many locked packages apply here, [(package, locked, installed or None) that differ])."""
    import importlib.metadata as md
    wanted = read_lock(path)
    installed: dict = {}
    for d in md.distributions():        # the first on sys.path wins, as for import (setuptools
        if d.metadata["Name"]:          # appends its own vendored copies at the end)
            installed.setdefault(_norm(d.metadata["Name"]), d.version)
    return len(wanted), [(n, v, installed.get(n)) for n, v in sorted(wanted.items()) if installed.get(n) != v]


def diff(old: Path, new: Path) -> list[str]:
    """One line per package whose pin changed between two locks."""
    a, b = read_lock(old, all_pythons=True), read_lock(new, all_pythons=True)
    lines = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            before = ", ".join(sorted(set(a.get(name, {}).values()))) or "-"
            after = ", ".join(sorted(set(b.get(name, {}).values()))) or "-"
            lines.append(f"{name}: {before} -> {after}")
    return lines
