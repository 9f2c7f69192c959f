"""Plain-text views: tables of rows printed in a cell (deterministic, no pandas needed)."""
from __future__ import annotations

__all__ = ["format_table"]


def format_table(rows, columns=None) -> str:
    """Rows of dicts as a plain-text table: first column left-aligned, numbers with
    thousands separators, floats to 3 places, None as "-"."""
    rows = list(rows)
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(vals):
        return "  ".join((v.ljust(w) if i == 0 else v.rjust(w)) for i, (v, w) in enumerate(zip(vals, widths)))

    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])
