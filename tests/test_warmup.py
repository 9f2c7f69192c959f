"""One-time preparations: progress recorded, shown, waited for; nothing started twice."""
import os
import threading
import time

import pytest

from labsupport import warmup


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))
    return tmp_path


def test_run_records_each_step(cache, monkeypatch):
    done = []
    monkeypatch.setattr(warmup, "_do", lambda step: done.append(step))
    monkeypatch.setattr(warmup.toolchain, "have", lambda *names: "wine" not in names)
    lines = []
    data = warmup.run(say=lines.append)
    assert done == ["glibc-versions", "zig-wasm", "zig-windows"]
    assert data["wine-prefix"]["state"] == "skipped" and data["zig-windows"]["state"] == "done"
    assert "zig's C library for Windows: ready" in warmup.status_line()
    assert warmup.start_background() is None          # everything done or skipped: nothing to start


def test_a_failed_step_is_reported_not_raised(cache, monkeypatch):
    def boom(step):
        raise RuntimeError("no space left")
    monkeypatch.setattr(warmup, "_do", boom)
    monkeypatch.setattr(warmup.toolchain, "have", lambda *names: True)
    data = warmup.run(steps=["zig-wasm"], say=lambda s: None)
    assert data["zig-wasm"] == {"state": "failed", "error": "no space left", "seconds": data["zig-wasm"]["seconds"]}
    assert "failed (no space left)" in warmup.status_line()


def test_wait_for_a_step_being_prepared(cache):
    import subprocess
    other = subprocess.Popen(["sleep", "30"])          # "another process" preparing it
    warmup._write({"zig-windows": {"state": "running", "since": time.time() - 5, "pid": other.pid}})
    assert "being prepared (5 s so far" in warmup.status_line()

    def finish():
        time.sleep(0.5)
        warmup._write({"zig-windows": {"state": "done", "seconds": 6}})
    threading.Thread(target=finish).start()
    said = []
    assert warmup.wait_for("zig-windows", say=said.append, poll=0.1)
    assert said and said[0].startswith("waiting for zig's C library for Windows")
    assert warmup.wait_for("zig-wasm", say=said.append) and len(said) == 1   # nobody preparing it
    other.kill()
    other.wait()
    warmup._write({"zig-wasm": {"state": "running", "since": time.time(), "pid": os.getpid()}})
    assert warmup.wait_for("zig-wasm", say=said.append) and len(said) == 1   # we are preparing it


def test_a_dead_runner_is_not_waited_for(cache):
    warmup._write({"wine-prefix": {"state": "running", "since": time.time(), "pid": 2 ** 22 + 12345}})
    assert warmup.status()["wine-prefix"]["state"] == "failed"
    assert warmup.wait_for("wine-prefix", say=lambda s: None)


def test_every_step_names_tools_the_doctor_knows():
    """run() asks toolchain.have() about each step's tools: a name it does not know raised
    KeyError and stopped every preparation (found when building the container image)."""
    for step, (what, usual, tools) in warmup.STEPS.items():
        for t in tools:
            warmup.toolchain.have(t)          # raises KeyError for an unknown name
