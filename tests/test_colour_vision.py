"""The heap pictures seen without full colour vision: are free, used and glibc's bins told apart?

Each picture's colours are passed through the simulation of Machado, Oliveira and Fernandes
(2009), "A Physiologically-based Model for Simulation of Color Vision Deficiency" (IEEE TVCG
15(6), doi:10.1109/TVCG.2009.113), severity 1.0 (full protanopia, deuteranopia, tritanopia),
applied to linear sRGB; the matrices are the paper's supplementary table as colorspacious
carries it (github.com/njsmith/colorspacious, commit 58948923b706879a54071568c7501be3f108797c,
colorspacious/cvd.py lines 131-135, 188-192 and 246-250; applied in linear sRGB there too:
colorspacious/conversion.py lines 43-53). "No colour at all" is the luminance alone (sRGB's
Y). Two colours count as told apart when their CIELAB distance (CIE76 delta E, D65) is at
least ``APART`` = 10: a threshold chosen here (a just-noticeable difference is about 2.3;
blocks in a busy picture need several times that), not a standard.

The state picture (``heapdraw.draw_heap``) is checked on its rendered PNG: every pixel
simulated, each state's pixels compared; its states also differ by pattern (``style.HATCHES``).
glibc's bin colours (``style.BIN_COLORS``, the SVG of ``glibcstep.glibc_heap_svg``) are checked
as the palette the SVG fills with: the five bins must be apart in every vision; the pairs that
still collapse (plain free and top) are recorded in ``CONFUSED``, and every chunk of the map
wide enough carries a label (its bin's letter and place, ``top``, ``free``), checked on real
replays. The first reading of this test (the palette before) found tcache and largebin 6.7
apart under deuteranopia and all five bins 0.8 to 9.1 apart in grey.
"""
from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from labsupport.heap.model import Block
from labsupport.widgets.heapdraw import draw_heap, figure_png
from labsupport.widgets.style import BIN_COLORS, COLORS

MACHADO_2009 = {       # severity 1.0, rows map linear (R, G, B) to the simulated linear (R, G, B)
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}
VISIONS = ("protanopia", "deuteranopia", "tritanopia", "no colour")
APART = 10.0

# the pairs of style.BIN_COLORS still closer than APART with the palette of today: only the plain
# free grey and the top chunk's paler grey (and, in grey alone, the pale tcache green and the free
# grey). Every chunk of these kinds carries a label in the map ("free", "top", "T1"), which
# test_where_colour_cannot_separate_chunks_a_label_does checks; the five bins themselves are
# apart in every vision (test_glibcs_bins_stay_apart).
CONFUSED = {
    "protanopia": {("free", "top")},
    "deuteranopia": {("free", "top")},
    "tritanopia": {("free", "top")},
    "no colour": {("tcache", "free"), ("free", "top")},
}
BINS = ("tcache", "fastbin", "unsorted", "smallbin", "largebin")


def _linear(srgb):
    srgb = np.asarray(srgb, float)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _simulate(linear, vision: str):
    """Linear sRGB (..., 3) as seen with ``vision``."""
    if vision == "no colour":
        y = linear @ np.array([0.2126, 0.7152, 0.0722])
        return np.repeat(y[..., None], 3, -1)
    return np.clip(linear @ np.array(MACHADO_2009[vision]).T, 0, 1)


def _lab(linear):
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                             [0.0193, 0.1192, 0.9505]]).T
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], -1)


def _hex(colour: str):
    return np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])


def _distance(a: str, b: str, vision: str) -> float:
    return float(np.linalg.norm(_lab(_simulate(_linear(_hex(a)), vision))
                                - _lab(_simulate(_linear(_hex(b)), vision))))


def test_the_simulation_is_machados():
    # a grey stays grey (each row sums to 1), pure red loses most of its redness for a protanope
    for m in MACHADO_2009.values():
        assert np.allclose(np.sum(m, 1), 1, atol=2e-3)
    red = _lab(_simulate(_linear([1, 0, 0]), "protanopia"))
    assert red[1] < 0.5 * _lab(_linear([1, 0, 0]))[1]


@pytest.mark.parametrize("vision", VISIONS)
def test_used_free_and_meta_stay_apart_on_the_rendered_heap_picture(vision):
    blocks = [Block(0, 16, "meta"), Block(16, 64, "used", owner="a"), Block(80, 96, "free"),
              Block(176, 32, "used", owner="b"), Block(208, 48, "free"), Block(256, 16, "meta")]
    png = figure_png(draw_heap(blocks, title="states"))
    import matplotlib.image
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    seen = _lab(_simulate(_linear(pixels), vision))
    means = {}
    for state, colour in COLORS.items():
        mask = np.all(np.abs(pixels - _hex(colour)) < 1.5 / 255, -1)
        assert mask.sum() > 50, f"{state} ({colour}) is not in the picture"
        means[state] = seen[mask].mean(0)
    for a, b in itertools.combinations(means, 2):
        d = float(np.linalg.norm(means[a] - means[b]))
        assert d >= APART, f"{vision}: {a} and {b} differ by delta E {d:.1f} only"


@pytest.mark.parametrize("vision", VISIONS)
def test_glibcs_bins_stay_apart(vision):
    """The five bins' colours step down in lightness: every two are apart in every vision."""
    for a, b in itertools.combinations(BINS, 2):
        d = _distance(BIN_COLORS[a], BIN_COLORS[b], vision)
        assert d >= APART, f"{vision}: {a} and {b} differ by delta E {d:.1f} only"


