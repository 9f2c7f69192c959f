"""README's run command serves JupyterLab with the course: start the server as `./lab start`
does (without a browser) and ask it for the course's notebooks, the kernel and the widget
extension."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, token = _free_port(), "labtest"
    jupyter = Path(sys.executable).parent / "jupyter"
    args = [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--notebook-dir={ROOT}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("rt"))}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.2)
    yield base, token
    proc.terminate()
    proc.wait(timeout=30)


def _get(server, path):
    base, token = server
    sep = "&" if "?" in path else "?"
    with urllib.request.urlopen(f"{base}{path}{sep}token={token}", timeout=30) as r:
        return r.read().decode()


def test_serves_the_course_notebooks(server):
    listing = json.loads(_get(server, "/api/contents/notebooks"))
    names = {item["name"] for item in listing["content"]}
    assert "00_start_here.ipynb" in names
    nb = json.loads(_get(server, "/api/contents/notebooks/00_start_here.ipynb"))
    assert nb["type"] == "notebook" and nb["content"]["cells"]


def test_has_the_python_kernel(server):
    specs = json.loads(_get(server, "/api/kernelspecs"))
    assert "python3" in specs["kernelspecs"]


def test_widget_extension_is_installed(server):
    page = _get(server, "/lab")
    assert "@jupyter-widgets/jupyterlab-manager" in page
