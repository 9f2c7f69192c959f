import nbformat

from labsupport.__main__ import student_copy


def test_student_copy_removes_solutions_and_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    sol = nbformat.v4.new_code_cell("def f(): return 42", metadata={"tags": ["solution"]})
    sol.outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), sol, nbformat.v4.new_code_cell("check(f)")]
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(nb, src / "01_x.ipynb")
    out = student_copy(src, tmp_path / "out")
    copy = nbformat.read(out[0], as_version=4)
    assert copy.cells[1].source == "# Your solution here\n"
    assert copy.cells[1].outputs == [] and "solution" not in copy.cells[1].metadata["tags"]
    assert copy.cells[2].source == "check(f)"
