"""Run every benchmarks/bench_*.py in one process and print one table of measured figures.

    .venv/bin/python benchmarks/run.py

Figures are ratios or medians measured side by side in this run; nothing here is
a test, and nothing fails when the machine is busy.
"""
from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for row in mod.run():
            rows.append((path.stem, row))
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}")
    print(f"{'benchmark':45} {'measured':>12} {'target':>12}  note")
    for _, r in rows:
        print(f"{r['name'][:45]:45} {str(r['value']) + ' ' + r['unit']:>12} {r['target']:>12}  {r.get('note', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
