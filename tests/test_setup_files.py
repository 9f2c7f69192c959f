"""The set-up files agree: conda/Binder, apt.txt, pyproject.toml and the doctor's install lines."""
import re
import tomllib

import labsupport as lab
from labsupport import toolchain

ROOT = lab.ROOT


def _apt():
    return {line.strip() for line in (ROOT / "apt.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def test_environment_yml_installs_the_project_itself():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*-e \.\[test\]\s*$", text, re.M), "environment.yml must pip-install -e .[test]"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in deps}
    listed_twice = [n for n in names if re.search(rf"^\s*-\s*{re.escape(n)}\b", text, re.M | re.I)]
    assert not listed_twice, f"listed in both environment.yml and pyproject.toml: {listed_twice}"


def test_every_system_tool_the_doctor_names_is_in_apt_txt():
    apt = _apt() | {"nodejs", "npm"}          # ./lab adds node only when it is missing
    for tool in toolchain.TOOLS:
        if tool.install.startswith("sudo apt-get install"):
            pkgs = tool.install.split("-y", 1)[1].split()
            assert set(pkgs) <= apt, f"{tool.name}: {pkgs} not all in apt.txt"


def test_apt_txt_has_no_versioned_names():
    # a version in a package name (libclang-rt-14-dev) breaks set-up on the next release
    versioned = [p for p in _apt() if re.search(r"-\d+(-dev)?$", p) and not p.endswith("-x86-64")]
    assert not versioned, versioned


