"""The container definition installs exactly what the set-up files name, and nothing else."""
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
    assert '"./lab", "start"' in DOCKERFILE.read_text()
    ignored = (lab.ROOT / ".dockerignore").read_text().split()
    assert {".venv/", "node_modules/", "work/"} <= set(ignored)
