import os
import tempfile

import pytest

# Builds in the tests go to a cache of their own, so "cold" really is cold.
os.environ.setdefault("LABSUPPORT_CACHE", tempfile.mkdtemp(prefix="labsupport-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
