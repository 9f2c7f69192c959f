"""One trace, one slider, one panel per heap manager.

``SideBySide(panels)`` shows several replays of the same trace (the teaching
allocator, glibc, mimalloc...) under one slider and one play button, so the
learner sees each manager answer the same request differently. A panel is a
``Panel(title, steps, renderer)``: any list of ``heap.model.Step`` and a
renderer from ``stepviews`` (what ``StepView`` takes). Every replay must have
the same number of steps (one per operation, plus step 0).

``choices_text(panels)`` gives the same comparison as plain text, one line per
operation: where each manager put each block (offsets from its own heap start),
for print() and for compared notebook outputs.

``compare_managers(trace)`` is lesson 01's: the teaching allocator (a placement
policy), glibc (its bins) and mimalloc (its pages' lists), each replayed for real.
``compare_glibcs(trace)``: the same trace under several glibc versions (Debian 12's 2.36,
13's 2.41 and 2.43 from unstable or testing, pinned: ``glibcs.NEWEST_SLOT``; fetched once by
``heap.glibcs``), each with its own bins;
``glibcs_view(trace)`` is the same view, or None and a sentence saying why and how to get
the versions when they cannot be fetched (the rest of a lesson goes on).
``bins_side_by_side(panels, steps)``: the bins of every panel at a few steps, as text.
A glibc version panel's steps note a read from outside the view (``heap.glibcs.note_read``):
lesson 01's check refuses an answer read from them instead of predicted.
"""
from __future__ import annotations

import html
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as w

from .stepper import hide_play, play_toggle
from .text import format_table

__all__ = ["Panel", "SideBySide", "choices_text", "manager_panels", "compare_managers", "glibc_version_panels",
           "compare_glibcs", "glibcs_view", "bins_side_by_side", "failure_line"]


@dataclass
class Panel:
    """One manager's replay: a title, its steps (step 0 first) and a step renderer."""
    title: str
    steps: list
    renderer: object

    def _step(self, i: int):
        """Step i, as the view reads it (a watched replay does not note this read)."""
        quiet = getattr(self.steps, "_quiet", None)
        return quiet(i) if quiet is not None else self.steps[i]


class _Watched(Sequence):
    """A replay whose steps, read from outside the view (``panel.steps[i]``, any attribute), are
    noted by ``heap.glibcs.note_read``; the view reads them through ``Panel._step``. The replay
    itself is held in a closure, not in an attribute a cell could read unnoted."""

    __slots__ = ("_quiet", "_len", "_title", "_name", "_attr")

    def __init__(self, steps, title: str):
        self._quiet = lambda i: steps[i]
        self._attr = lambda name: getattr(steps, name)
        self._len, self._title, self._name = len(steps), title, steps.trace.name

    def __len__(self):
        return self._len

    def __getitem__(self, i):
        from ..heap.glibcs import note_read
        note_read(f"the steps of the view's panel {self._title!r}", self._name)
        return self._quiet(i)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        from ..heap.glibcs import note_read
        note_read(f"{name} of the view's panel {self._title!r}", self._name)
        return self._attr(name)


def _check_lengths(panels):
    n = {len(p.steps) for p in panels}
    if len(n) != 1:
        raise ValueError("every replay needs one step per operation: "
                         + ", ".join(f"{p.title}: {len(p.steps)}" for p in panels))
    return n.pop()


