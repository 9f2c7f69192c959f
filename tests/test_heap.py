"""Tests of labsupport.heap: the model (blocks, bins, steps, enums), the layering, the sources' constants."""
from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys

import pytest

import labsupport
from labsupport.heap import glibc, model, talloc, traces
from labsupport.heap.model import Bin, Bins, BinType, Block, BlockState, Figures, Step


# --------------------------------------------------------------------------- layering
def test_model_and_sources_import_no_plotting_or_widgets():
    code = ("import sys, labsupport.heap, labsupport.lessons.heap_managers; "
            "import labsupport.widgets.stepviews; "
            "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _modules():
    names = []
    for pkg in ("heap", "widgets", "lessons"):
        p = importlib.import_module(f"labsupport.{pkg}")
        names.append(p.__name__)
        names += [f"{p.__name__}.{m.name}" for m in pkgutil.iter_modules(p.__path__)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_every_module_has_all_and_every_name_resolves(name):
    mod = importlib.import_module(name)
    assert isinstance(mod.__all__, list)
    for n in mod.__all__:
        assert getattr(mod, n) is not None, f"{name}.{n}"


def test_lab_names_still_resolve():
    from labsupport.widgets.heapmap import HeapMap
    assert labsupport.Block is Block and labsupport.HeapMap is HeapMap and isinstance(HeapMap, type)


# --------------------------------------------------------------------------- enums
def test_block_state_is_a_string_enum():
    b = Block(0, 8, "meta")
    assert b.state is BlockState.META and b.state == "meta" and f"{b.state:<5}|" == "meta |"
    assert {"meta": 1}[b.state] == 1
    assert Block(0, 8, BlockState.FREE) == Block(0, 8, "free")
    with pytest.raises(ValueError, match="state must be one of used, free, meta"):
        Block(0, 8, "taken")


def test_op_kind_and_chunk_state_are_enums():
    op = traces.parse_trace("alloc a 8\nfree a\n")[1]
    assert op.kind is traces.OpKind.FREE and op.kind == "free" and str(op) == "free a"
    assert traces.Op("alloc", "x", 3).kind is traces.OpKind.ALLOC
    c = glibc.Chunk(656, 48, 1, "tcache")
    assert c.state is glibc.ChunkState.TCACHE and c.block() == Block(656, 48, "free", "in tcache")
    assert str(glibc.Chunk(656, 48, 1, "used", "a")) == "+656         48  P=1 M=0 A=0  used          a"
    assert glibc.ChunkState.TCACHE_STRUCT.block_state == "meta" and glibc.ChunkState.TOP.block_state == "free"


def test_policy_and_order_codes_come_from_the_header():
    lib = talloc.talloc_module().lib
    header = (traces.example_dir() / "talloc.h").read_text()
    defines = {k: int(v) for k, v in re.findall(r"#define\s+(TA_\w+)\s+(\d+)", header)}
    assert {p: p.code(lib) for p in talloc.Policy} == {
        talloc.Policy.FIRST: defines["TA_FIRST_FIT"], talloc.Policy.NEXT: defines["TA_NEXT_FIT"],
        talloc.Policy.BEST: defines["TA_BEST_FIT"]}
    assert talloc.Order.ADDRESS.code(lib) == defines["TA_ADDRESS"]
    assert talloc.POLICIES == ("first", "next", "best") and talloc.ORDERS == ("lifo", "address")
    r = talloc.replay("alloc a 1\n", talloc.Policy.BEST, "address", arena_size=256)
    assert r.policy is talloc.Policy.BEST and r.tag == defines["TA_TAG"]
    assert r.frame == ((0, 8), (248, 8)) and "best fit, address free list" in repr(r)
    with pytest.raises(ValueError, match="policy must be one of first, next, best"):
        talloc.replay("alloc a 1\n", "worst")


# --------------------------------------------------------------------------- bins and steps
def test_bin_types_know_their_link_fields():
    assert BinType.TCACHE.link_fields == ("next",) and not BinType.TCACHE.doubly_linked
    assert BinType.LARGEBIN.link_fields == ("fd", "bk", "fd_nextsize", "bk_nextsize")
    assert BinType.FREE_LIST.doubly_linked and BinType.FREE_LIST == "free list"


def _step(bins):
    return Step(3, None, ((0, 32, 1, "a"), (32, 32, 0, ""), (64, 48, 0, "")), Bins(bins),
                Figures(10, 32, 0, 0, 0.3, 0.0))


def test_a_step_holds_named_lists():
    s = _step([Bin("tcache 0x20", BinType.TCACHE, (32,), size=32), Bin("unsorted", BinType.UNSORTED, (64,))])
    assert s.bins.names == ["tcache 0x20", "unsorted"] and len(s.bins) == 2
    assert s.bins["unsorted"].offsets == (64,) and "smallbin 0x40" not in s.bins
    assert [b.name for b in s.bins.of_type(BinType.TCACHE)] == ["tcache 0x20"]
    assert s.freelist == ()                      # no teaching-allocator list in a glibc step
    t = _step([Bin("free list", BinType.FREE_LIST, (64, 32))])
    assert t.freelist == (64, 32)
    assert [b.state for b in t.heap_blocks()] == ["used", "free", "free"]


def test_teaching_allocator_steps_carry_the_free_list_as_a_bin():
    r = talloc.replay("alloc a 24\nalloc b 24\nfree a\n", arena_size=1024)
    s = r.final
    assert s.bins.names == ["free list"] and s.bins["free list"].type is BinType.FREE_LIST
    assert s.freelist == s.bins["free list"].offsets == (8, 104)


def test_snapshots_split_by_allocator():
    assert issubclass(glibc.GlibcHeap, model.HeapSnapshot)
    from labsupport.heap.mimalloc import MimallocHeap, Page
    assert issubclass(MimallocHeap, model.HeapSnapshot)
    assert not hasattr(MimallocHeap("mimalloc", [], [], Figures(0, 0, 0, 0, 0.0, 0.0)), "chunks")
    assert Page(0, 65536, 4096, 32, 2)[3] == 32
