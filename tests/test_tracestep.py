"""Tests of what lesson 01 uses, at its homes: traces (heap.traces), the teaching allocator
talloc.c (heap.talloc), glibc and mimalloc (heap.glibc, heap.mimalloc), the stepper
(widgets.stepper) and the lesson's checks (lessons.heap_managers)."""
from __future__ import annotations

import pytest

import labsupport as lab
from labsupport.heap import glibc, mimalloc, model, talloc, traces
from labsupport.lessons import heap_managers as hm
from labsupport.widgets import stepper
from labsupport.widgets.stepper import talloc_renderer

SHIPPED = ["intro", "coalesce", "fragment", "exercise", "random1000"]
POLICIES = [("first", "lifo"), ("first", "address"), ("next", "lifo"), ("best", "lifo"), ("best", "address")]


# --------------------------------------------------------------------------- traces
def test_parse_ops_comments_and_arena():
    t = traces.parse_trace("# arena: 2048\nalloc a 24   # a comment\n\nfree a\nalloc b 0x10\n")
    assert t.arena == 2048
    assert [str(op) for op in t] == ["alloc a 24", "free a", "alloc b 16"]
    assert [op.line for op in t] == [2, 4, 5]
    assert t.text(numeric=True) == "alloc 0 24\nfree 0\nalloc 1 16\n"


@pytest.mark.parametrize("text, words", [
    ("alloc a 24\nalloc a 8\n", ["line 2", "already allocated"]),
    ("free x\n", ["line 1", "not allocated"]),
    ("alloc a big\n", ["line 1", "not a number"]),
    ("alloc a -3\n", ["line 1", "negative"]),
    ("malloc a 3\n", ["line 1", "expected 'alloc ID SIZE' or 'free ID'"]),
])
def test_parse_errors_name_the_line(text, words):
    with pytest.raises(traces.TraceError) as e:
        traces.parse_trace(text)
    for w in words:
        assert w in str(e.value)


def test_shipped_traces_load_and_unknown_name_lists_them():
    for name in SHIPPED:
        assert len(traces.load_trace(name)) > 0
    with pytest.raises(FileNotFoundError) as e:
        traces.load_trace("nonesuch")
    assert "fragment" in str(e.value)
    assert len(traces.load_trace("random1000")) == 1000


def test_random_trace_is_reproducible():
    a, b = traces.random_trace(300, 5), traces.random_trace(300, 5)
    assert a.text() == b.text() and len(a) == 300
    assert a.text() != traces.random_trace(300, 6).text()


# --------------------------------------------------------------------------- figures
def test_figures_definitions():
    # used 0..32, hole 32..96 (64 B), used 96..128, hole 128..160 (32 B), used 160..192, tail
    blocks = [(0, 32, 1), (32, 64, 0), (96, 32, 1), (128, 32, 0), (160, 32, 1), (192, 1000, 0)]
    f = model.figures_of(blocks, live=60)
    assert f.footprint == 192
    assert f.holes == 96 and f.largest_hole == 64
    assert f.external_fragmentation == pytest.approx(1 - 64 / 96)
    assert f.utilisation == pytest.approx(60 / 192)
    empty = model.figures_of([(0, 1000, 0)], live=0)
    assert empty.footprint == 0 and empty.holes == 0 and empty.external_fragmentation == 0


# --------------------------------------------------------------------------- the teaching allocator
def _assert_heap_ok(state, arena, order):
    lib = talloc.talloc_module().lib                         # the header's constants: TA_TAG 8, TA_ALIGN 16...
    tag, align = lib.TA_TAG, lib.TA_ALIGN
    pos = tag
    free = set()
    prev_free = False
    for off, size, used, owner in state.blocks:
        assert off == pos, f"step {state.step}: gap or overlap at {pos}"
        assert size % align == 0 and size >= lib.TA_MIN_BLOCK
        assert (off + tag) % align == 0                  # payload alignment
        if not used:
            assert not prev_free, f"step {state.step}: two free neighbours at {off}"
            free.add(off)
        else:
            assert owner
        prev_free = not used
        pos += size
    assert pos == arena - tag
    assert set(state.freelist) == free and len(state.freelist) == len(free)
    if order == "address":
        assert list(state.freelist) == sorted(state.freelist)


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("policy, order", POLICIES)
def test_replay_keeps_every_invariant(name, policy, order):
    r = talloc.replay(name, policy, order)
    assert len(r) == len(r.trace) + 1
    for s in r.states:
        _assert_heap_ok(s, r.arena_size, order)


