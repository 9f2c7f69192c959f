"""Every exercise, as a learner meets it: untouched it says "not done yet", each seeded wrong
answer is caught with the hint for its mistake, and the reference solution passes.

``tests/wrong_answers/NN_topic.py`` holds ``WRONG = {n: [(kind, source, hint_fragment), ...]}``:
for the n-th cell tagged ``solution`` of that lesson, whole replacements of the cell, each of a
kind: ``"partial"`` (one real mistake), ``"gaming"`` (hard-coded numbers, the check's own helpers
or oracle called, values equal to anything, the check's limits changed, the experiment run instead
of predicted) or ``"forbidden"`` (what the task forbids, or undefined behaviour the check must
exercise). ``hint_fragment`` must appear in the verdict (case-insensitive): the hint follows the
mistake.

An exercise whose right answer is judged against a measurement of the machine it runs on (a
prediction of timings) is named in the module's ``MEASURED = {n: "why"}``: its reference solution
must get a verdict, ✔ or ✘, since the machine's own run decides (its wrong answers are far off).

The lesson's working copy (stubs in place, as ``./lab start`` writes it) runs in one real kernel,
cell by cell. At each solution cell the cells from it to its ``check``-tagged cell run once with
the untouched stub ("not done yet", nothing raised), once per wrong answer (✘ with the hint,
nothing raised after the answer's own cell) and once with the reference solution (✔), which
also leaves the kernel as the next section expects.
"""
import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

from conftest import selected_params
from labsupport import workcopy

HERE = Path(__file__).resolve().parent
WRONG_DIR = HERE / "wrong_answers"
LESSONS = sorted(p.stem for p in WRONG_DIR.glob("[0-9][0-9]_*.py"))
KINDS = {"partial", "gaming", "forbidden"}


def _module(stem):
    spec = importlib.util.spec_from_file_location(f"wrong_{stem}", WRONG_DIR / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _wrong(stem) -> dict:
    mod = _module(stem)
    out = {}
    for n, entries in mod.WRONG.items():
        if isinstance(entries, str):                       # the old form: one partial answer
            entries = [("partial", entries, "")]
        out[n] = [tuple(e) for e in entries]
    return out


def _solution_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        text = out.get("text", "")
        parts.append(text if isinstance(text, str) else "".join(text))
        parts.append(out.get("data", {}).get("text/plain", ""))
        if out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


def _errored(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _is_verdict(text: str) -> bool:
    return "✘" in text or "✔" in text or workcopy_not_done() in text


def workcopy_not_done() -> str:
    from labsupport.exercises import NOT_DONE_MESSAGE
    return NOT_DONE_MESSAGE.split(":")[0]


@pytest.mark.parametrize("stem", LESSONS)
def test_every_exercise_has_three_kinds_of_wrong_answers(stem):
    nb = nbformat.read(workcopy.BOOK_DIR / f"{stem}.ipynb", 4)
    n_solutions = len(_solution_indices(nb))
    wrong = _wrong(stem)
    assert set(wrong) == set(range(1, n_solutions + 1)), \
        f"{stem}: wrong answers for {sorted(wrong)}, solution cells 1..{n_solutions}"
    problems = []
    for n, entries in sorted(wrong.items()):
        kinds = {e[0] for e in entries}
        if len(entries) < 3 or not KINDS <= kinds:
            problems.append(f"exercise {n}: {len(entries)} wrong answer(s) of kinds {sorted(kinds)}; "
                            f"at least three, of the kinds {sorted(KINDS)}")
        problems += [f"exercise {n}: unknown kind {e[0]!r}" for e in entries if e[0] not in KINDS]
    assert not problems, f"{stem}:\n" + "\n".join(problems)


@pytest.mark.parametrize("stem", LESSONS)
def test_every_exercise_has_a_tagged_check_cell(stem):
    nb = nbformat.read(workcopy.BOOK_DIR / f"{stem}.ipynb", 4)
    sols = _solution_indices(nb)
    missing = []
    for n, i in enumerate(sols, 1):
        end = sols[n] if n < len(sols) else len(nb.cells)
        if not any("check" in c.metadata.get("tags", []) for c in nb.cells[i + 1:end]):
            missing.append(n)
    assert not missing, f"{stem}: exercises {missing} have no cell tagged 'check' after their solution"


class _Kernel:
    """One kernel running a notebook's cells on demand."""

    def __init__(self, nb):
        from nbclient import NotebookClient
        self.nb = nb
        self.client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(workcopy.BOOK_DIR)}})

    def run(self, i: int):
        cell = self.nb.cells[i]
        if cell.cell_type == "code":
            cell.outputs = []
            self.client.execute_cell(cell, i)
        return cell


