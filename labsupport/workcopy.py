"""The learner's working copy of the course, and solutions on demand.

Each lesson exists in two forms:

- the *book*, ``notebooks/NN_topic.ipynb``: executed for real, every output
  stored, reference solutions in place; what CI compares and what a reader browses;
- the learner's *working copy*, ``work/NN_topic.ipynb`` (git-ignored): outputs
  cleared and reference solutions replaced by a stub, so a prediction is honest
  and an exercise is the learner's own. It is created once and never overwritten.

Solutions are the code cells tagged ``solution``. A cell with a line holding
``BEGIN SOLUTION`` and a later one holding ``END SOLUTION`` (``### BEGIN
SOLUTION`` in Python, ``// ### BEGIN SOLUTION`` in C: nbgrader's markers) keeps
everything outside the markers (a signature, a starter); any other solution
cell is replaced whole. The stub names the call that reveals the reference
solution: ``lab.solution("01", 2)`` prints the second solution of lesson 01
(it shows it, it does not run it). A failed check prints its hint first.

``python -m labsupport work`` creates or updates the working copies (new lessons
are added, existing copies are left alone, a copy whose lesson changed since it
was made is reported); ``--reset NN`` moves a copy to ``work/backup/`` and writes a
fresh one. ``python -m labsupport student-copy --out DIR [--nbgrader]`` writes
copies to hand out, optionally with nbgrader's markers and cell metadata.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .toolchain import ROOT

__all__ = ["BOOK_DIR", "WORK_DIR", "Solution", "SyncReport", "book_digest", "learner_notebook", "nbgrader_notebook",
           "reset", "solution", "solutions", "sync", "write_copies"]

BOOK_DIR = ROOT / "notebooks"
WORK_DIR = ROOT / "work"
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
NOT_DONE_C = "LAB_NOT_DONE();"      # labsupport.cbuild removes it and marks the module a stub
_META = "labsupport"          # key of our notebook metadata in a working copy


def _lessons(book_dir: Path) -> list[Path]:
    return sorted(p for p in book_dir.glob("[0-9][0-9]_*.ipynb"))


def _read(path: Path):
    import nbformat
    return nbformat.read(path, as_version=4)


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])


def _marker_region(lines: list[str]) -> tuple[int, int] | None:
    begin = next((i for i, line in enumerate(lines) if BEGIN in line), None)
    if begin is None:
        return None
    end = next((i for i in range(begin + 1, len(lines)) if END in lines[i]), None)
    return None if end is None else (begin, end)


def _is_c_cell(source: str) -> bool:
    return source.lstrip().startswith("%%cffi")


def _parses(source: str) -> bool:
    import ast
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def _python_names_stub(source: str, n: int, reveal: str) -> str:
    """A stub for a whole Python solution cell: every name the solution binds at top level is
    bound again, to something the check reads as "not done yet" (``...``, or a function or class
    with the same signature whose body raises ``NotImplementedError``). Run All then goes on."""
    import ast
    out = [f"# Exercise {n}: your answer here (replace the stubs below).",
           f"# Stuck? Run {reveal} in a new cell to see the reference solution."]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "\n".join(out) + "\n"
    def decorators(node, indent=""):     # @property, @dataclass ...: the stub keeps what they mean
        return [f"{indent}@{ast.unparse(d)}" for d in node.decorator_list]

    def function(node, indent=""):
        doc = ast.get_docstring(node)
        ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        kind = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        lines = [*decorators(node, indent), f"{indent}{kind} {node.name}({ast.unparse(node.args)}){ret}:"]
        if doc:
            lines.append(f"{indent}    {ast.unparse(ast.Constant(doc))}")
        return lines + [f"{indent}    raise NotImplementedError  # your code here"]

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):      # what the decorators and types name
            out.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += function(node)
        elif isinstance(node, ast.ClassDef):
            bases = ", ".join([*(ast.unparse(b) for b in node.bases),
                               *(ast.unparse(k) for k in node.keywords)])
            out += decorators(node)
            out.append(f"class {node.name}({bases}):" if bases else f"class {node.name}:")
            doc = ast.get_docstring(node)
            if doc:
                out.append(f"    {ast.unparse(ast.Constant(doc))}")
            kept = False
            for m in node.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out += function(m, "    ")
                    kept = True
                elif isinstance(m, ast.AnnAssign) and isinstance(m.target, ast.Name):
                    out.append(f"    {ast.unparse(m)}")      # a field (a dataclass's): its type, default
                    kept = True
            if not kept and not doc:
                out.append("    pass")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for name in ast.walk(t):
                    if isinstance(name, ast.Name):
                        out.append(f"{name.id} = ...")
    return "\n".join(out) + "\n"


def _stub(source: str, lesson: str, n: int) -> str:
    """The learner's version of solution cell ``n``: it parses (Python) or compiles (C), runs
    without raising, and leaves values the checks read as "not done yet"."""
    reveal = f'lab.solution("{lesson}", {n})'
    lines = source.splitlines()
    region = _marker_region(lines)
    c_cell = _is_c_cell(source)
    if region:
        b, e = region
        indent = lines[b][: len(lines[b]) - len(lines[b].lstrip())]
        if c_cell:
            stub = [f"{indent}// Your code here, then delete the next line. Stuck? Run {reveal} "
                    f"in a Python cell.", f"{indent}{NOT_DONE_C}"]
            return "\n".join(lines[:b] + stub + lines[e + 1:])
        comment = [f"{indent}# Your code here. Stuck? Run {reveal} in a new cell."]
        if indent:           # inside a def: a body that says "not done" when called
            raised = lines[:b] + comment + [f"{indent}raise NotImplementedError  # delete this line"] \
                + lines[e + 1:]
            if _parses("\n".join(raised)):
                return "\n".join(raised)
        return "\n".join(lines[:b] + comment + lines[e + 1:])
    if c_cell:
        return (f"{lines[0]}\n// Exercise {n}: your C here (the whole cell is yours); then delete the "
                f"next line.\n// Stuck? Run {reveal} in a Python cell to see the reference solution.\n"
                f"{NOT_DONE_C}\n")
    return _python_names_stub(source, n, reveal)


_TEST_MARKERS = re.compile(r"^\s*#\s*NBVAL_\w+\s*$")


def _without_test_markers(source: str) -> str:
    """A cell without nbval's marker lines (the book needs them; a learner does not)."""
    lines = source.split("\n")
    kept = [line for line in lines if not _TEST_MARKERS.match(line)]
    return "\n".join(kept) if len(kept) != len(lines) else source


