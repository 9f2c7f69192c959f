"""Command line: ``python -m labsupport doctor | warmup | student-copy``."""
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


def warmup() -> None:
    """Pay the one-off costs before a class starts: Wine's prefix, zig's C libraries.

    Each step is skipped when its tool is missing and never fails the set-up.
    """
    import tempfile
    import time

    from . import toolchain

    def step(label, fn):
        t = time.perf_counter()
        try:
            fn()
            print(f"  {label}: ready ({time.perf_counter() - t:.0f} s)")
        except Exception as exc:          # noqa: BLE001 - report and go on
            print(f"  {label}: skipped ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")

    print("warming up (first time on a machine: about a minute)")
    if toolchain.have("wine"):
        from . import winlab
        step("Wine prefix", winlab.prepare_wine)
    if toolchain.have("ziglang"):
        from . import wasm, winlab
        step("zig: C library for WebAssembly", lambda: wasm.compile_wasm("int f(void) { return 1; }\n"))
        with tempfile.TemporaryDirectory() as d:
            src = Path(d, "hello.c")
            src.write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
            step("zig: C library for Windows", lambda: winlab.build([src], Path(d, "hello.exe"), compiler="zig"))


def main(argv=None) -> int:
    from .toolchain import ROOT, doctor
    parser = argparse.ArgumentParser(prog="python -m labsupport")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("doctor", help="list the tools the course uses, found or not, and how to install them")
    sub.add_parser("warmup", help="create Wine's prefix and build zig's C libraries once")
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
    if args.cmd == "warmup":
        warmup()
        return 0
    for p in student_copy(Path(args.src), Path(args.out)):
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
