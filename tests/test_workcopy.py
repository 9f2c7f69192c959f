"""The learner's working copy: made once, never overwritten, no outputs, no solutions."""
import json
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

import labsupport as lab
from labsupport import workcopy

BOOK = workcopy.BOOK_DIR


def _lesson(path, cells):
    nb = nbformat.v4.new_notebook()
    for kind, src, tags in cells:
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(src)
        if tags:
            cell.metadata["tags"] = tags
        if kind == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="an output\n")]
            cell.execution_count = 1
        nb.cells.append(cell)
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path):
    d = tmp_path / "book"
    d.mkdir()
    _lesson(d / "00_first.ipynb", [
        ("markdown", "# Lesson", None),
        ("code", "import labsupport as lab", None),
        ("code", "def f(n):\n    return n * 2   # SECRET_WHOLE", ["solution"]),
        ("code", "lab.check(f, [lab.Case(args=(2,), expected=4, hint='double it')])", None),
        ("code", "def g(n):\n    # ### BEGIN SOLUTION\n    return n + 1   # SECRET_PART\n    # ### END SOLUTION",
         ["solution"]),
        ("code", "lab.check(g, [lab.Case(args=(1,), expected=2)])", None),
        ("code", "%%cffi c\nint h(void) { return 7; /* SECRET_C */ }", ["solution"]),
    ])
    return d


def _text(nb):
    return "\n".join(c.source for c in nb.cells)


