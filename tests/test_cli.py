import subprocess
import sys

import nbformat

from labsupport.workcopy import write_copies


def test_student_copy_removes_solutions_and_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    sol = nbformat.v4.new_code_cell("def f(): return 42", metadata={"tags": ["solution"]})
    sol.outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), sol, nbformat.v4.new_code_cell("check(f)")]
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(nb, src / "01_x.ipynb")
    out = write_copies(tmp_path / "out", src)
    copy = nbformat.read(out[0], as_version=4)
    assert copy.cells[0].metadata["tags"] == ["working-copy-note"]
    assert "return 42" not in copy.cells[2].source and 'lab.solution("01", 1)' in copy.cells[2].source
    assert copy.cells[2].outputs == []
    assert copy.cells[3].source == "check(f)"


def test_doctor_command():
    r = subprocess.run([sys.executable, "-m", "labsupport", "doctor"], capture_output=True, text=True)
    assert r.returncode == 0 and "gcc" in r.stdout
