"""Each exercise's check fails, with its hint, on a wrong answer a learner would write.

``tests/wrong_answers/NN_topic.py`` holds ``WRONG = {n: "source"}``: a whole
replacement for the n-th cell tagged ``solution`` of that lesson. The lesson's
working copy (solutions stubbed, as a learner gets it) is run in a real kernel
with every wrong answer in place; after each one, the first check verdict
printed must be a failure with a hint. (That the reference solutions pass is
what nbval checks on the book.)
"""
import importlib.util
from pathlib import Path

import pytest

from labsupport import workcopy

HERE = Path(__file__).resolve().parent
WRONG_DIR = HERE / "wrong_answers"
LESSONS = sorted(p.stem for p in WRONG_DIR.glob("[0-9][0-9]_*.py"))


def _wrong(stem):
    spec = importlib.util.spec_from_file_location(f"wrong_{stem}", WRONG_DIR / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.WRONG


def _text(cell):
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"]))
        data = out.get("data", {})
        parts.append(data.get("text/plain", ""))
        if out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("stem", LESSONS)
def test_checks_catch_the_seeded_wrong_answers(stem):
    from nbclient import NotebookClient
    book = workcopy.BOOK_DIR / f"{stem}.ipynb"
    assert book.exists(), f"{book} missing"
    wrong = _wrong(stem)
    nb = workcopy.learner_notebook(book)
    solution_cells = [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    assert set(wrong) == set(range(1, len(solution_cells) + 1)), \
        f"{stem}: wrong answers for {sorted(wrong)}, solution cells 1..{len(solution_cells)}"
    for n, i in enumerate(solution_cells, 1):
        nb.cells[i].source = wrong[n]
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(workcopy.BOOK_DIR)}}).execute()
    problems = []
    for n, i in enumerate(solution_cells, 1):
        end = solution_cells[n] if n < len(solution_cells) else len(nb.cells)
        verdict = None
        for cell in nb.cells[i + 1:end]:
            text = _text(cell)
            errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            if "✘" in text or "✔" in text or errored:
                verdict = text
                break
        if verdict is None:
            problems.append(f"exercise {n}: no check verdict after the wrong answer")
        elif "✘" not in verdict or "hint:" not in verdict:
            problems.append(f"exercise {n}: the wrong answer was not caught with a hint:\n{verdict[-600:]}")
    assert not problems, f"{stem}:\n" + "\n".join(problems)
