"""Run every benchmarks/bench_*.py in one process and print one table of measured figures.

    .venv/bin/python benchmarks/run.py                     # every benchmarks/bench_*.py
    .venv/bin/python benchmarks/run.py tracestep heapmap   # only bench_tracestep.py, bench_heapmap.py

Figures are ratios or medians measured side by side in this run; nothing here is
a test, and nothing fails when the machine is busy.
"""
from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        if names and path.stem.removeprefix("bench_") not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for row in mod.run():
            rows.append((path.stem, row))
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}")
    print(f"{'benchmark':58} {'measured':>18} {'target':>10}  note")
    for _, r in rows:
        print(f"{r['name'][:58]:58} {str(r['value']) + ' ' + r['unit']:>18} {r['target']:>10}  {r.get('note', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