def test_block_sizes_round_to_16_with_16_bytes_of_tags():
    lib = talloc.talloc_module().lib
    assert [lib.ta_block_size_for(n) for n in (0, 1, 16, 17, 24, 100)] == [32, 32, 32, 48, 48, 128]


def test_fragment_trace_first_fit_fails_best_fit_does_not():
    first = talloc.replay("fragment", "first", "lifo")
    best = talloc.replay("fragment", "best", "lifo")
    assert [s.op.id for s in first.failures] == ["Y"]
    assert best.failures == []
    # first fit failed although more free bytes than the request existed
    last = first.final
    free_total = sum(s for _o, s, u, _w in last.blocks if not u)
    assert free_total >= 256 + 16


def test_lifo_reuses_the_block_just_freed():
    r = talloc.replay("alloc a 24\nalloc b 24\nalloc c 24\nfree a\nfree c\nalloc d 24\n", arena_size=1024)
    assert r[4].freelist == (8, 152)              # free a: a goes to the front
    assert r[5].freelist == (104, 8)              # free c: c merged with the tail, and went to the front
    owners = {w: o for o, s, u, w in r.final.blocks if u}
    assert owners == {"b": 56, "d": 104}          # first fit on a LIFO list takes the head
    addr = talloc.replay(r.trace, "first", "address")
    assert {w: o for o, s, u, w in addr.final.blocks if u} == {"b": 56, "d": 8}


def test_no_coalescing_leaves_neighbours_free():
    r = talloc.replay("alloc a 24\nalloc b 24\nfree a\nfree b\n", arena_size=1024, coalesce=False)
    states = [u for _o, _s, u, _w in r.final.blocks]
    assert states[:2] == [0, 0]


def test_ta_check_reports_a_corrupted_footer():
    m = talloc.talloc_module()
    ffi, lib = m.ffi, m.lib
    mem = ffi.new("unsigned char[]", 1024 + 16)
    h = ffi.new("ta_heap *")
    assert lib.ta_init(h, mem, 1024 + 16, 0, 0, 1) == 0
    p = ffi.cast("unsigned char *", lib.ta_malloc(h, 40))
    msg = ffi.new("char[]", 256)
    assert lib.ta_check(h, msg, 256) == 0
    ffi.cast("size_t *", p + 48)[0] = 0x99       # the block is 64 B: its footer is at payload + 48
    assert lib.ta_check(h, msg, 256) != 0
    assert b"footer" in ffi.string(msg)


# --------------------------------------------------------------------------- learner allocators, isolated
def _learner(body: str):
    d = traces.example_dir()
    return lab.build_c('#include "talloc.h"\n' + body, files=(str(d / "talloc.c"),),
                       cflags=("-DTA_LEARNER_COALESCE",), include_dirs=(str(d),))


GOOD = """
ta_block *ta_coalesce(ta_heap *h, ta_block *b) {
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) { ta_list_remove(h, next); ta_set(b, ta_size(b) + ta_size(next), 0); }
    if (!ta_prev_is_used(b)) {
        ta_block *prev = ta_prev_block(b);
        ta_list_remove(h, prev); ta_set(prev, ta_size(prev) + ta_size(b), 0); b = prev;
    }
    return b;
}"""
NEXT_ONLY = """
ta_block *ta_coalesce(ta_heap *h, ta_block *b) {
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) { ta_list_remove(h, next); ta_set(b, ta_size(b) + ta_size(next), 0); }
    return b;
}"""
FORGETS_LIST = """
ta_block *ta_coalesce(ta_heap *h, ta_block *b) {
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) ta_set(b, ta_size(b) + ta_size(next), 0);   /* next stays on the list */
    if (!ta_prev_is_used(b)) {
        ta_block *prev = ta_prev_block(b);
        ta_list_remove(h, prev); ta_set(prev, ta_size(prev) + ta_size(b), 0); b = prev;
    }
    return b;
}"""
SPINS = """
ta_block *ta_coalesce(ta_heap *h, ta_block *b) {
    while (!ta_prev_is_used(b)) { }
    return b;
}"""
BAD_HEADER = """
ta_block *ta_coalesce(ta_heap *h, ta_block *b) {
    ta_block *next = ta_next_block(b);
    if (!ta_is_used(next)) { ta_list_remove(h, next); b->header = ta_size(b) + ta_size(next); }
    return b;
}"""


