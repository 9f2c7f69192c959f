"""Build lesson notebooks from their jupytext sources and execute them for real.

    python tools/build_notebooks.py                          # every src/lessons/*.py
    python tools/build_notebooks.py src/lessons/00_start_here.py [...]
    python tools/build_notebooks.py --text-only src/lessons/01_heap_managers.py


Each source (a jupytext "percent" file) becomes notebooks/<name>.ipynb, executed
top to bottom in a fresh kernel with notebooks/ as the working directory, so
the committed outputs come from a real run on this machine. A cell that raises
stops the build unless it is marked ``# NBVAL_RAISES_EXCEPTION``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"


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
    code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]      # noqa: E731
    if code(new) != code(old) or [c.cell_type for c in new.cells] != [c.cell_type for c in old.cells]:
        raise SystemExit(f"{src.name}: code cells changed; rebuild it (without --text-only)")
    changed = 0
    for a, b in zip(old.cells, new.cells):
        if a.cell_type == "markdown" and a.source != b.source:
            a.source = b.source
            changed += 1
    nbformat.write(old, target)
    print(f"{target.relative_to(ROOT)}: {changed} markdown cell(s) updated, outputs untouched")
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
