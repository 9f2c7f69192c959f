"""Build lesson notebooks from their jupytext sources and execute them for real.

    python tools/build_notebooks.py                          # every src/lessons/*.py
    python tools/build_notebooks.py src/lessons/00_start_here.py [...]
    python tools/build_notebooks.py --text-only src/lessons/01_heap_managers.py


Each source (a jupytext "percent" file) becomes notebooks/<name>.ipynb, executed
top to bottom in a fresh kernel with notebooks/ as the working directory, so
the committed outputs come from a real run on this machine. A cell that raises
stops the build unless it is marked ``# NBVAL_RAISES_EXCEPTION``.

A built notebook ends with one generated markdown cell (metadata
``{"labsupport": "platform"}``, not in the source) naming the machine its
outputs were recorded on: "Outputs recorded on: Debian 12.12 (bookworm),
x86_64, Linux 6.1, glibc 2.36, gcc 12.2.0, Python 3.11.2, ...", read from the
running machine. ``--text-only`` leaves the outputs, so it keeps that cell as it
is; it adds one (from the running machine) only to a notebook that has none.
nbval compares no markdown; tests/test_notebooks_in_sync.py skips this cell.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"


PLATFORM_KEY = "labsupport"         # cell.metadata["labsupport"] == "platform" marks the generated cell
PLATFORM_MARK = "platform"


def _version(argv: list[str], pattern: str = r"(\d+(?:\.\d+)+)") -> str | None:
    """The first version number in a tool's output, or None if the tool is absent or fails."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(pattern, p.stdout + p.stderr)
    return m.group(1) if m else None


def _os_name() -> str:
    try:
        rel = platform.freedesktop_os_release()
    except OSError:
        return platform.system()
    name = rel.get("NAME", "Linux").replace(" GNU/Linux", "")
    version = rel.get("VERSION_ID", "")
    if rel.get("ID") == "debian":          # the point release (12.12), not only 12
        try:
            point = Path("/etc/debian_version").read_text().strip()
            version = point if point.split(".")[0] == version else version
        except OSError:
            pass
    codename = rel.get("VERSION_CODENAME")
    return f"{name} {version}" + (f" ({codename})" if codename else "")


def platform_facts() -> list[str]:
    """What the lessons' outputs depend on, read from the running machine."""
    facts = [_os_name(), platform.machine()]
    try:                                   # the CPU and whether a hypervisor runs under it: timings depend on both
        from labsupport.capability import check
        cpu = check("x86-64-native").detail
        if cpu and not cpu.startswith("this processor is"):
            facts.append(cpu)
    except Exception:                      # noqa: BLE001 - informational only
        pass
    facts.append(f"Linux {platform.release().split('-')[0]}")
    libc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None
    if libc:
        facts.append(libc)                 # "glibc 2.36"
    gcc = _version(["gcc", "-dumpfullversion"])
    if gcc:
        facts.append(f"gcc {gcc}")
    facts.append(f"Python {platform.python_version()}")
    tools = (("Wine", ["wine", "--version"]), ("valgrind", ["valgrind", "--version"]),
             ("pahole", ["pahole", "--version"]))
    for label, argv in tools:
        v = _version(argv)
        if v:
            facts.append(f"{label} {v}")
    try:
        from importlib.metadata import version
        facts.append(f"mimalloc {version('cmeel-mimalloc')}")
    except Exception:                      # noqa: BLE001 - the wheel is optional here
        pass
    return facts


def platform_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        "---\n*Outputs recorded on: " + ", ".join(platform_facts()) + ".* "
        "Another system's versions can print other figures; the lesson says where.")
    cell.metadata[PLATFORM_KEY] = PLATFORM_MARK
    return cell


def is_platform_cell(cell) -> bool:
    return cell.get("metadata", {}).get(PLATFORM_KEY) == PLATFORM_MARK


def build(src: Path, timeout: int = 900) -> Path:
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        if cell.cell_type == "code" and "NBVAL_RAISES_EXCEPTION" in cell.source.split("\n", 1)[0]:
            cell.metadata.setdefault("tags", [])
            if "raises-exception" not in cell.metadata["tags"]:
                cell.metadata["tags"].append("raises-exception")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NB_DIR)}})
    t0 = time.perf_counter()
    client.execute()
    nb.cells.append(platform_cell())
    target = NB_DIR / (src.stem + ".ipynb")
    nbformat.write(nb, target)
    print(f"{target.relative_to(ROOT)}: {len(nb.cells)} cells, executed in {time.perf_counter() - t0:.1f} s")
    return target


def sync_text(src: Path) -> Path:
    """Copy the markdown of a source into its executed notebook, outputs untouched.

    Only when every code cell is unchanged (same sources, same order): then the
    stored outputs are still exactly what executing the source gives. Otherwise
    the notebook must be rebuilt for real, and this refuses.
    """
    new = jupytext.read(src)
    target = NB_DIR / (src.stem + ".ipynb")
    old = nbformat.read(target, as_version=4)
    stamp = [c for c in old.cells if is_platform_cell(c)]
    old.cells = [c for c in old.cells if not is_platform_cell(c)]
    code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]      # noqa: E731
    if code(new) != code(old) or [c.cell_type for c in new.cells] != [c.cell_type for c in old.cells]:
        raise SystemExit(f"{src.name}: code cells changed; rebuild it (without --text-only)")
    changed = 0
    for a, b in zip(old.cells, new.cells):
        if a.cell_type == "markdown" and a.source != b.source:
            a.source = b.source
            changed += 1
    old.cells.append(stamp[-1] if stamp else platform_cell())   # the outputs' platform, kept
    nbformat.write(old, target)
    print(f"{target.relative_to(ROOT)}: {changed} markdown cell(s) updated, outputs untouched"
          + ("" if stamp else "; platform stamped from this machine"))
    return target


def main(argv: list[str]) -> int:
    text_only = "--text-only" in argv
    argv = [a for a in argv if a != "--text-only"]
    sources = [Path(a).resolve() for a in argv] or sorted((ROOT / "src" / "lessons").glob("[0-9]*.py"))
    for src in sources:
        sync_text(src) if text_only else build(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
