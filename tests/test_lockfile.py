"""requirements.lock: the exact versions ./lab setup installs, read as pip and uv read it."""
from labsupport import lockfile


def test_the_lock_pins_what_the_lessons_depend_on():
    pins = lockfile.read_lock()
    for name in ("cmake", "wasmtime", "ziglang", "z3-solver", "cffi", "jupyterlab", "nbgrader", "matplotlib"):
        assert name in pins, name


def test_this_environment_is_the_locked_one():
    """./lab setup installed exactly the lock here (CI's and a learner's set are the same)."""
    n, differ = lockfile.compare_installed()
    assert n > 100 and not differ, differ


def test_markers_and_diff(tmp_path):
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.write_text("numpy==2.4.6 ; python_full_version < '3.12'\nnumpy==2.5.5 ; python_full_version >= '3.12'\n"
                   "cffi==2.1.1\n    # via foo\n")
    new.write_text("numpy==2.4.6 ; python_full_version < '3.12'\nnumpy==2.5.5 ; python_full_version >= '3.12'\n"
                   "cffi==2.2.0\n")
    assert lockfile.read_lock(old)["numpy"] in ("2.4.6", "2.5.5")
    assert lockfile.diff(old, new) == ["cffi: 2.1.1 -> 2.2.0"]


def test_setup_installs_with_the_lock_and_honours_pip_config():
    from labsupport.toolchain import ROOT
    text = (ROOT / "lab").read_text()
    assert text.count("-c requirements.lock") == 2            # uv and the pip fallback
    assert "UV_SYSTEM_CERTS=1" in text and "UV_DEFAULT_INDEX" in text