class SideBySide:
    """Play button and slider over several replays of one trace, one panel each.

    ``show(i)`` moves every panel to step i (what the slider calls)."""

    def __init__(self, panels, interval: int = 400):
        self.panels = list(panels)
        n = _check_lengths(self.panels) - 1
        self.slider = w.IntSlider(0, 0, n, description="step", continuous_update=True,
                                  layout=w.Layout(width="420px"))
        self.play = w.Play(value=0, min=0, max=n, interval=interval)
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.playing = play_toggle(self.play)       # named; the Play stays first: the repr starts as before
        self.label = w.HTML()
        self._parts = []
        boxes = []
        for p in self.panels:
            parts = {k: w.HTML() for k in ("label", "map", "lists", "figures")}
            self._parts.append(parts)
            title = w.HTML(f"<h4 style='margin:6px 0 2px 0'>{html.escape(p.title)}</h4>")
            boxes.append(w.VBox([title, parts["label"], parts["map"], parts["lists"], parts["figures"]],
                                layout=w.Layout(border="1px solid #ddd", padding="4px", margin="2px 0")))
        self._svg = [lru_cache(maxsize=512)(lambda i, p=p: p.renderer.heap(p._step(i))) for p in self.panels]
        self.slider.observe(lambda ch: self.show(ch["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.play, self.slider, self.playing]), *boxes])
        self.show(0)

    def show(self, i: int):
        for p, parts, svg in zip(self.panels, self._parts, self._svg):
            s, r = p._step(i), p.renderer
            parts["label"].value = r.label(s, len(p.steps) - 1)
            parts["map"].value = svg(i)
            parts["lists"].value = r.lists(s)
            parts["figures"].value = r.figures(s)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
        hide_play(self.play)

    def __repr__(self):
        return f"SideBySide({', '.join(p.title for p in self.panels)}; {len(self.panels[0].steps) - 1} steps)"


def choices_text(panels) -> str:
    """One row per operation: the block each manager touched (offset from its own heap
    start, or FAILED), and each manager's footprint after the last step."""
    panels = list(panels)
    n = _check_lengths(panels)
    rows = []
    for i in range(1, n):
        op = panels[0]._step(i).op
        row = {"step: operation": f"{i}: {op}"}
        for p in panels:
            s = p._step(i)
            row[p.title] = "FAILED" if s.failed else ("" if s.changed is None else f"+{s.changed}")
        rows.append(row)
    last = {"step: operation": "footprint at the end"}
    for p in panels:
        last[p.title] = f"{p._step(n - 1).figures.footprint:,} B"
    rows.append(last)
    return format_table(rows)


def manager_panels(trace, policy: str = "first", order: str = "lifo", tunables: str | None = None) -> list:
    """One panel per heap manager for ``trace``: the teaching allocator (``policy``,
    ``order``), glibc (``tunables``: e.g. ``heap.glibc.NO_TCACHE``) and mimalloc. Each
    is a real replay (``heap.talloc.replay``, ``heap.glibc.glibc_steps``,
    ``heap.mimalloc.mimalloc_steps``); a manager this machine cannot run is left out."""
    from ..heap.glibc import glibc_steps
    from ..heap.mimalloc import mimalloc_steps
    from ..heap.talloc import replay
    from ..heap.traces import as_trace
    from ..toolchain import have
    from .glibcstep import GlibcRenderer, glibc_span
    from .stepper import talloc_renderer
    from .stepviews import HtmlRenderer

    trace = as_trace(trace)
    r = replay(trace, policy, order)
    panels = [Panel(f"teaching allocator ({policy} fit, {order})", r.states, talloc_renderer(r))]
    g = glibc_steps(trace, tunables)
    panels.append(Panel("glibc" + (" (tcache and fastbins off)" if tunables else ""), g,
                        GlibcRenderer(glibc_span(g))))
    if have("mimalloc"):
        m = mimalloc_steps(trace)
        span = max(sum(p[1] for p in m.pages), 64)
        panels.append(Panel("mimalloc", m, HtmlRenderer(span, empty="no pages yet")))
    return panels


def compare_managers(trace, policy: str = "first", order: str = "lifo", tunables: str | None = None) -> SideBySide:
    """The side-by-side view of ``manager_panels``: one slider, one panel per manager."""
    return SideBySide(manager_panels(trace, policy, order, tunables))


def glibc_version_panels(trace, tunables: str | None = None, say=print) -> list:
    """One panel per glibc version of ``heap.glibcs`` (fetched once into the course cache),
    each the same ``glibc_probe`` run under that version's own loader. A version the probe
    does not know yet is left out, and ``say`` names it. Raises ``MissingTool`` or
    ``RuntimeError`` when the versions cannot be fetched (``glibcs_view`` says why instead)."""
    from ..heap.glibcs import fetch, steps_under, trusted
    from ..heap.traces import as_trace
    from .glibcstep import GlibcRenderer, glibc_span

    trace = as_trace(trace)
    panels = []
    for g in fetch(say=say):
        try:
            with trusted():
                steps = steps_under(trace, g, tunables)
        except RuntimeError as exc:
            say(f"{g.label}: left out ({str(exc).splitlines()[0]})")
            continue
        panels.append(Panel(g.label, _Watched(steps, g.label), GlibcRenderer(glibc_span(steps))))
    return panels


def compare_glibcs(trace, tunables: str | None = None, say=print) -> SideBySide:
    """The side-by-side view of ``glibc_version_panels``: one slider, one panel per glibc version."""
    return SideBySide(glibc_version_panels(trace, tunables, say))


GET_THEM = ("to get them: `python -m labsupport warmup` (or `./lab setup`) on a Debian machine "
            "whose apt can reach a Debian mirror; it puts Debian's libc6 of bookworm, trixie and "
            "sid into the course cache, once")


def failure_line(exc) -> str:
    """An error in one line: its first line, and its last when there are more (apt's own word:
    ``apt-get download libc6/bookworm failed: E: Unable to locate package libc6``)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0].rstrip(':')}: {lines[-1]}"


def glibcs_view(trace, tunables: str | None = None, say=print):
    """``compare_glibcs(trace)``, waiting for the warm-up's fetch if it is running; or None
    after one sentence saying why the view is off and how to get the versions (offline, not
    Debian, a failed download): only this view is off, the rest of the lesson runs."""
    from ..toolchain import MissingTool
    from ..warmstate import wait_for

    wait_for("glibc-versions", say=say)
    try:
        view = compare_glibcs(trace, tunables, say)
    except (MissingTool, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        why = failure_line(exc)
        say(f"The view of several glibc versions is off: {why}. {GET_THEM[0].upper() + GET_THEM[1:]}.")
        return None
    if len(view.panels) < 2:
        say(f"The view of several glibc versions is off: only {len(view.panels)} version could be run here. "
            f"{GET_THEM[0].upper() + GET_THEM[1:]}.")
        return None
    return view


def _bins_short(step) -> str:
    """A step's non-empty bins in a few words: ``tcache 0xd0: 7``; a list of one or two
    chunks with their offsets (``unsorted: +2112``); and the tcache's own chunk."""
    parts = []
    for b in step.bins:
        n = len(b.offsets)
        parts.append(f"{b.name}: " + (" ".join(f"+{o}" for o in b.offsets) if n <= 2 else f"{n} chunks"))
    tc = [c for c in step.chunks if str(c.state) == "tcache_struct"]
    if tc:
        parts.append(f"(tcache's own chunk: {tc[0].size} B at +{tc[0].offset})")
    return "; ".join(parts) if parts else "(every bin is empty)"


def bins_side_by_side(panels, steps) -> str:
    """For each step number in ``steps``: its operation, then one line per panel with the bins
    that hold a chunk (a list of 3 or more: its length) and, for a malloc, where its chunk came from."""
    lines = []
    for i in steps:
        lines.append(f"after step {i}: {panels[0]._step(i).op}")
        for p in panels:
            s = p._step(i)
            came = f"from {s.served}; " if s.served else ""
            lines.append(f"  {p.title:22} {came}{_bins_short(s)}")
    return "\n".join(lines)
