"""A real nbgrader round trip, as a teacher runs it (README, TEACHING.md).

``student-copy --nbgrader --lesson NN`` writes the source, ``nbgrader generate_assignment``
releases it, and ``nbgrader autograde`` grades five submissions of lesson 00: the reference
solutions (full marks), the untouched release (zero), one wrong answer per exercise (that
exercise's point lost) and a tampered release (graded lines deleted, ``lab.check`` and
``graded_end`` rebound, the raise switched off: no point gained). Every lesson's source is
released too, and each released C cell still compiles.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labsupport import workcopy

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.slow

WRONG = Path(__file__).resolve().parent / "wrong_answers"
LESSON = "00_start_here"


def _run(course: Path, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run([sys.executable, "-m", *args], cwd=course, env=env, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, f"{' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\nc.Execute.timeout = 300\n")
    for book in sorted(workcopy.BOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        key = book.stem[:2]
        r = _run(root, "labsupport", "student-copy", "--nbgrader", "--lesson", key,
                 "--out", str(root / "source" / f"lesson{key}"))
        assert "c.Execute.timeout" in r.stdout
        _run(root, "nbgrader", "generate_assignment", f"lesson{key}", "--force")
    return root


def test_every_lesson_is_released_with_c_stubs_that_compile(course):
    import labsupport as lab
    for book in sorted(workcopy.BOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        released = nbformat.read(course / "release" / f"lesson{book.stem[:2]}" / book.name, 4)
        sols = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(sols) == len(workcopy.solutions(book.stem)), book.name
        graded = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(graded) == len(sols) and all(c.metadata["nbgrader"]["locked"] for c in graded), book.name
        for c in sols:
            if c.source.startswith("%%cffi") and "{" not in c.source.split("\n", 1)[0]:
                if " -" in c.source.split("\n", 1)[0]:
                    continue               # needs the lesson's libraries: compiled by the autograde below
                assert lab.build_c(c.source.split("\n", 1)[1]).not_done, (book.name, c.source)


def _submission(course: Path, student: str, answers: dict, edit=None):
    """The released lesson with solution cells replaced by ``answers`` ({n: source})."""
    released = course / "release" / "lesson00" / f"{LESSON}.ipynb"
    nb = nbformat.read(released, 4)
    sols = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    for n, src in answers.items():
        sols[n - 1].source = src
    if edit:
        edit(nb)
    target = course / "submitted" / student / "lesson00"
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target / f"{LESSON}.ipynb")


def _tamper(nb):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "\n".join(line for line in c.source.split("\n") if "_graded" not in line)
    last = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")][-1]
    last.source += ("\nimport labsupport as lab, labsupport.exercises as ex\n"
                    "lab.check = lambda *a, **k: True\nex.graded_end = lambda: None\nex.RAISE_ON_FAIL = False\n")


def test_autograde_scores_what_the_answers_deserve(course):
    from nbgrader.api import Gradebook
    ref = dict(enumerate(workcopy.solutions(LESSON), 1))
    import importlib.util
    spec = importlib.util.spec_from_file_location("wrong00", WRONG / f"{LESSON}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    first_wrong = {n: (v if isinstance(v, str) else v[0][1]) for n, v in mod.WRONG.items()}
    _submission(course, "reference", ref)
    _submission(course, "untouched", {})
    for n in ref:
        _submission(course, f"wrong{n}", {**ref, n: first_wrong[n]})
    _submission(course, "tampered", {}, edit=_tamper)
    _run(course, "nbgrader", "autograde", "lesson00", "--force")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        def score(student, n=None):
            if n is None:
                return gb.find_submission("lesson00", student).score
            return gb.find_grade(f"lesson00-ex{n}-check", LESSON, "lesson00", student).score
        total = len(ref)
        assert score("reference") == total
        assert score("untouched") == 0
        assert score("tampered") == 0
        for n in ref:
            assert score(f"wrong{n}", n) == 0 and score(f"wrong{n}") == total - 1, n
    graded = nbformat.read(course / "autograded" / "untouched" / "lesson00" / f"{LESSON}.ipynb", 4)
    solutions = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert not any(o.get("output_type") == "error" for c in solutions if c.source.startswith("%%cffi")
                   for o in c.outputs), "a released C stub did not compile"
    shutil.rmtree(course / "autograded", ignore_errors=True)
