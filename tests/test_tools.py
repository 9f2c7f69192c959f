"""Contributor tools: the cross-platform report (tools/nbval_report.py) and scripts' syntax."""
import subprocess
import sys

import nbformat

import labsupport as lab

TOOLS = lab.ROOT / "tools"


def test_nbval_report_names_the_differing_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    same = nbformat.v4.new_code_cell("print('same')")
    same.outputs = [nbformat.v4.new_output("stream", name="stdout", text="same\n")]
    differs = nbformat.v4.new_code_cell("print('glibc 2.41')")
    differs.outputs = [nbformat.v4.new_output("stream", name="stdout", text="glibc 2.36\n")]
    nb.cells = [same, differs]
    for i, c in enumerate(nb.cells, 1):
        c.execution_count = i
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "03_demo.ipynb"
    nbformat.write(nb, path)
    xml = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env",
                    "-p", "no:cacheprovider", "-q", f"--junitxml={xml}"], capture_output=True, cwd=tmp_path)
    out = subprocess.run([sys.executable, str(TOOLS / "nbval_report.py"), str(xml)],
                         capture_output=True, text=True).stdout
    assert "1 notebook cells differ" in out and "03_demo.ipynb" in out, out
    assert "Cell 1" in out and "glibc" in out, out


def test_scripts_parse():
    for script in [TOOLS / "debian.sh", lab.ROOT / ".ci" / "run", lab.ROOT / ".ci" / "as-learner", lab.ROOT / "lab"]:
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, script
