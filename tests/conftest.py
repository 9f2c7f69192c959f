import os
import shutil
import tempfile
from pathlib import Path

import pytest

# zig's wasi libc (~15 s to build, ~55 MB) is shared with the course's normal cache;
# everything else the tests build goes to a cache of their own, so "cold" really is cold.
os.environ.setdefault("LABSUPPORT_ZIG_CACHE", str(Path.home() / ".cache" / "labsupport" / "zig"))
_OWN_CACHE = None
if "LABSUPPORT_CACHE" not in os.environ:
    _OWN_CACHE = os.environ["LABSUPPORT_CACHE"] = tempfile.mkdtemp(prefix="labsupport-test-cache-")
# the precompiled cffi prologue (2.5 s of gcc) is built once per run, not once per fresh cache
os.environ.setdefault("LABSUPPORT_PCH_DIR", str(Path(os.environ["LABSUPPORT_CACHE"]) / "pch"))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def selected_params(request, test_name: str) -> list:
    """The (first) parameter of each item of ``test_name`` this run will reach, in order
    (``-k`` and ``-m`` leave some out): what a fixture that starts work ahead may start."""
    return [item.callspec.params[next(iter(item.callspec.params))] for item in request.session.items
            if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec")]


def pytest_sessionfinish(session, exitstatus):
    """The run's own cache (about 750 MB: modules, traces, the malloc lab) goes with the run;
    a cache named by LABSUPPORT_CACHE is someone's and stays. LABSUPPORT_KEEP_TEST_CACHE=1 keeps it."""
    if _OWN_CACHE and not os.environ.get("LABSUPPORT_KEEP_TEST_CACHE"):
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