def test_reference_coalesce_passes_every_trace():
    m = _learner(GOOD)
    for name in SHIPPED:
        assert talloc.check_module(m, name) == "ok"


def test_seeded_bug_backward_merge_missing_is_named():
    msg = talloc.check_module(_learner(NEXT_ONLY), "coalesce")
    assert msg.startswith("step 7 (free c)")
    assert "not coalesced" in msg


def test_seeded_bug_block_left_on_free_list():
    msg = talloc.check_module(_learner(FORGETS_LIST), "coalesce")
    assert "free list" in msg and msg.startswith("step ")


def test_seeded_bug_endless_loop_is_stopped_and_named():
    msg = talloc.check_module(_learner(SPINS), "coalesce")
    assert msg.startswith("step 7 (free c)")
    assert "did not finish" in msg


def test_seeded_bug_footer_not_updated():
    msg = talloc.check_module(_learner(BAD_HEADER), "exercise")
    assert "header" in msg and "footer" in msg


def test_exercise_check_with_lab_check_explains_failure(capsys):
    m = _learner(NEXT_ONLY)
    ok = lab.check(lambda name: talloc.check_module(m, name),
                   [lab.Case(args=("coalesce",), expected="ok", hint="merge with the block before too")],
                   name="replay")
    out = capsys.readouterr().out
    assert not ok
    assert "step 7" in out and "merge with the block before" in out


# --------------------------------------------------------------------------- real allocators
def test_glibc_heap_is_drawn_as_offsets():
    g = glibc.replay_glibc("intro")
    assert g.blocks[0].offset == 0
    if glibc.glibc_version() < (2, 43):       # the tcache's chunk, made by the first malloc, comes first
        assert g.blocks[0].state == "meta" and g.blocks[0].size == glibc.tcache_struct_size()
    else:                                     # 2.43 makes it at the first free, wherever top is then
        assert g.blocks[0].state == "used" and g.blocks[0].owner == "a"
        assert all(b.size == glibc.tcache_struct_size() for b in g.blocks if b.state == "meta")
    sizes = {b.owner: b.size for b in g.blocks if b.state == "used"}
    assert sizes["a"] == 32 and sizes["d"] == 48          # 24 -> 32, 40 -> 48
    assert g.blocks[-1].owner == "top"
    again = glibc.replay_glibc("intro")
    assert [(b.offset, b.size, b.state) for b in g.blocks] == [(b.offset, b.size, b.state) for b in again.blocks]


def test_glibc_without_tcache_marks_free_chunks_in_bins():
    g = glibc.replay_glibc("alloc a 100\nalloc b 100\nalloc c 100\nfree a\n", tunables=glibc.NO_TCACHE)
    free = [b for b in g.blocks if b.state == "free" and b.owner != "top"]
    assert len(free) == 1 and free[0].size == 112


def test_mimalloc_pages_hold_one_block_size():
    m = mimalloc.replay_mimalloc("intro")
    assert m.pages
    assert all(p[3] > 0 for p in m.pages)
    assert {p[3] for p in m.pages} >= {32, 48}


# --------------------------------------------------------------------------- the widget
def test_stepper_steps_and_rerun():
    st = stepper.Stepper("fragment")
    n = len(st.replay.states)
    for i in range(n):
        st.slider.value = i
    assert "FAILED" in st.label.value                       # the last step of first fit fails
    st.policy.value = "best"
    assert "FAILED" not in st.label.value
    assert "<svg" in st.map.value and "free list" in st.freelist.value
    st.text.value = "alloc q 10\nfree nope\n"
    st._from_text()
    assert "line 2" in st.message.value