@pytest.mark.parametrize("vision", VISIONS)
def test_which_colours_still_collapse(vision):
    confused = {(a, b) for a, b in itertools.combinations(BIN_COLORS, 2)
                if _distance(BIN_COLORS[a], BIN_COLORS[b], vision) < APART}
    assert confused == CONFUSED[vision], {
        pair: round(_distance(BIN_COLORS[pair[0]], BIN_COLORS[pair[1]], vision), 1)
        for pair in confused ^ CONFUSED[vision]}


def test_where_colour_cannot_separate_chunks_a_label_does():
    """Every chunk of the glibc map wide enough for a letter carries its label: the owner of a
    used chunk, "meta" for glibc's own, the bin's letter and place ("T1") for a binned chunk,
    "top"; the bin lists beside the map start with the same letter. Real replays on this
    machine's glibc, with and without the tcache, so every kind of bin it has is drawn."""
    import re

    from labsupport.heap.glibc import NO_TCACHE, glibc_steps
    from labsupport.widgets.glibcstep import bins_html, chunk_label, glibc_heap_svg, glibc_span
    from labsupport.widgets.style import BIN_LETTERS
    trace = ("".join(f"alloc a{i} 40\nalloc g{i} 16\n" for i in range(20)) + "alloc b 2000\nalloc h 16\n"
             + "alloc c 1100\nalloc k 16\n" + "".join(f"free a{i}\n" for i in range(20)) + "free b\nfree c\n"
             + "alloc d 3000\nalloc e 100\n")
    kinds, labelled = set(), 0
    for tunables in (None, NO_TCACHE):
        steps = glibc_steps(trace, tunables)
        for step in steps[1:]:
            cache: dict = {}
            glibc_heap_svg(step, glibc_span(steps), cache=cache)
            for (chunk, place, _touched), svg in cache.items():
                kinds.add(str(chunk.state))
                first = re.match(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)
                if float(first.group(1)) <= 8:           # too narrow for a letter
                    continue
                want = chunk_label(str(chunk.state), chunk.owner, place[1] if place else None)
                got = re.search(r"<text [^>]*>([^<]*)</text>", svg)
                assert got, f"no label in {chunk} ({svg[:120]})"
                assert want.startswith(got.group(1)) and (got.group(1)[0] == want[0]), (chunk, got.group(1), want)
                labelled += 1
            lists = bins_html(step)
            for b in step.bins:
                assert f">{BIN_LETTERS[str(b.type)]}</span><b>{b.name}</b>" in lists
    assert {"used", "tcache", "smallbin", "unsorted", "largebin", "top"} <= kinds and labelled > 100
    assert chunk_label("tcache", place=1) == "T1" and chunk_label("smallbin", place=12) == "S12"
    assert chunk_label("top") == "top" and chunk_label("free") == "free" and chunk_label("used", "a") == "a"


def test_the_state_picture_has_a_pattern_per_state():
    """Free blocks striped, glibc's own dotted, used plain: in the blocks and in the legend."""
    from labsupport.widgets.style import HATCHES
    fig = draw_heap([Block(0, 16, "meta"), Block(16, 64, "used", owner="a"), Block(80, 96, "free")])
    ax = fig.axes[0]
    hatches = {c.get_hatch() for c in [*ax.collections, *ax.patches] if c.get_hatch()}
    assert hatches == {HATCHES["free"], HATCHES["meta"]} and not HATCHES["used"]
    legend = {t.get_text().split()[0]: h.get_hatch() for t, h in zip(ax.get_legend().get_texts(),
                                                                     ax.get_legend().legend_handles)}
    assert legend == {"used": "", "free": "///", "meta": ".."}


def test_the_teaching_allocators_strip_has_a_pattern_per_state():
    """The strip of the teaching allocator (``stepviews.heap_svg``, drawn the same by heapfront):
    every piece of a free block is covered by the striped pattern, of the prologue/epilogue by
    the dotted one, a used block by none; the patterns are the ones style.HATCHES names."""
    import re

    from labsupport.heap import talloc
    from labsupport.widgets import stepviews
    from labsupport.widgets.style import HATCHES
    r = talloc.replay("alloc a 40\nalloc b 100\nalloc c 24\nalloc e 24\nfree a\nfree c\nalloc d 16\n")
    svg = stepviews.heap_svg(r.final, r.arena_size, r.frame)
    defs = dict(re.findall(r'<pattern id="([^"]+)"[^>]*>(.*?)</pattern>', svg))
    assert set(defs) == {"heap-strip-free", "heap-strip-meta"}
    assert "<path" in defs["heap-strip-free"] and "<circle" not in defs["heap-strip-free"]      # stripes
    assert "<circle" in defs["heap-strip-meta"] and "<path" not in defs["heap-strip-meta"]      # dots
    assert HATCHES["free"] == "///" and HATCHES["meta"] == ".." and not HATCHES["used"]
    rects = re.findall(r'<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="\d+" fill="([^"]+)"', svg)
    pattern_of = {(x, y, w): f for x, y, w, f in rects if f.startswith("url(")}
    seen = set()
    for x, y, w, fill in rects:
        if fill.startswith("url("):
            continue
        state = {v: k for k, v in COLORS.items()}[fill]
        want = {"free": "url(#heap-strip-free)", "meta": "url(#heap-strip-meta)"}.get(state)
        assert pattern_of.get((x, y, w)) == want, (state, x, y, w)
        seen.add(state)
    assert seen == {"used", "free", "meta"}
    assert len(pattern_of) == sum(1 for *_xyw, f in rects if f in (COLORS["free"], COLORS["meta"]))
