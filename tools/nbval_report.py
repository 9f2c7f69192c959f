"""Summarise a pytest JUnit XML report: which notebook cells differ, which tests failed.

    python tools/nbval_report.py report.xml

Used by tools/debian.sh to say, per lesson, which compared outputs another
platform changes (the lesson must explain each one) and which tests broke.
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def summarise(path: str) -> str:
    root = ET.parse(path).getroot()
    cells: dict[str, list[str]] = defaultdict(list)
    tests: list[str] = []
    total = 0
    for case in root.iter("testcase"):
        total += 1
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is None:
            continue
        name = case.get("name", "")
        where = case.get("file") or case.get("classname", "")
        text = (bad.get("message") or "") + "\n" + (bad.text or "")
        if ".ipynb" in where or "Cell" in name:
            first = next((line.strip() for line in text.splitlines()
                          if line.strip().startswith(("-", "+")) and line.strip() not in ("-", "+")), "")
            cells[where.rsplit("/", 1)[-1]].append(f"{name}: {first[:100]}")
        else:
            message = (bad.get("message") or "").splitlines()
            tests.append(f"{where}::{name}: {message[0][:120] if message else ''}")
    lines = [f"{total} tests; {sum(map(len, cells.values()))} notebook cells differ; {len(tests)} other tests failed"]
    for nb in sorted(cells):
        lines.append(f"{nb}:")
        lines += [f"  {c}" for c in cells[nb]]
    if tests:
        lines.append("other failures:")
        lines += [f"  {t}" for t in tests]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(sys.argv[1]))
