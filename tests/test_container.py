"""The container definition installs exactly what the set-up files name, and nothing else."""
import os
import re

import labsupport as lab

DOCKERFILE = lab.ROOT / "container" / "Dockerfile"
BOOTSTRAP = {"ca-certificates", "git", "python3", "nodejs", "npm"}   # what a bare Debian image lacks


def _runs():
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line[4:] for line in text.splitlines() if line.startswith("RUN ")]


def test_system_packages_come_from_apt_txt():
    text = DOCKERFILE.read_text()
    assert "COPY apt.txt" in text
    runs = " ".join(_runs())
    assert "xargs -a /tmp/apt.txt apt-get install" in runs
    named = set()
    for m in re.finditer(r"apt-get install ([^&]+)", runs):
        named |= {w for w in m.group(1).split() if not w.startswith("-")}
    assert named == BOOTSTRAP, named


def test_python_and_npm_packages_come_from_the_setup():
    runs = _runs()
    assert any("./lab setup" in r for r in runs)
    assert not any("pip install" in r or "npm install" in r for r in runs)


def test_the_image_starts_the_course():
    # the image's command is container/start.sh, which ends in ./lab start (after starting a
    # background re-check of zig's cache, which a new container's unpacked layers need)
    assert '"container/start.sh"' in DOCKERFILE.read_text()
    start = (lab.ROOT / "container" / "start.sh").read_text()
    assert start.rstrip().splitlines()[-1] == 'exec ./lab start "$@"'
    assert os.access(lab.ROOT / "container" / "start.sh", os.X_OK)
    ignored = (lab.ROOT / ".dockerignore").read_text().split()
    assert {".venv/", "node_modules/", "work/"} <= set(ignored)
