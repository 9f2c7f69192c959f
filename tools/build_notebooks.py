"""Build lesson notebooks from their jupytext sources and execute them for real.

    python tools/build_notebooks.py                          # every notebooks/src/*.py
    python tools/build_notebooks.py notebooks/src/00_start_here.py [...]

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


def main(argv: list[str]) -> int:
    sources = [Path(a).resolve() for a in argv] or sorted((NB_DIR / "src").glob("[0-9]*.py"))
    for src in sources:
        build(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