def _without_markers(source: str) -> str:
    """A solution as a learner should read it: no nbgrader marker lines."""
    return "\n".join(line for line in source.split("\n") if BEGIN not in line and END not in line)


def _lesson_key(path: Path) -> str:
    return path.stem.split("_", 1)[0]


def book_digest(nb) -> str:
    """A hash of a lesson's cell sources: changes when the lesson's text or code does."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()[:16]


def _clear(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)


def learner_notebook(book_path: Path):
    """The working copy of one lesson: no outputs, solutions stubbed, a note on top."""
    import nbformat
    nb = _read(book_path)
    digest = book_digest(nb)
    key = _lesson_key(book_path)
    n = 0
    for cell in nb.cells:
        if _is_solution(cell):
            n += 1
            cell.source = _stub(cell.source, key, n)
        elif cell.cell_type == "code":
            cell.source = _without_test_markers(cell.source)
    _clear(nb)
    note = nbformat.v4.new_markdown_cell(
        f"*Your working copy of lesson {key}.* Edit and run anything here; it is never "
        f"overwritten. The book, with every output of a real run, is "
        f"[`notebooks/{book_path.name}`](../notebooks/{book_path.name}). Stuck on an "
        f"exercise? Its check prints a hint; `lab.solution(\"{key}\", N)` shows the "
        f"reference solution of exercise N. A fresh copy: `./lab reset {key}` (yours is "
        f"kept in `work/backup/`).")
    note.metadata["tags"] = ["working-copy-note"]
    nb.cells.insert(0, note)
    nb.metadata[_META] = {"lesson": book_path.stem, "book_digest": digest}
    return nb


def _nbgrader_c_markers(lines: list[str]) -> list[str]:
    """A C solution's nbgrader markers, each inside a C comment of its own, so that nbgrader's
    Python stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) lands inside a comment:
    the released cell still compiles, and the magic marks its module "not done"."""
    out = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        if BEGIN in line:
            out += [f"{indent}/* Write your C after this comment, then delete the line that raises.",
                    f"{indent}### {BEGIN}", f"{indent}*/"]
        elif END in line:
            out += [f"{indent}/*", f"{indent}### {END}", f"{indent}*/"]
        else:
            out.append(line)
    return out


def _check_cell_after(cells, i: int):
    """The cell that gives solution ``i``'s verdict: the next code cell tagged ``check`` before the
    next solution, else (older lessons) the first of the next three code cells calling a check."""
    for c in cells[i + 1:]:
        if _is_solution(c):
            break
        if c.cell_type == "code" and "check" in c.metadata.get("tags", []):
            return c
    return next((c for c in cells[i + 1:i + 4] if c.cell_type == "code" and "check" in c.source), None)


GRADED_BEGIN = ("import importlib, labsupport.exercises as _graded; _graded = importlib.reload(_graded)"
                "; _graded.graded_begin()   # graded by nbgrader (the reload undoes any rebinding)")
GRADED_END = "_graded.graded_end()   # raises unless this cell gave a verdict and every verdict passed"


def nbgrader_notebook(book_path: Path):
    """A copy for nbgrader's ``source/``: each solution inside ``### BEGIN/END SOLUTION`` markers
    (in a C cell, inside C comments, so the released stub compiles: no ``nbgrader_config.py``
    setting needed), and each solution's check cell a locked 1-point test that starts with
    ``graded_begin()`` and ends with ``graded_end()``: it raises on a failed or missing verdict,
    whatever the student deletes from or adds to the unlocked cells (nbgrader restores locked
    cells before it grades)."""
    nb = _read(book_path)
    key = _lesson_key(book_path)
    n = 0
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and not _is_solution(cell):
            cell.source = _without_test_markers(cell.source)
        if not _is_solution(cell):
            continue
        n += 1
        lines = cell.source.splitlines()
        reveal = f'lab.solution("{key}", {n})'
        if _is_c_cell(cell.source):
            if not _marker_region(lines):
                lines = [lines[0], f"// {BEGIN}", *lines[1:], f"// {END}"]
            lines = _nbgrader_c_markers(lines)
        elif not _marker_region(lines):
            stub = _python_names_stub(cell.source, n, reveal).rstrip("\n").split("\n")
            lines = [*stub, f"### {BEGIN}", *lines, f"### {END}"]
        cell.source = "\n".join(lines)
        cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"lesson{key}-ex{n}",
                                     "locked": False, "schema_version": 3, "solution": True,
                                     "task": False}
        check = _check_cell_after(cells, i)
        if check is not None:
            check.source = f"{GRADED_BEGIN}\n{check.source.rstrip()}\n{GRADED_END}"
            check.metadata["nbgrader"] = {"grade": True, "grade_id": f"lesson{key}-ex{n}-check",
                                          "locked": True, "points": 1, "schema_version": 3,
                                          "solution": False, "task": False}
    _clear(nb)
    return nb


def longest_cell_seconds(book_path: Path) -> float:
    """The longest a code cell of the book took when it was recorded (from the execution
    timestamps nbclient stores), for nbgrader's per-cell timeout."""
    from datetime import datetime
    longest = 0.0
    for cell in _read(book_path).cells:
        ex = cell.metadata.get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if start and end:
            t0, t1 = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
            longest = max(longest, (t1 - t0).total_seconds())
    return longest


