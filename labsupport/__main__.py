"""Command line: ``python -m labsupport doctor`` and ``python -m labsupport student-copy``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def student_copy(src_dir: Path, out_dir: Path) -> list[Path]:
    """Write notebooks without solution cells and without outputs.

    A cell tagged ``solution`` becomes an empty code cell with a prompt, so the
    checks after it still have somewhere to point.
    """
    import nbformat
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                if "solution" in cell.metadata.get("tags", []):
                    cell.source = "# Your solution here\n"
                    cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "solution"]
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        target = out_dir / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv=None) -> int:
    from .toolchain import ROOT, doctor
    parser = argparse.ArgumentParser(prog="python -m labsupport")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("doctor", help="list the tools the course uses, found or not, and how to install them")
    sc = sub.add_parser("student-copy", help="write notebooks without solutions or outputs")
    sc.add_argument("--src", default=str(ROOT / "notebooks"))
    sc.add_argument("--out", default=str(ROOT / "student"))
    args = parser.parse_args(argv)
    if args.cmd == "doctor":
        report = doctor()
        print(report)
        if not report.ok:
            print("\nMissing tools only switch off the cells that need them; the rest of the course runs.")
        return 0
    for p in student_copy(Path(args.src), Path(args.out)):
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