def test_copy_has_no_outputs_and_no_solution_text(book, tmp_path):
    work = tmp_path / "work"
    report = workcopy.sync(work, book)
    assert report.created == ["00_first"]
    nb = nbformat.read(work / "00_first.ipynb", 4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")
    text = _text(nb)
    assert "SECRET" not in text
    assert "def g(n):" in text                        # the starter outside the markers stays
    assert 'lab.solution("00", 2)' in text and 'lab.solution("00", 3)' in text
    assert text.count("%%cffi c") == 1                # a C solution keeps its magic line


def test_edits_survive_and_new_lessons_arrive(book, tmp_path):
    work = tmp_path / "work"
    workcopy.sync(work, book)
    mine = work / "00_first.ipynb"
    nb = nbformat.read(mine, 4)
    nb.cells[3].source = "def f(n):\n    return n + n   # my own answer"
    nbformat.write(nb, mine)
    before = mine.read_bytes()
    _lesson(book / "01_second.ipynb", [("markdown", "# Two", None)])
    report = workcopy.sync(work, book)
    assert report.created == ["01_second"] and report.kept == ["00_first"]
    assert mine.read_bytes() == before
    assert report.changed == []


def test_a_changed_lesson_is_reported_not_clobbered(book, tmp_path):
    work = tmp_path / "work"
    workcopy.sync(work, book)
    before = (work / "00_first.ipynb").read_bytes()
    nb = nbformat.read(book / "00_first.ipynb", 4)
    nb.cells[0].source = "# Lesson, corrected"
    nbformat.write(nb, book / "00_first.ipynb")
    report = workcopy.sync(work, book)
    assert report.changed == ["00_first"] and "./lab reset 00" in str(report)
    assert (work / "00_first.ipynb").read_bytes() == before


def test_reset_keeps_a_backup(book, tmp_path):
    work = tmp_path / "work"
    workcopy.sync(work, book)
    (work / "00_first.ipynb").write_text((work / "00_first.ipynb").read_text().replace("Lesson", "Mine"))
    backup = workcopy.reset("00", work, book)
    assert backup.parent == work / "backup" and "Mine" in backup.read_text()
    assert "Mine" not in (work / "00_first.ipynb").read_text()
    with pytest.raises(ValueError, match="the lessons are 00"):
        workcopy.reset("07", work, book)


def test_solution_shows_the_reference(book):
    s = workcopy.solution("00", 2, book)
    assert "SECRET_PART" in str(s) and "SECRET_PART" in s._repr_markdown_()
    assert "```c" in workcopy.solution(0, 3, book)._repr_markdown_()
    with pytest.raises(ValueError, match="ask for 1 to 3"):
        workcopy.solution("00", 4, book)


def test_nbgrader_copy(book, tmp_path):
    out = tmp_path / "nbg"
    (path,) = workcopy.write_copies(out, book, nbgrader=True)
    nb = nbformat.read(path, 4)
    sols = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(sols) == 3
    # a whole Python solution: the names it binds, stubbed, then the solution inside the markers
    assert "def f(n):\n    raise NotImplementedError" in sols[0].source
    assert sols[0].source.endswith("### BEGIN SOLUTION\ndef f(n):\n    return n * 2   # SECRET_WHOLE\n### END SOLUTION")
    # a C solution: the markers sit inside C comments, so nbgrader's Python stub lands in one
    assert sols[2].source.startswith("%%cffi c\n/* Write your C after this comment")
    released = _clear_solutions(sols[2].source)
    assert "raise NotImplementedError()" in released and "SECRET_C" not in released
    c = lab.build_c(released.split("\n", 1)[1])
    assert c.not_done                               # compiles, and says "not done yet"
    assert not lab.build_c(sols[2].source.split("\n", 1)[1]).not_done   # the teacher's source compiles too
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 2 and all("check(" in c.source for c in graded)
    assert all(c.source.startswith(workcopy.GRADED_BEGIN) and c.source.endswith(workcopy.GRADED_END)
               for c in graded)
    assert all(c.metadata["nbgrader"]["locked"] for c in graded)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def _clear_solutions(source):
    """What nbgrader's ClearSolutions does with its default Python stub (nbgrader 0.9)."""
    import re
    out, inside = [], False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            inside = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
        elif "END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def test_stubs_parse_and_say_not_done(book, tmp_path):
    """Every stub of the fixture parses; running it leaves names the checks call "not done"."""
    import ast
    nb = workcopy.learner_notebook(book / "00_first.ipynb")
    sols = [c for c in nb.cells if c.metadata.get("tags") == ["solution"]]
    ns = {}
    exec(sols[0].source, ns)
    exec(sols[1].source, ns)
    assert lab.check(ns["f"], [lab.Case((2,), 4)]).not_done
    assert lab.check(ns["g"], [lab.Case((1,), 2)]).not_done
    assert "LAB_NOT_DONE();" in sols[2].source and lab.build_c(sols[2].source.split("\n", 1)[1]).not_done
    for src in (sols[0].source, sols[1].source):
        ast.parse(src)


def test_python_stub_kinds():
    stub = workcopy._stub('x = 3\ny, z = 1, 2\nclass K(Base):\n    """doc"""\n    def m(self, a=1):\n'
                          '        return a\ndef f(a, *, b=2) -> int:\n    """what f does"""\n    return a\n',
                          "05", 1)
    ns = {"Base": object}
    exec(stub, ns)
    assert ns["x"] is ... and ns["y"] is ... and ns["z"] is ...
    assert ns["f"].__doc__ == "what f does" and ns["K"].__doc__ == "doc"
    with pytest.raises(NotImplementedError):
        ns["f"](1)
    with pytest.raises(NotImplementedError):
        ns["K"]().m()


def test_marker_region_in_a_literal_stays_valid():
    src = 'answer = {\n    # ### BEGIN SOLUTION\n    "q1": 3,\n    # ### END SOLUTION\n}'
    stub = workcopy._stub(src, "02", 1)
    ns = {}
    exec(stub, ns)
    assert ns["answer"] == {}


def test_learner_copy_has_no_test_markers(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    _lesson(d / "00_x.ipynb", [("code", "# NBVAL_IGNORE_OUTPUT\nprint(1)", None),
                               ("code", "def f():\n    return 1", ["solution"])])
    nb = workcopy.learner_notebook(d / "00_x.ipynb")
    assert "NBVAL" not in _text(nb)
    sol = workcopy.solution("00", 1, d)
    assert "BEGIN SOLUTION" not in str(sol)


def test_resets_in_the_same_second_keep_every_backup(book, tmp_path):
    work = tmp_path / "work"
    workcopy.sync(work, book)
    backups = [workcopy.reset("00", work, book) for _ in range(3)]
    assert len(set(backups)) == 3 and all(b.exists() for b in backups)


def test_raise_on_fail(monkeypatch):
    from labsupport import exercises
    monkeypatch.setattr(exercises, "RAISE_ON_FAIL", True)
    with pytest.raises(AssertionError, match="expected 3"):
        lab.check(lambda: 2, [lab.Case(expected=3)])


def test_every_real_lesson_copy_is_clean(tmp_path):
    """The real book: each working copy has no outputs and no line that only a solution has."""
    work = tmp_path / "work"
    workcopy.sync(work, BOOK)
    for book_path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        book_nb = nbformat.read(book_path, 4)
        copy = nbformat.read(work / book_path.name, 4)
        assert all(not c.get("outputs") for c in copy.cells if c.cell_type == "code"), book_path.name
        others = {line.strip() for c in book_nb.cells if "solution" not in c.metadata.get("tags", [])
                  for line in c.source.splitlines()}
        interface = {line.strip() for c in copy.cells if "solution" in c.metadata.get("tags", [])
                     for line in c.source.splitlines() if line.strip().startswith(("def ", "class ", '"'))}
        copy_lines = {line.strip() for c in copy.cells for line in c.source.splitlines()}
        for cell in book_nb.cells:
            if "solution" not in cell.metadata.get("tags", []):
                continue
            lines = cell.source.splitlines()
            region = workcopy._marker_region(lines)
            secret = lines[region[0] + 1:region[1]] if region else lines
            starter = {s.strip() for s in (lines[:region[0]] + lines[region[1] + 1:] if region else [])}
            leaked = {s.strip() for s in secret if len(s.strip()) > 12} - others - starter - interface
            assert not (leaked & copy_lines), (book_path.name, leaked & copy_lines)
        assert len(workcopy.solutions(book_path.stem)) >= 2, f"{book_path.name}: fewer than two exercises"


def test_command_line(tmp_path):
    work = tmp_path / "w"
    run = lambda *a: subprocess.run([sys.executable, "-m", "labsupport", *a], capture_output=True, text=True)
    r = run("work", "--dir", str(work))
    assert r.returncode == 0 and "working copies created" in r.stdout
    r = run("work", "--dir", str(work), "--reset", "00")
    assert r.returncode == 0 and "your old copy is" in r.stdout
    r = run("student-copy", "--out", str(tmp_path / "s"), "--nbgrader")
    assert r.returncode == 0 and (tmp_path / "s" / "00_start_here.ipynb").exists()
    meta = json.loads((tmp_path / "s" / "00_start_here.ipynb").read_text())
    assert any(c.get("metadata", {}).get("nbgrader") for c in meta["cells"])
    shutil.rmtree(tmp_path / "s")


def test_a_whole_cell_stub_keeps_imports_decorators_and_fields():
    """A stub of a class keeps what its decorators mean (a @property stays a property, so
    ``if obj.released:`` raises "not done" instead of testing a bound method), its fields
    and the imports they need; every body still raises NotImplementedError."""
    src = textwrap.dedent('''
        from dataclasses import dataclass
        @dataclass
        class Handle:
            x: int
            @property
            def released(self) -> bool:
                return self.x == 0
        def helper(a):
            return a + 1
    ''')
    stub = workcopy._python_names_stub(src, 3, 'lab.solution("08", 3)')
    ns: dict = {}
    exec(stub, ns)
    h = ns["Handle"](5)
    with pytest.raises(NotImplementedError):
        h.released
    with pytest.raises(NotImplementedError):
        ns["helper"](1)
    assert "return self.x == 0" not in stub
