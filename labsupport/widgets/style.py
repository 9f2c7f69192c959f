"""The course's one picture convention: colours per block state, offsets as "+N" (decimal).

Every view (``heapdraw``, ``heapsvg``, ``heapmap``, ``stepper``) takes its colours
and its offset labels from here, so a used block looks the same in every picture.
"""
from __future__ import annotations

from ..heap.model import BlockState

__all__ = ["COLORS", "FAILED_COLOR", "BIN_COLORS", "offset_label", "text_on"]

COLORS = {BlockState.USED.value: "#4C72B0", BlockState.FREE.value: "#E6E6E6", BlockState.META.value: "#DD8452"}
FAILED_COLOR = "#d62728"       # a failed step, the block a step touched, the highlighted block

# glibc's free chunks by the bin that holds them (the glibc stepper); the top chunk is plain "free"
BIN_COLORS = {"tcache": "#8FD694", "fastbin": "#F2C14E", "unsorted": "#C9A0DC", "smallbin": "#7FC8F8",
              "largebin": "#F28E8E", "free": COLORS["free"], "top": "#F4F4F4"}


def offset_label(offset: int) -> str:
    """An offset from the heap start as the course writes it: ``+656`` (decimal, never hex)."""
    return f"+{offset}"


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG's contrast ratio):
    text on a coloured block meets AA (4.5:1) whenever either can."""
    lum = _luminance(background)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"
