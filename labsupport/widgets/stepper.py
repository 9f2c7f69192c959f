"""Steppers: a slider over precomputed heap states.

``StepView(steps, renderer)`` is the generic one: any list of ``Step`` (teaching
allocator today, glibc's bins tomorrow) and a renderer (``stepviews.HtmlRenderer``).
Each slider move swaps three small HTML strings (label, named lists, figures) and
sends the heap map only what the step changed (``heapfront``: drawn in the browser,
the same SVG as ``stepviews.heap_svg``); a renderer with a picture of its own (glibc's
bins) gets each step's SVG in an HTML widget. On a recorded real program's heap
(1,685 blocks on average) a move sent at most 3.3 KiB instead of up to 492 KiB
(benchmarks/bench_tracestep.py).

``Stepper(trace)`` is lesson 01's trace stepper: a StepView over a replay of the
teaching allocator (``heap.talloc``), with the placement policy and free-list
order to pick and a box to edit the trace.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from functools import lru_cache

import ipywidgets as w

from ..heap.talloc import DEFAULT_ARENA, ORDERS, POLICIES, replay, replay_lazy
from ..heap.traces import TraceError, as_trace, parse_trace
from .stepviews import HtmlRenderer
from .style import FAILED_COLOR

__all__ = ["StepView", "TraceStepper", "Stepper", "talloc_renderer", "play_toggle", "hide_play", "LAZY_FROM"]

LAZY_FROM = 5000     # Stepper: traces this long build their steps when shown
PARTS_KEPT = 50_000  # StepView: the label, lists and figures of this many steps seen are kept (~1.5 KiB each)


def play_toggle(play: w.Play) -> w.ToggleButton:
    """A named play/pause button for ``play`` (hide the Play with ``hide_play`` once shown).

    ipywidgets 8's Play draws three buttons holding only an icon, with no accessible name
    (axe-core: button-name, critical), and has no trait to give them one. This toggle, named
    by its text, drives the Play's ``playing`` in the browser (jslink), so it works without a
    kernel (the book) too; the hidden Play still animates what it is linked to."""
    toggle = w.ToggleButton(value=False, description="play", icon="play",
                            tooltip="play the steps one after another (press again to pause)",
                            layout=w.Layout(width="6em"))
    w.jslink((toggle, "value"), (play, "playing"))
    return toggle


def hide_play(play: w.Play) -> None:
    """Hide ``play``'s unnamed buttons (display none: out of the accessibility tree), after
    the widget was displayed: the text form a display stores (and nbval compares) is the
    widget's repr at that moment, which a changed layout would alter."""
    play.layout.display = "none"


