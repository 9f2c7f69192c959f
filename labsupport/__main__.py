"""Command line: ``python -m labsupport doctor | warmup | work | student-copy``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv=None) -> int:
    from .toolchain import ROOT, doctor
    parser = argparse.ArgumentParser(prog="python -m labsupport")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("doctor", help="list the tools the course uses, found or not, and how to install them")
    wu = sub.add_parser("warmup", help="create Wine's prefix and build zig's C libraries once")
    wu.add_argument("--background", action="store_true",
                    help="start it in a detached process and return at once (what ./lab start does)")
    wk = sub.add_parser("work", help="create the learner's working copies in work/ (never overwrites one)")
    wk.add_argument("--reset", metavar="LESSON",
                    help="a fresh copy of one lesson (e.g. 01); the old one goes to work/backup/")
    wk.add_argument("--dir", default=str(ROOT / "work"))
    ld = sub.add_parser("lock-diff", help="the packages whose pinned version differs between two lock files")
    ld.add_argument("old")
    ld.add_argument("new")
    sc = sub.add_parser("student-copy", help="write copies to hand out: no solutions, no outputs")
    sc.add_argument("--src", default=str(ROOT / "notebooks"))
    sc.add_argument("--out", default=str(ROOT / "student"))
    sc.add_argument("--nbgrader", action="store_true",
                    help="keep solutions inside nbgrader's BEGIN/END SOLUTION markers, with nbgrader cell metadata")
    sc.add_argument("--lesson", action="append", metavar="NN",
                    help="only this lesson (repeatable), e.g. --lesson 01 --out source/lesson01/")
    args = parser.parse_args(argv)
    if args.cmd == "doctor":
        report = doctor()
        print(report)
        if not report.ok:
            print("\nMissing tools only switch off the cells that need them; the rest of the course runs.")
        from .capability import capabilities
        from .warmup import status_line
        print("\nOne-time preparations:", status_line())
        from .lockfile import LOCK, compare_installed
        if LOCK.exists():
            n, differ = compare_installed()
            other = [(name, locked, got) for name, locked, got in differ if got]
            absent = [name for name, _, got in differ if not got]
            if not other:
                print(f"\nPython packages: all {n - len(absent)} installed at the versions in requirements.lock")
            else:
                print(f"\nPython packages: {len(other)} of {n - len(absent)} installed differ from "
                      f"requirements.lock (./lab setup installs the locked set):")
                for name, locked, got in other:
                    print(f"  {name}: locked {locked}, installed {got}")
            if absent:       # extras not asked for (the container image leaves out the test tools)
                print(f"  not installed here: {len(absent)} of the lock's packages, extras' tools "
                      f"(LAB_EXTRAS=test ./lab setup installs them): {', '.join(absent[:8])}"
                      f"{', ...' if len(absent) > 8 else ''}")
        print("\nWhat this machine can do (each one tried for real):")
        print(capabilities())
        return 0
    if args.cmd == "lock-diff":
        from .lockfile import diff
        lines = diff(Path(args.old), Path(args.new))
        print("\n".join(lines) if lines else "no package changed version")
        return 0
    if args.cmd == "warmup":
        from . import warmup
        if args.background:
            pid = warmup.start_background()
            print("one-time preparations continue in the background (./lab doctor shows them)"
                  if pid else "one-time preparations: nothing to do")
            return 0
        print("one-time preparations (first time on a machine: a few minutes; later: instant)")
        warmup.run()
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
    try:
        written = workcopy.write_copies(Path(args.out), Path(args.src), nbgrader=args.nbgrader,
                                        lessons=args.lesson)
    except ValueError as exc:
        print(exc)
        return 2
    for p in written:
        print("wrote", p)
    if args.nbgrader:
        need = max(workcopy.longest_cell_seconds(Path(args.src) / p.name) for p in written)
        timeout = max(120, int(need * 4) // 30 * 30 + 30)
        print(f"\nnbgrader runs each cell with a 30 s limit; the longest cell of these lessons took "
              f"{need:.0f} s when the book was recorded. In your course's nbgrader_config.py:\n"
              f"    c.Execute.timeout = {timeout}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
