"""The per-lesson capability check: each capability tried for real, verdicts per lesson."""
import labsupport as lab
from labsupport import capability


def test_this_machine_runs_every_lesson():
    report = lab.capabilities()
    assert all(c.ok for c in report.checks), str(report)
    assert {v for v, _ in report.lessons.values()} == {"runs fully"}
    assert "ptrace" in str(report) and "lesson" in str(report)


def test_a_missing_capability_switches_off_cells(monkeypatch):
    capability.check.cache_clear()
    monkeypatch.setitem(capability.CHECKS, "ptrace", lambda: capability.Capability(
        "ptrace", False, "LeakSanitizer could not run", "add --cap-add=SYS_PTRACE"))
    report = capability.capabilities(["ptrace", "resources"])
    verdict, reasons = report.lessons["07"]
    assert verdict == "runs with cells switched off" and "LeakSanitizer (no ptrace)" in reasons
    assert report.lessons["01"] == ("runs fully", [])
    assert "fix: add --cap-add=SYS_PTRACE" in str(report)
    capability.check.cache_clear()


def test_no_resources_means_cannot_run(monkeypatch):
    capability.check.cache_clear()
    monkeypatch.setitem(capability.CHECKS, "resources", lambda: capability.Capability(
        "resources", False, "100 MB memory available", "free some memory"))
    report = capability.capabilities(["resources"])
    assert report.lessons["00"][0] == "cannot run"
    capability.check.cache_clear()