def _check_index(nb, i: int, end: int, kernel: _Kernel) -> int:
    """The cell that gives solution i's verdict: tagged ``check``, else (an untagged lesson) the
    first cell after the solution that prints one, found by running the cells in order."""
    for j in range(i + 1, end):
        if "check" in nb.cells[j].metadata.get("tags", []):
            return j
    for j in range(i + 1, end):
        cell = kernel.run(j)
        if _is_verdict(_text(cell)) or _errored(cell):
            return j
    return end - 1


def _as_a_learner(stem) -> list[str]:
    """Each exercise of the lesson's working copy, in one kernel: the untouched stub, every
    seeded wrong answer, the reference; what went wrong, as lines."""
    book = workcopy.BOOK_DIR / f"{stem}.ipynb"
    references = [c.source for c in nbformat.read(book, 4).cells if "solution" in c.metadata.get("tags", [])]
    nb = workcopy.learner_notebook(book)
    sols = _solution_indices(nb)
    wrong = _wrong(stem)
    measured = getattr(_module(stem), "MEASURED", {})
    kernel = _Kernel(nb)
    problems = []
    with kernel.client.setup_kernel():
        i = 0
        while i < len(nb.cells):
            if i not in sols:
                kernel.run(i)
                i += 1
                continue
            n = sols.index(i) + 1
            end = sols[n] if n < len(sols) else len(nb.cells)
            stub = nb.cells[i].source
            kernel.run(i)
            j = _check_index(nb, i, end, kernel)

            def attempt(source):
                nb.cells[i].source = source
                cells = [kernel.run(k) for k in range(i, j + 1)]
                text = "\n".join(_text(c) for c in cells[1:])
                return text, any(_errored(c) for c in cells[1:]), cells[0]

            text, errored, _ = attempt(stub)
            if errored or workcopy_not_done() not in text:
                problems.append(f"exercise {n}, untouched: expected 'not done yet' and no error:\n{text[-600:]}")
            for kind, source, fragment in wrong.get(n, []):
                text, errored, answer = attempt(source)
                label = f"exercise {n}, {kind} wrong answer"
                if _errored(answer) and "✘" not in text:
                    problems.append(f"{label}: its own cell raised, so the check never saw it:\n{_text(answer)[-400:]}")
                elif errored:
                    problems.append(f"{label}: the check cell raised instead of a verdict:\n{text[-600:]}")
                elif "✘" not in text or "hint:" not in text:
                    problems.append(f"{label}: not caught with a hint:\n{text[-600:]}")
                elif fragment and fragment.lower() not in text.lower():
                    problems.append(f"{label}: caught, but the hint is not the one for its mistake "
                                    f"(wanted {fragment!r}):\n{text[-600:]}")
            text, errored, _ = attempt(references[n - 1])
            if n in measured:
                if errored or not ("✔" in text or "✘" in text):
                    problems.append(f"exercise {n}, reference solution: expected a verdict:\n{text[-600:]}")
            elif errored or "✔" not in text or "✘" in text:
                problems.append(f"exercise {n}, reference solution: expected ✔:\n{text[-600:]}")
            i = j + 1
    return problems


# Two lessons at once, each in its own kernel, started ahead of the test that reads the result
# (the machine has 2 cores; a lesson's cells mostly run one process at a time).
AHEAD = int(os.environ.get("LABSUPPORT_WRONG_AHEAD", "0"))   # 1: a kernel started in a thread once missed its 60 s start-up


@pytest.fixture(scope="module")
def learner_runs(request):
    from concurrent.futures import ThreadPoolExecutor
    order = selected_params(request, "test_exercises_as_a_learner_meets_them")
    pool = ThreadPoolExecutor(max_workers=1 + AHEAD)
    started: dict = {}

    def take(stem):
        if not AHEAD:                        # one by one, in this thread
            return _as_a_learner(stem)
        i = order.index(stem)
        for s in order[i:i + 1 + AHEAD]:
            if s not in started:
                started[s] = pool.submit(_as_a_learner, s)
        return started.pop(stem).result()
    yield take
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.as_learner          # CI runs it as its regular user, who is the one meeting them
@pytest.mark.parametrize("stem", LESSONS)
def test_exercises_as_a_learner_meets_them(stem, learner_runs):
    problems = learner_runs(stem)
    assert not problems, f"{stem}:\n" + "\n\n".join(problems)
