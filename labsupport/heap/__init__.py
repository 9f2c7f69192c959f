"""The heap as data: the model, traces, and one snapshot source per allocator. No drawing here.

- ``model``     Block, BlockState, Bin, Bins, BinType, Step, HeapSnapshot, Figures and the one
                definition of the figures (``fragmentation``, ``figures_of``, ``summarize``)
- ``traces``    allocation traces: Op, Trace, parse_trace, load_trace, random_trace, live_bytes
- ``talloc``    snapshot source: the teaching allocator (talloc.c, in-process): replay -> Steps
- ``glibc``     snapshot source: glibc malloc in a fresh process: Chunk, ChunkState, GlibcHeap;
                every bin at every step: glibc_steps -> GlibcSteps of GlibcStep
- ``mimalloc``  snapshot source: a private mimalloc heap in a fresh process: Page, MimallocHeap;
                each page's three free lists at every step: mimalloc_steps -> MimallocSteps
- ``threads``   two threads for real: glibc's second arena (arena_demo), mimalloc's
                cross-thread free (mimalloc_cross_thread_free)
- ``recorder``  a real program's malloc/free calls as a trace (LD_PRELOAD), size histograms,
                windows of a trace that replay on their own
- ``probes``    building and running the probe programs the real sources use

The pictures of these objects are in ``labsupport.widgets``.
"""
from .model import (STATES, Bin, BinType, Bins, Block, BlockState, Figures, Fragmentation, HeapSnapshot, Step,
                    figures_of, fragmentation, summarize)
from .traces import Op, OpKind, Trace, TraceError, live_bytes, load_trace, parse_trace, random_trace
from .talloc import Order, Policy, Replay, replay
from .glibc import NO_TCACHE, Chunk, ChunkState, GlibcHeap, GlibcStep, GlibcSteps, glibc_steps, replay_glibc
from .mimalloc import MimallocHeap, MimallocSteps, Page, mimalloc_steps, replay_mimalloc

__all__ = ["STATES", "Bin", "BinType", "Bins", "Block", "BlockState", "Figures", "Fragmentation",
           "HeapSnapshot", "Step", "figures_of", "fragmentation", "summarize",
           "Op", "OpKind", "Trace", "TraceError", "live_bytes", "load_trace", "parse_trace", "random_trace",
           "Order", "Policy", "Replay", "replay",
           "NO_TCACHE", "Chunk", "ChunkState", "GlibcHeap", "replay_glibc", "GlibcStep", "GlibcSteps", "glibc_steps",
           "MimallocHeap", "MimallocSteps", "Page", "mimalloc_steps", "replay_mimalloc"]
