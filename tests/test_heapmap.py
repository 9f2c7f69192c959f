import random

import pytest

import labsupport as lab
from labsupport import heapmap


def blocks(n, seed=1):
    rng, off, out = random.Random(seed), 0, []
    for i in range(n):
        size = rng.choice([16, 32, 48, 64, 128, 4096])
        out.append(lab.Block(off, 16, "meta"))
        out.append(lab.Block(off + 16, size, rng.choice(["used", "free"]), owner=f"b{i}"))
        off += 16 + size
    return out


def test_summary_and_fragmentation():
    bs = [lab.Block(0, 16, "meta"), lab.Block(16, 32, "free"), lab.Block(48, 64, "used"),
          lab.Block(112, 96, "free")]
    s = heapmap.summarize(bs)
    assert (s["meta"], s["used"], s["free"], s["largest_free"]) == (16, 64, 128, 96)
    assert s["external_fragmentation"] == pytest.approx(1 - 96 / 128)


def test_bad_block_rejected():
    with pytest.raises(ValueError, match="state must be one of"):
        lab.Block(0, 8, "taken")


def test_blocks_split_across_rows():
    rows, xs, ws, st, idx = heapmap._rectangles([lab.Block(0, 100), lab.Block(100, 28, "free")], 0, 64)
    assert list(zip(rows, xs, ws, idx)) == [(0, 0, 64, 0), (1, 0, 36, 0), (1, 36, 28, 1)]


def test_draw_ten_thousand_blocks():
    fig = lab.draw_heap(blocks(5000), title="10,000 blocks")
    assert len(fig.axes[0].collections[0].get_paths()) >= 10000
    assert heapmap.figure_png(fig)[:4] == b"\x89PNG"


def test_draw_empty_and_highlight():
    lab.draw_heap([])
    fig = lab.draw_heap(blocks(3), highlight=1)
    assert any(p.get_edgecolor()[:3] == (1.0, 0.0, 0.0) for p in fig.axes[0].patches)


def test_widget_update_and_deterministic_repr():
    w = lab.HeapMap(blocks(4), title="t")
    assert w.image.value[:4] == b"\x89PNG"
    assert repr(w).startswith("HeapMap(8 blocks:")
    w.picker.value = 3
    assert "block 3" in w.details.value
    w.update(blocks(2))
    assert w.picker.max == 3 and repr(w).startswith("HeapMap(4 blocks:")
