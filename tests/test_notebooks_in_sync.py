"""Every committed lesson notebook was built from its source as it is now."""
import jupytext
import nbformat
import pytest

import labsupport as lab

SOURCES = sorted((lab.ROOT / "src" / "lessons").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("src", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_matches_its_source(src):
    book = nbformat.read(lab.ROOT / "notebooks" / f"{src.stem}.ipynb", as_version=4)
    new = jupytext.read(src)
    # the build appends one generated markdown cell naming the platform the outputs were
    # recorded on (tools/build_notebooks.py: metadata {"labsupport": "platform"}); it has no source
    stamps = [i for i, c in enumerate(book.cells) if c.get("metadata", {}).get("labsupport") == "platform"]
    assert stamps == [len(book.cells) - 1], ("the book needs exactly one platform cell, its last: rebuild it with "
                                             f"tools/build_notebooks.py {src.relative_to(lab.ROOT)}")
    assert all("Outputs recorded on:" in book.cells[i].source for i in stamps)
    book.cells = [c for i, c in enumerate(book.cells) if i not in stamps]
    assert [(c.cell_type, c.source) for c in book.cells] == [(c.cell_type, c.source) for c in new.cells], (
        f"notebooks/{src.stem}.ipynb is out of date: run tools/build_notebooks.py {src.relative_to(lab.ROOT)}"
        " (or --text-only when only markdown changed)")
    code = [c for c in book.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.get("execution_count") for c in code), "a code cell was never executed"
