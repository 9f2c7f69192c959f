"""The side-by-side view: one slider over several replays of one trace."""
import pytest

from labsupport.heap.talloc import replay
from labsupport.heap.traces import load_trace
from labsupport.widgets.sidebyside import Panel, SideBySide, choices_text
from labsupport.widgets.stepper import talloc_renderer


def _panels(*policies):
    t = load_trace("intro")
    out = []
    for p in policies:
        r = replay(t, p)
        out.append(Panel(f"{p} fit", r.states, talloc_renderer(r)))
    return out


def test_one_slider_moves_every_panel():
    view = SideBySide(_panels("first", "best"))
    view.slider.value = 3
    labels = [parts["label"].value for parts in view._parts]
    assert all("step 3 of 7" in lab for lab in labels)
    assert all("<svg" in parts["map"].value for parts in view._parts)


def test_choices_text_has_one_row_per_operation_and_the_footprints():
    text = choices_text(_panels("first", "best"))
    lines = text.splitlines()
    assert lines[0].split()[-4:] == ["first", "fit", "best", "fit"]
    assert len(lines) == 2 + 7 + 1
    assert "1: alloc a 24" in lines[2] and lines[-1].startswith("footprint at the end")


def test_replays_of_different_lengths_are_refused():
    a, b = _panels("first", "best")
    b.steps = b.steps[:-1]
    with pytest.raises(ValueError, match="one step per operation"):
        SideBySide([a, b])


def test_three_managers_replay_the_same_trace_for_real():
    from labsupport.toolchain import have
    from labsupport.widgets.sidebyside import manager_panels
    panels = manager_panels("intro")
    assert [p.title.split()[0] for p in panels] == ["teaching", "glibc"] + (["mimalloc"] if have("mimalloc") else [])
    text = choices_text(panels)
    rows = text.splitlines()[2:-1]
    assert len(rows) == 7
    # every manager answered every malloc with a block (nothing failed on this small trace)
    for row in rows:
        if "alloc" in row:
            assert "FAILED" not in row and row.count("+") == len(panels)
    view = SideBySide(panels)
    view.slider.value = 7
    assert all("step 7 of 7" in parts["label"].value for parts in view._parts)


def test_glibcs_view_is_off_with_a_sentence_when_the_versions_cannot_be_fetched(monkeypatch):
    from labsupport.heap import glibcs
    from labsupport.toolchain import MissingTool
    from labsupport.widgets import sidebyside

    def offline(*a, **k):
        raise MissingTool("apt on this machine names no Debian mirror")
    monkeypatch.setattr(glibcs, "fetch", offline)
    said = []
    assert sidebyside.glibcs_view("intro", say=said.append) is None
    assert len(said) == 1 and "is off: apt on this machine names no Debian mirror" in said[0]
    assert "python -m labsupport warmup" in said[0]

    def failed(*a, **k):
        raise RuntimeError("apt-get update failed:\nE: network unreachable")
    monkeypatch.setattr(glibcs, "fetch", failed)
    said.clear()
    assert sidebyside.glibcs_view("intro", say=said.append) is None
    assert "off: apt-get update failed: E: network unreachable. To get them" in said[0]


def test_a_watched_replay_notes_reads_from_outside_the_view():
    from labsupport.heap import glibcs
    from labsupport.heap.glibc import glibc_steps
    from labsupport.widgets.glibcstep import GlibcRenderer, glibc_span
    from labsupport.widgets.sidebyside import _Watched, bins_side_by_side

    steps = glibc_steps("intro")
    panels = [Panel("glibc here", _Watched(steps, "glibc here"), GlibcRenderer(glibc_span(steps)))] * 2
    glibcs.untrusted_calls()
    view = SideBySide(panels)
    view.slider.value = 4
    text = bins_side_by_side(panels, (5, 7))
    assert glibcs.untrusted_calls() == []                       # the view and its text read quietly
    assert text.splitlines()[0] == "after step 5: free c" and "glibc here" in text.splitlines()[1]
    panels[0].steps[3]
    panels[0].steps.served
    assert [what.split()[0] for what, _ in glibcs.untrusted_calls()] == ["the", "served"]
    with glibcs.trusted():                                      # granted to the course's code only
        panels[0].steps[3]
    assert [what.split()[0] for what, _ in glibcs.untrusted_calls()] == ["the"]
    cursor = glibcs.note_count()
    panels[0].steps[4]
    glibcs.untrusted_calls()                                    # its own cursor; the record stays
    assert len(glibcs.notes_since(cursor)) == 1
    assert not hasattr(panels[0], "step") and not any("steps" in n for n in panels[0].steps.__slots__)
