"""The course's one picture convention: colours per block state, offsets as "+N" (decimal).

Every view (``heapdraw``, ``heapsvg``, ``heapmap``, ``stepper``) takes its colours
and its offset labels from here, so a used block looks the same in every picture.
"""
from __future__ import annotations

from ..heap.model import BlockState

__all__ = ["COLORS", "FAILED_COLOR", "BIN_COLORS", "BIN_LETTERS", "HATCHES", "offset_label", "text_on"]

COLORS = {BlockState.USED.value: "#4C72B0", BlockState.FREE.value: "#E6E6E6", BlockState.META.value: "#DD8452"}
FAILED_COLOR = "#d62728"       # a failed step, the block a step touched, the highlighted block
# matplotlib hatches per block state (heapdraw): a free block is striped, glibc's own bookkeeping
# dotted, a used block plain, so the states differ by pattern as well as by colour
HATCHES = {BlockState.USED.value: "", BlockState.FREE.value: "///", BlockState.META.value: ".."}

# glibc's free chunks by the bin that holds them (the glibc stepper). The five bins step down in
# lightness (CIELAB L* about 83, 71, 59, 47, 35: 12 apart), so they stay apart in grey and for
# colour-blind readers (tests/test_colour_vision.py: delta E >= 12 between any two bins under
# protanopia, deuteranopia, tritanopia and in grey); and no picture relies on the colour alone:
# every binned chunk wide enough for text carries its bin's letter (BIN_LETTERS) and its place in
# the bin ("T1" = the tcache list's head), and the bin lists beside a map start with the same letter.
BIN_COLORS = {"tcache": "#ACDAB7", "fastbin": "#C3AC6E", "unsorted": "#B27F9A", "smallbin": "#397E28",
              "largebin": "#7E3B61", "free": COLORS["free"], "top": "#F4F4F4"}
BIN_LETTERS = {"tcache": "T", "fastbin": "F", "unsorted": "U", "smallbin": "S", "largebin": "L",
               "free": "free", "top": "top"}


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