def write_copies(out_dir: Path, book_dir: Path = BOOK_DIR, nbgrader: bool = False,
                 lessons=None) -> list[Path]:
    """Copies of the lessons (all, or those named in ``lessons``: "01" or 1) to hand out;
    overwrites ``out_dir``'s files of the same name."""
    import nbformat
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    paths = [_find_lesson(k, book_dir) for k in lessons] if lessons else _lessons(book_dir)
    for path in paths:
        nb = nbgrader_notebook(path) if nbgrader else learner_notebook(path)
        target = out_dir / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)     # kept, but its lesson changed since

    def __str__(self) -> str:
        lines = []
        if self.created:
            lines.append("working copies created: " + ", ".join(self.created))
        if self.kept:
            lines.append(f"working copies kept as you left them: {len(self.kept)}")
        for name in self.changed:
            key = name.split("_", 1)[0]
            lines.append(f"lesson {name} changed since your copy was made: `./lab reset {key}` "
                         f"gives a fresh copy (yours goes to work/backup/)")
        return "\n".join(lines) or "no lessons found"


def sync(work_dir: Path = WORK_DIR, book_dir: Path = BOOK_DIR) -> SyncReport:
    """Create missing working copies; never touch an existing one."""
    import nbformat
    work_dir.mkdir(parents=True, exist_ok=True)
    report = SyncReport()
    for path in _lessons(book_dir):
        target = work_dir / path.name
        if not target.exists():
            nbformat.write(learner_notebook(path), target)
            report.created.append(path.stem)
            continue
        report.kept.append(path.stem)
        try:
            made_from = _read(target).metadata.get(_META, {}).get("book_digest")
        except Exception:                 # noqa: BLE001 - a copy the learner broke: leave it
            made_from = None
        if made_from and made_from != book_digest(_read(path)):
            report.changed.append(path.stem)
    return report


