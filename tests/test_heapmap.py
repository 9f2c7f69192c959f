import random

import pytest

import labsupport as lab
from labsupport.heap import model
from labsupport.widgets import heapdraw


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
    s = model.summarize(bs)
    assert (s["meta"], s["used"], s["free"], s["largest_free"]) == (16, 64, 128, 96)
    # the free tail above the highest used block is room to grow, not a hole
    assert (s["footprint"], s["holes"], s["largest_hole"]) == (112, 32, 32)
    assert s["external_fragmentation"] == 0.0


# --------------------------------------------------------------------------- the one definition
def test_fragmentation_one_hole_is_zero():
    f = model.fragmentation([lab.Block(0, 32), lab.Block(32, 64, "free"), lab.Block(96, 32)])
    assert (f.footprint, f.holes, f.largest_hole, f.external_fragmentation) == (128, 64, 64, 0.0)


def test_fragmentation_crumbs_and_tail():
    # used 0..32, hole 64 B, used, hole 32 B, used, then a 1000-byte untouched tail
    f = model.fragmentation([(0, 32, 1), (32, 64, 0), (96, 32, 1), (128, 32, 0), (160, 32, 1),
                               (192, 1000, 0)])
    assert (f.footprint, f.holes, f.largest_hole) == (192, 96, 64)
    assert f.external_fragmentation == pytest.approx(1 - 64 / 96)
    four = model.fragmentation([(i * 64, 32, 1) for i in range(5)] + [(i * 64 + 32, 32, 0) for i in range(4)])
    assert four.external_fragmentation == pytest.approx(0.75)          # four equal crumbs


def test_fragmentation_meta_counts_as_in_use_and_empty_heap():
    f = model.fragmentation([lab.Block(0, 656, "meta"), lab.Block(656, 48, "free"), lab.Block(704, 48)])
    assert (f.footprint, f.holes, f.external_fragmentation) == (752, 48, 0.0)
    empty = model.fragmentation([lab.Block(0, 4096, "free")])
    assert (empty.footprint, empty.holes, empty.external_fragmentation) == (0, 0, 0.0)
    assert model.fragmentation([]).footprint == 0


def test_the_steppers_figures_use_the_same_definition():
    blocks = [(0, 32, 1), (32, 64, 0), (96, 32, 1), (128, 32, 0), (160, 32, 1), (192, 1000, 0)]
    f, g = model.figures_of(blocks, live=10), model.fragmentation(blocks)
    assert (f.footprint, f.holes, f.largest_hole, f.external_fragmentation) == \
        (g.footprint, g.holes, g.largest_hole, g.external_fragmentation)


def test_offsets_are_decimal():
    assert "+656" in heapdraw.table_html([lab.Block(656, 32)])
    assert "0x" not in heapdraw.details_html([lab.Block(656, 32)], 0)


def test_bad_block_rejected():
    with pytest.raises(ValueError, match="state must be one of"):
        lab.Block(0, 8, "taken")


def test_blocks_split_across_rows():
    rows, xs, ws, st, idx = heapdraw._rectangles([lab.Block(0, 100), lab.Block(100, 28, "free")], 0, 64)
    assert list(zip(rows, xs, ws, idx)) == [(0, 0, 64, 0), (1, 0, 36, 0), (1, 36, 28, 1)]


def test_draw_ten_thousand_blocks():
    fig = lab.draw_heap(blocks(5000), title="10,000 blocks")
    assert len(fig.axes[0].collections[0].get_paths()) >= 10000
    assert heapdraw.figure_png(fig)[:4] == b"\x89PNG"


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


def test_lab_names_are_the_layers_own():
    from labsupport.widgets.heapmap import HeapMap
    assert model.Block is lab.Block and heapdraw.draw_heap is lab.draw_heap
    assert HeapMap is lab.HeapMap and isinstance(HeapMap, type)


def test_the_old_address_is_gone():
    # issue 30: the heap pictures are reached at their homes (heap.model, widgets.heapdraw,
    # widgets.heapmap); labsupport/heapmap.py, which only re-exported them, is removed
    assert not (lab.ROOT / "labsupport" / "heapmap.py").exists()
    with pytest.raises(ImportError):
        __import__("labsupport.heapmap")