class StepView:
    """Play button and slider over ``steps``; shows ``renderer``'s label, heap, lists, figures.

    controls: more widgets for the top row; rows: more rows below. ``set_steps`` swaps
    in new steps (a replay under another policy) and keeps the position when it can.
    The heap is drawn in the browser (``heapfront.HeapFront``: each move sends what changed)
    when the renderer draws ``stepviews.heap_svg``; ``front=False`` sends each step's SVG."""

    def __init__(self, steps, renderer, controls=(), rows=(), interval: int = 300, front: bool | None = None):
        self.steps, self.renderer = _steps(steps), renderer
        self._front = _front(renderer) if front is None else front
        n = len(self.steps) - 1
        self._svg = lru_cache(maxsize=512)(self._svg_uncached)   # a big heap's SVG is ~200 KiB
        self._parts: dict = {}          # step -> (label, lists, figures): what a move back needs, kept
        self.slider = w.IntSlider(0, 0, n, description="step", continuous_update=True,
                                  layout=w.Layout(width="420px"))
        self.play = w.Play(value=0, min=0, max=n, interval=interval)
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.playing = play_toggle(self.play)       # the Play stays first: the repr starts as before
        self.label = w.HTML()
        self.map = self._map(renderer)
        self.lists = w.HTML()
        self.figures = w.HTML()
        self.slider.observe(lambda ch: self.show(ch["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.play, self.slider, self.playing, *controls]), self.label, self.map,
                              self.lists, self.figures, *rows])
        self.show(0)

    def _map(self, renderer):
        """The heap picture: drawn in the browser from each step's changes (``heapfront``) when
        the renderer draws ``stepviews.heap_svg`` (``front=False``: never), else an HTML widget
        given each step's SVG."""
        if self._front:
            from .heapfront import HeapFront
            return HeapFront(self.steps, renderer)
        return w.HTML()

    def _svg_uncached(self, i):
        return self.renderer.heap(self.steps[i])

    def _parts_of(self, i, s):
        r = self.renderer
        return r.label(s, len(self.steps) - 1), r.lists(s), r.figures(s)

    def show(self, i: int):
        """Move to step i (what the slider calls)."""
        if isinstance(self.map, w.HTML):
            s = self.steps[i]
            self.label.value, self.lists.value, self.figures.value = self._parts_of(i, s)
            self.map.value = self._svg(i)
            return
        parts, s = self._parts.get(i), None
        if parts is None:
            s = self.steps[i]
            if len(self._parts) >= PARTS_KEPT:
                self._parts.clear()
            parts = self._parts[i] = self._parts_of(i, s)
        self.label.value, self.lists.value, self.figures.value = parts
        self.map.show(i, s)

    def set_steps(self, steps, renderer=None, position: int | None = None):
        self.steps = _steps(steps)
        if renderer is not None:
            self.renderer = renderer
        self._svg.cache_clear()
        self._parts.clear()
        n = len(self.steps) - 1
        if self.slider.max != n:
            self.slider.max = self.play.max = n
        i = min(self.slider.value if position is None else position, n)
        if not isinstance(self.map, w.HTML):
            self.map.reset(self.steps, self.renderer, i)
        if self.slider.value != i:
            self.slider.value = i          # the observer shows it
        else:
            self.show(i)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
        hide_play(self.play)


def _front(renderer) -> bool:
    """Whether ``renderer``'s picture is ``stepviews.heap_svg`` (what heapfront draws)."""
    return type(renderer).heap is HtmlRenderer.heap and type(renderer).label is HtmlRenderer.label


def _steps(steps):
    """A sequence of steps as it is (glibc's ``GlibcSteps`` builds each step when asked), else a list."""
    return steps if isinstance(steps, Sequence) else list(steps)


def talloc_renderer(r) -> HtmlRenderer:
    """The HTML renderer for a replay of the teaching allocator: the whole arena, its
    prologue and epilogue tags, the untouched tail up to the epilogue."""
    return HtmlRenderer(r.arena_size, fixed=r.frame, heap_start=r.tag, heap_end=r.arena_size - r.tag)


class TraceStepper:
    """What every trace stepper shares: a ``StepView`` (``self.view``), a box to edit the
    trace and replay it, and the view's parts under the names lessons and tests use.

    A subclass sets ``self.trace`` and ``self.view`` and implements ``_refresh(position)``
    (replay ``self.trace`` and hand the steps to the view); ``_accept(trace)`` may read
    more from a new trace (the teaching allocator: its arena size)."""

    def _editor_rows(self, editable: bool) -> list:
        """The trace box, its button and the message line (the rows below the view)."""
        self.message = w.HTML()
        if not editable:
            return []
        self.text = w.Textarea(value=self.trace.text(), layout=w.Layout(width="420px", height="8em"))
        self.button = w.Button(description="replay this trace")
        self.button.on_click(lambda _b: self._from_text())
        return [w.HBox([self.text, w.VBox([self.button, self.message])])]

    slider = property(lambda self: self.view.slider)
    play = property(lambda self: self.view.play)
    label = property(lambda self: self.view.label)
    map = property(lambda self: self.view.map)
    figures = property(lambda self: self.view.figures)
    widget = property(lambda self: self.view.widget)

    def show(self, i: int):
        """Move to step i (what the slider calls)."""
        self.view.show(i)

    def _refresh(self, position: int | None = None):
        raise NotImplementedError

    def _accept(self, trace) -> None:
        """Read what else a new trace says (nothing by default)."""

    def _from_text(self):
        try:
            t = parse_trace(self.text.value, "your trace")
        except TraceError as e:
            self.message.value = f"<span style='color:{FAILED_COLOR}'>{html.escape(str(e))}</span>"
            return
        self.trace = t
        self._accept(t)
        self.message.value = f"{len(t)} operations"
        self._refresh(position=0)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
        hide_play(self.play)


class Stepper(TraceStepper):
    """The trace stepper: slider, heap map, free list, figures; pick the policy, edit the trace.

    ``Stepper(trace)`` then display ``stepper.widget`` (or just the Stepper in a cell).
    ``show(i)`` moves to step i (what the slider calls). A trace of ``LAZY_FROM`` operations
    or more (or ``lazy=True``) builds each step when it is shown (``talloc.replay_lazy``)."""

    def __init__(self, trace, policy: str = "first", order: str = "lifo", arena_size: int | None = None,
                 editable: bool = True, module=None, lazy: bool | None = None):
        self._module, self._lazy = module, lazy
        self.trace = as_trace(trace)
        self.arena_size = arena_size or self.trace.arena or DEFAULT_ARENA
        self.replay = self._replay(self.trace, policy, order)
        self.policy = w.Dropdown(options=list(POLICIES), value=str(policy), description="fit",
                                 layout=w.Layout(width="150px"))
        self.order = w.Dropdown(options=list(ORDERS), value=str(order), description="list",
                                layout=w.Layout(width="160px"))
        rows = self._editor_rows(editable)
        self.view = StepView(self.replay.states, talloc_renderer(self.replay),
                             controls=[self.policy, self.order], rows=rows)
        self.policy.observe(lambda ch: self._refresh(), names="value")
        self.order.observe(lambda ch: self._refresh(), names="value")

    freelist = property(lambda self: self.view.lists)
    _svg = property(lambda self: self.view._svg)

    def _replay(self, trace, policy, order):
        """All steps at once (``replay``), or from LAZY_FROM operations on (or ``lazy=True``)
        each step when shown (``replay_lazy``: a long real trace replays in a second, not a
        minute, and does not keep every step in memory)."""
        lazy = len(trace) >= LAZY_FROM if self._lazy is None else self._lazy
        return (replay_lazy if lazy else replay)(trace, policy, order, self.arena_size, module=self._module)

    def _accept(self, trace):
        if trace.arena:
            self.arena_size = trace.arena

    def _refresh(self, position: int | None = None):
        self.replay = self._replay(self.trace, self.policy.value, self.order.value)
        self.view.set_steps(self.replay.states, talloc_renderer(self.replay), position=position)

    def __repr__(self):
        return f"Stepper({self.replay!r})"
