"""Allocation traces: parse, load, generate.

A trace is a small text file, one operation per line::

    # arena: 4096          (optional: the teaching allocator's arena size)
    alloc a 24             allocate 24 bytes and call the block "a"
    free a                 free it

Ids are any word without spaces. ``#`` starts a comment. The traces lesson 01
ships live in ``native_examples/01_heap_managers/traces/``; ``load_trace("fragment")``
finds them by name.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..toolchain import example_path

__all__ = ["LESSON", "example_dir", "trace_dir", "TraceError", "OpKind", "Op", "Trace", "numeric_ids",
           "parse_trace", "load_trace", "random_trace", "as_trace", "live_bytes"]

LESSON = "01_heap_managers"          # where the traces and the allocators' C live


def example_dir() -> Path:
    return example_path(LESSON)


def trace_dir() -> Path:
    return example_dir() / "traces"


class TraceError(ValueError):
    """A trace line that cannot be replayed; the message names the line."""


class OpKind(StrEnum):
    ALLOC = "alloc"
    FREE = "free"


@dataclass(frozen=True)
class Op:
    kind: OpKind         # "alloc" or "free" (strings are accepted)
    id: str
    size: int = 0        # alloc only
    line: int = 0        # 1-based line in the text

    def __post_init__(self):
        if self.kind.__class__ is not OpKind:
            object.__setattr__(self, "kind", OpKind(self.kind))

    def __str__(self):
        return f"alloc {self.id} {self.size}" if self.kind == OpKind.ALLOC else f"free {self.id}"


@dataclass
class Trace:
    ops: list
    name: str = "trace"
    arena: int | None = None

    def __len__(self):
        return len(self.ops)

    def __iter__(self):
        return iter(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def text(self, numeric: bool = False) -> str:
        """The trace as text; ``numeric=True`` renames ids to 0, 1, 2... (what the C side reads)."""
        ids = numeric_ids(self.ops) if numeric else None
        lines = []
        for op in self.ops:
            i = ids[op.id] if ids else op.id
            lines.append(f"alloc {i} {op.size}" if op.kind == OpKind.ALLOC else f"free {i}")
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return f"Trace({self.name!r}: {len(self.ops)} operations)"


def numeric_ids(ops) -> dict:
    ids: dict = {}
    for op in ops:
        ids.setdefault(op.id, len(ids))
    return ids


def parse_trace(text: str, name: str = "trace") -> Trace:
    """Parse trace text; raise TraceError naming the line of the first problem."""
    ops, live, arena = [], set(), None
    for n, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*#\s*arena\s*:?\s*(\d+)", raw)
        if m:
            arena = int(m.group(1))
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if parts[0] == "alloc" and len(parts) == 3:
            try:
                size = int(parts[2], 0)
            except ValueError:
                raise TraceError(f"line {n}: size {parts[2]!r} is not a number: {raw.strip()!r}") from None
            if size < 0:
                raise TraceError(f"line {n}: negative size: {raw.strip()!r}")
            if parts[1] in live:
                raise TraceError(f"line {n}: {parts[1]!r} is already allocated (free it first): {raw.strip()!r}")
            live.add(parts[1])
            ops.append(Op(OpKind.ALLOC, parts[1], size, n))
        elif parts[0] == "free" and len(parts) == 2:
            if parts[1] not in live:
                raise TraceError(f"line {n}: {parts[1]!r} is not allocated: {raw.strip()!r}")
            live.discard(parts[1])
            ops.append(Op(OpKind.FREE, parts[1], 0, n))
        else:
            raise TraceError(f"line {n}: expected 'alloc ID SIZE' or 'free ID', got {raw.strip()!r}")
    if len(numeric_ids(ops)) > 65536:
        raise TraceError("more than 65,536 different ids")
    return Trace(ops, name, arena)


def load_trace(name: str) -> Trace:
    """A trace shipped with the lesson (``"fragment"``) or any path to a trace file."""
    p = Path(name)
    if not p.exists():
        p = trace_dir() / (name if name.endswith(".trace") else name + ".trace")
    if not p.exists():
        have = ", ".join(sorted(x.stem for x in trace_dir().glob("*.trace")))
        raise FileNotFoundError(f"no trace {name!r}; the lesson ships: {have}")
    return parse_trace(p.read_text(), p.stem)


def random_trace(n_ops: int = 1000, seed: int = 1, sizes=(16, 600), max_live: int = 60,
                 name: str | None = None) -> Trace:
    """A reproducible random trace: allocations of random sizes, frees of random live blocks."""
    rng = random.Random(seed)
    ops, live, next_id = [], [], 0
    while len(ops) < n_ops:
        if live and (len(live) >= max_live or rng.random() < 0.45):
            i = live.pop(rng.randrange(len(live)))
            ops.append(Op(OpKind.FREE, f"b{i}", 0, len(ops) + 1))
        else:
            ops.append(Op(OpKind.ALLOC, f"b{next_id}", rng.randint(*sizes), len(ops) + 1))
            live.append(next_id)
            next_id += 1
    return Trace(ops, name or f"random{n_ops}-{seed}")


def as_trace(trace) -> Trace:
    """A Trace from a Trace, trace text, a shipped trace's name or path, or a list of Op."""
    if isinstance(trace, Trace):
        return trace
    if isinstance(trace, str):
        return parse_trace(trace) if "\n" in trace or trace.startswith(("alloc", "free")) else load_trace(trace)
    return Trace(list(trace))


def live_bytes(trace: Trace, stop: int | None = None) -> int:
    """Bytes requested and still allocated after the first `stop` operations (all when None)."""
    live = {}
    for op in trace.ops[: len(trace.ops) if stop is None or stop < 0 else stop]:
        if op.kind == OpKind.ALLOC:
            live[op.id] = op.size
        else:
            live.pop(op.id, None)
    return sum(live.values())
