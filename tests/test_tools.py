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


def test_noptrace_forbids_ptrace_and_the_doctor_says_which_cells_go_off(tmp_path):
    """tools/noptrace.c runs a command as a container's default seccomp profile would
    (ptrace fails with EPERM); under it the capability check reports ptrace missing and names
    the cells it switches off, instead of a LeakSanitizer crash in a lesson."""
    exe = tmp_path / "noptrace"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(TOOLS / "noptrace.c")], check=True)
    code = ("from labsupport import capability as c; r = c.capabilities(['ptrace']); print(r)")
    out = subprocess.run([str(exe), sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=lab.ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "LeakSanitizer could not run" in out.stdout and "SYS_PTRACE" in out.stdout, out.stdout
    assert "07" in out.stdout and "LeakSanitizer (no ptrace)" in out.stdout, out.stdout
