"""Lesson 01's one import (``from labsupport import tracestep as ts``): traces, replays, steppers.

This module only gathers names; the code lives by layer:

- ``labsupport/heap/traces.py``     trace text: ``parse_trace``, ``load_trace``, ``random_trace``
- ``labsupport/heap/model.py``      the data: ``Step`` (was ``State``), ``Bins``, ``Figures``, ``figures_of``
- ``labsupport/heap/talloc.py``     the teaching allocator: ``replay``, ``check_module``, ``heap_blocks``
- ``labsupport/heap/glibc.py``      glibc in a fresh process: ``replay_glibc``, ``Chunk``, ``NO_TCACHE``
- ``labsupport/heap/mimalloc.py``   mimalloc in a fresh process: ``replay_mimalloc``
- ``labsupport/widgets/stepper.py`` the widgets: ``Stepper`` (this lesson's), ``StepView`` (any steps)
- ``labsupport/widgets/stepviews.py`` a step as SVG/HTML or text
- ``labsupport/lessons/heap_managers.py`` this lesson's exercise checks and tables
"""
from __future__ import annotations

from .heap.glibc import NO_TCACHE, Chunk, ChunkState, GlibcHeap, GlibcSteps, glibc_steps, replay_glibc
from .heap.mimalloc import MimallocHeap, Page, replay_mimalloc
from .heap.model import Bin, Bins, BinType, Figures, HeapSnapshot, Step, figures_of
from .heap.probes import build_probe
from .heap.talloc import (DEFAULT_ARENA, ORDERS, POLICIES, Order, Policy, Replay, check_module,
                          compare_policies, heap_blocks, replay, talloc_module)
from .heap.traces import (LESSON, Op, OpKind, Trace, TraceError, as_trace, example_dir, live_bytes,
                          load_trace, numeric_ids, parse_trace, random_trace, trace_dir)
from .lessons.heap_managers import (CHUNK_REQUESTS, COALESCE_TRACES, MAX_BEST_FIT_OPS, REUSE_TRACE,
                                    best_policy, c_function, check_chunk_sizes, check_coalesce,
                                    check_first_beats_best, check_policy, check_reuse, first_beats_best,
                                    fragmentation_table, real_chunk_sizes, real_reuse, BIN_TRACE, check_bins,
                                    check_footprint_trace, footprint_ratio)
from .widgets import stepviews as _views
from .widgets.text import format_table

State = Step                 # the old names
RealHeap = HeapSnapshot
_as_trace = as_trace


def __getattr__(name):       # the widget imports ipywidgets: only when first used
    if name in ("Stepper", "StepView"):
        from .widgets import stepper
        return getattr(stepper, name)
    if name in ("GlibcStepper", "GlibcTextRenderer"):
        from .widgets import glibcstep
        return getattr(glibcstep, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _frame(arena_size: int) -> tuple:
    tag = talloc_module().lib.TA_TAG
    return ((0, tag), (arena_size - tag, tag)), tag


def heap_svg(state: Step, arena_size: int, width: int = 720, row_h: int = 16) -> str:
    """The teaching allocator's arena at one step as an SVG string (prologue and epilogue included)."""
    fixed, _tag = _frame(arena_size)
    return _views.heap_svg(state, arena_size, fixed, width=width, row_h=row_h)


def freelist_html(state: Step, limit: int = 12) -> str:
    return _views.list_html(state, "free list", limit)


def figures_html(state: Step, arena_size: int) -> str:
    _fixed, tag = _frame(arena_size)
    return _views.figures_html(state, heap_start=tag, heap_end=arena_size - tag)


def op_html(state: Step, total: int) -> str:
    return _views.op_html(state, total)


__all__ = ["NO_TCACHE", "Chunk", "ChunkState", "GlibcHeap", "replay_glibc", "MimallocHeap", "Page",
           "replay_mimalloc", "Bin", "Bins", "BinType", "Figures", "HeapSnapshot", "Step", "figures_of",
           "build_probe", "DEFAULT_ARENA", "ORDERS", "POLICIES", "Order", "Policy", "Replay", "check_module",
           "compare_policies", "heap_blocks", "replay", "talloc_module", "LESSON", "Op", "OpKind", "Trace",
           "TraceError", "as_trace", "example_dir", "live_bytes", "load_trace", "numeric_ids", "parse_trace",
           "random_trace", "trace_dir", "CHUNK_REQUESTS", "COALESCE_TRACES", "MAX_BEST_FIT_OPS", "REUSE_TRACE",
           "best_policy", "c_function", "check_chunk_sizes", "check_coalesce", "check_first_beats_best",
           "check_policy", "check_reuse", "first_beats_best", "fragmentation_table", "real_chunk_sizes",
           "real_reuse", "format_table", "State", "RealHeap", "Stepper", "StepView", "heap_svg",  # noqa: F822 (lazy)
           "freelist_html", "figures_html", "op_html", "GlibcSteps", "glibc_steps", "GlibcStepper",  # noqa: F822 (lazy)
           "GlibcTextRenderer", "BIN_TRACE", "check_bins", "check_footprint_trace", "footprint_ratio"]  # noqa: F822 (lazy)