def _find_lesson(lesson: str | int, book_dir: Path) -> Path:
    key = f"{int(lesson):02d}" if isinstance(lesson, int) or str(lesson).isdigit() else str(lesson)
    for path in _lessons(book_dir):
        if path.stem == key or _lesson_key(path) == key:
            return path
    names = ", ".join(_lesson_key(p) for p in _lessons(book_dir))
    raise ValueError(f"no lesson {lesson!r}: the lessons are {names}")


def reset(lesson: str | int, work_dir: Path = WORK_DIR, book_dir: Path = BOOK_DIR) -> Path | None:
    """A fresh working copy of one lesson; the old one moves to ``work/backup/``.
    Returns the backup's path (None when there was no copy)."""
    import nbformat
    path = _find_lesson(lesson, book_dir)
    target = work_dir / path.name
    backup = None
    if target.exists():
        backup_dir = work_dir / "backup"
        backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime('%Y%m%d-%H%M%S')
        backup = backup_dir / f"{path.stem}-{stamp}.ipynb"
        k = 1
        while backup.exists():                # two resets in the same second: keep both
            k += 1
            backup = backup_dir / f"{path.stem}-{stamp}-{k}.ipynb"
        target.replace(backup)
    work_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(learner_notebook(path), target)
    return backup


def solutions(lesson: str | int, book_dir: Path = BOOK_DIR) -> list[str]:
    """The reference solutions of a lesson, in order, as source text."""
    nb = _read(_find_lesson(lesson, book_dir))
    return [c.source for c in nb.cells if _is_solution(c)]


@dataclass
class Solution:
    lesson: str
    number: int
    source: str

    def __str__(self) -> str:
        return (f"Reference solution {self.number} of lesson {self.lesson} "
                f"(read it, then write your own):\n\n{self.source}")

    def _repr_markdown_(self) -> str:
        lang = "c" if _is_c_cell(self.source) else "python"
        return (f"**Reference solution {self.number} of lesson {self.lesson}** "
                f"(read it, then write your own):\n\n```{lang}\n{self.source}\n```")

    def __repr__(self) -> str:
        return str(self)


def solution(lesson: str | int, number: int, book_dir: Path = BOOK_DIR) -> Solution:
    """Show the reference solution ``number`` (1, 2, ...) of ``lesson`` ("01" or 1); not run."""
    path = _find_lesson(lesson, book_dir)
    found = solutions(path.stem, book_dir)
    if not 1 <= number <= len(found):
        raise ValueError(f"lesson {_lesson_key(path)} has {len(found)} exercise(s) with a "
                         f"reference solution; ask for 1 to {len(found)}")
    return Solution(_lesson_key(path), number, _without_test_markers(_without_markers(found[number - 1])))
