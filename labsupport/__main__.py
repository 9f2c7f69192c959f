"""Command line: ``python -m labsupport doctor | warmup | work | student-copy``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    wk = sub.add_parser("work", help="create the learner's working copies in work/ (never overwrites one)")
    wk.add_argument("--reset", metavar="LESSON", help="a fresh copy of one lesson (e.g. 01); the old one goes to work/backup/")
    wk.add_argument("--dir", default=str(ROOT / "work"))
    sc = sub.add_parser("student-copy", help="write copies to hand out: no solutions, no outputs")
    sc.add_argument("--src", default=str(ROOT / "notebooks"))
    sc.add_argument("--out", default=str(ROOT / "student"))
    sc.add_argument("--nbgrader", action="store_true",
                    help="keep solutions inside nbgrader's BEGIN/END SOLUTION markers, with nbgrader cell metadata")
    args = parser.parse_args(argv)
    if args.cmd == "doctor":
        report = doctor()
        print(report)
        if not report.ok:
            print("\nMissing tools only switch off the cells that need them; the rest of the course runs.")
        from .capability import capabilities
        print("\nWhat this machine can do (each one tried for real):")
        print(capabilities())
        return 0
    if args.cmd == "warmup":
        warmup()
        return 0
    from . import workcopy
    if args.cmd == "work":
        if args.reset:
            try:
                backup = workcopy.reset(args.reset, Path(args.dir))
            except ValueError as exc:
                print(exc)
                return 2
            print(f"fresh working copy of lesson {args.reset} written"
                  + (f"; your old copy is {backup}" if backup else ""))
            return 0
        print(workcopy.sync(Path(args.dir)))
        return 0
    for p in workcopy.write_copies(Path(args.out), Path(args.src), nbgrader=args.nbgrader):
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