def test_heap_svg_has_one_rect_per_block_row_piece():
    r = talloc.replay("intro")
    svg = talloc_renderer(r).heap(r.final)
    assert svg.count("<rect") >= len(r.final.blocks) + 2


# --------------------------------------------------------------------------- the lesson's other exercises
BEST_FAILS = """# arena: 240
alloc A 80
alloc s1 16
alloc B 48
alloc s2 16
free B
free A
alloc r 16
alloc x 48
alloc y 48
"""


def test_first_beats_best_verdicts():
    assert hm.first_beats_best(BEST_FAILS) == "ok"
    assert hm.first_beats_best(BEST_FAILS.replace("free B\nfree A", "free A\nfree B")).startswith("first fit fails too")
    assert hm.first_beats_best("alloc a 10\n").startswith("best fit fails no allocation")
    assert "at most 12" in hm.first_beats_best("alloc a 1\nfree a\n" * 7)
    assert "does not parse" in hm.first_beats_best("free a\n")
    assert hm.first_beats_best(None) == "no trace yet"


def test_reuse_is_measured_and_choose_the_answer_hides_it(capsys):
    real = hm.real_reuse()
    assert real == {"x": "a", "y": "c", "z": "new", "w": "d"}      # tcache: per size, LIFO
    assert not hm.check_reuse(dict(real))          # the oracle was called first: refused as a peek
    assert hm.check_reuse(dict(real))              # the next check, with no peek since, judges the answer
    assert not hm.check_reuse({**real, "x": "b"})
    out = capsys.readouterr().out
    assert "✘" in out and "hint:" in out and "expected" not in out


def test_glibc_summary_separates_the_tcache_chunk_and_mimalloc_has_no_ext_fragmentation():
    g = glibc.replay_glibc("fragment").summary()
    meta = glibc.tcache_struct_size()         # 656 (64 lists) up to glibc 2.41, 768 (76 lists) from 2.42
    assert g["fixed meta B"] == meta and g["peak w/o meta B"] == g["peak footprint B"] - meta
    assert mimalloc.replay_mimalloc("fragment").summary()["final ext. fragmentation"] is None




def _built_from_scratch(m):
    """A step's blocks and figures the plain way: every block, ``model.figures_of``."""
    n = m.lib.ta_walk(m.heap, m.info, m.maxb)
    raw = m.ffi.unpack(m.ffi.cast("long *", m.info), 3 * n)
    offs, used = raw[0::3], raw[2::3]
    blocks = tuple(zip(offs, raw[1::3], used, [m.owner_at.get(o, "") if u else "" for o, u in zip(offs, used)]))
    return blocks, model.figures_of([b[:3] for b in blocks], m.live_total, m.failed)


@pytest.mark.parametrize("policy", talloc.POLICIES)
@pytest.mark.parametrize("coalesce", [True, False])
def test_snapshot_from_the_last_step_is_the_step_built_from_scratch(policy, coalesce):
    # snapshot rebuilds only the blocks next to the one an operation touched, and computes
    # the figures in numpy: the same tuples and the same figures as building every block
    for order in talloc.ORDERS:
        m = talloc._machine(traces.random_trace(1500, seed=7), policy, order, None, coalesce, None)
        steps = [m.snapshot(0, None, False, None, 0)]
        assert (steps[0].blocks, steps[0].figures) == _built_from_scratch(m)
        for k, op in enumerate(m.trace.ops, 1):
            s = m.snapshot(k, op, *m.apply())
            assert (s.blocks, s.figures) == _built_from_scratch(m), k
            assert repr(s.figures) == repr(_built_from_scratch(m)[1])


def test_lazy_steps_in_any_order_are_the_replays():
    import random
    tr = traces.random_trace(900, seed=3)
    full = talloc.replay(tr, "best", "address")
    lazy = talloc.replay_lazy(tr, "best", "address", every=64, cache=4)
    order = list(range(len(full.states)))
    random.Random(5).shuffle(order)
    for i in order[:300] + list(range(400, 500)) + list(range(480, 380, -3)):
        assert lazy.states[i] == full.states[i], i
