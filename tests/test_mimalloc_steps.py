"""mimalloc_steps: one Step per operation of a trace, replayed in a private mimalloc heap."""
import pytest

from labsupport.heap.mimalloc import MI_LIST_NAMES, MimallocSteps, mimalloc_steps, replay_mimalloc
from labsupport.heap.model import BinType, Step
from labsupport.heap.traces import OpKind, parse_trace, random_trace


def _live_after(steps):
    live = set()
    for s in steps:
        if s.op is not None:
            (live.add if s.op.kind == OpKind.ALLOC else live.discard)(s.op.id)
        yield s, set(live)


def test_one_step_per_operation_and_step_zero_is_empty():
    st = mimalloc_steps("fragment")
    assert isinstance(st, MimallocSteps)
    assert all(isinstance(s, Step) for s in st)
    assert [s.step for s in st] == list(range(len(st)))
    assert st[0].op is None and st[0].blocks == () and len(st[0].bins) == 0
    assert st[0].figures.footprint == 0
    assert st.version >= 30000


def test_blocks_owners_changed_and_layout():
    t = random_trace(300, seed=5)
    st = mimalloc_steps(t)
    assert len(st) == len(t) + 1
    ends = {o: o + size for o, size, _ in st.pages}
    for s, live in _live_after(st):
        assert {b[3] for b in s.blocks if b[2]} == live          # the used blocks are the live ids
        pos = -1
        for o, size, used, own in s.blocks:                      # address order, no overlap
            assert o >= pos and size > 0
            pos = o + size
        assert sum(b[1] for b in s.blocks if not b[2]) == s.figures.holes
        if s.op is not None:                                     # the touched block is drawn
            assert s.changed is not None
            (blk,) = [b for b in s.blocks if b[0] <= s.changed < b[0] + b[1]]
            assert bool(blk[2]) == (s.op.kind == OpKind.ALLOC)
            if s.op.kind == OpKind.ALLOC:
                assert blk[3] == s.op.id
    # a block keeps its offset for its whole life
    where = {}
    for s in st[1:]:
        if s.op.kind == OpKind.ALLOC:
            where[s.op.id] = s.changed
        else:
            assert where.pop(s.op.id) == s.changed
    assert ends                                                  # pages laid end to end, in order
    starts = sorted(ends)
    assert all(ends[a] == b for a, b in zip(starts, starts[1:]))


def test_figures_agree_with_replay_mimalloc():
    t = random_trace(200, seed=2)
    st = mimalloc_steps(t)
    for k in (1, 50, 200):
        r = replay_mimalloc(t, stop=k)
        assert st[k].figures.footprint == r.footprints[-1]
        assert st[k].figures.holes == r.figures.holes
        assert st[k].figures.live == r.figures.live
        assert st[k].figures.largest_hole == r.figures.largest_hole
        assert st[k].figures.external_fragmentation == pytest.approx(r.figures.external_fragmentation)


def test_free_lists_read_from_the_pages():
    st = mimalloc_steps("alloc a 64\nalloc b 64\nalloc c 64\nfree a\nfree b\nalloc d 64\n")
    if not st.internals:
        pytest.skip(f"mimalloc internals not readable here: {st.why}")
    a, b = st[1].changed, st[2].changed
    (free,) = [x for x in st[2].bins if x.type == BinType.MI_FREE]
    assert free.name.endswith(" free") and free.size is not None
    assert a not in free.offsets and b not in free.offsets
    # a freed block goes to the page's local free list, newest first, not to `free`
    local = [x for x in st[5].bins if x.type == BinType.MI_LOCAL_FREE]
    assert len(local) == 1 and local[0].offsets == (b, a)
    assert {own for *_, own in st[5].blocks if own in ("local free",)} == {"local free"}
    # and the next malloc still takes the head of `free`, not the block freed last
    assert st[6].changed not in (a, b)
    # one thread only: nothing is ever on a thread-free list
    assert not any(x.type == BinType.MI_THREAD_FREE for s in st for x in s.bins)
    assert {n for n, _ in MI_LIST_NAMES.values()} == {"free", "local free", "thread free"}


def test_failed_allocation_is_a_failed_step():
    st = mimalloc_steps(parse_trace("alloc a 16\nalloc big 4611686018427387904\nfree a\n"))
    assert [s.failed for s in st] == [False, False, True, False]
    assert st[2].figures.failed == 1 and st[2].changed is None


def test_a_thousand_operations_is_deterministic():
    t = random_trace(1000, seed=7)
    one, two = mimalloc_steps(t), mimalloc_steps(t)
    assert len(one) == 1001
    assert [(s.blocks, s.bins, s.figures, s.changed) for s in one] == \
           [(s.blocks, s.bins, s.figures, s.changed) for s in two]


def test_public_api_only_view_has_the_same_blocks_in_use():
    t = random_trace(200, seed=4)
    full, public = mimalloc_steps(t), mimalloc_steps(t, internals=False)
    assert not public.internals and "public API" in public.why
    for a, b in zip(full, public):
        assert [x for x in a.blocks if x[2]] == [x for x in b.blocks if x[2]]
        assert a.figures == b.figures and a.changed == b.changed
        assert len(b.bins) == 0
        assert {x[3] for x in b.blocks if not x[2]} <= {"free"}


def test_a_page_that_goes_away_with_its_last_block():
    n = 1100                                    # 64-byte blocks: more than one page holds
    ops = [f"alloc x{i} 64" for i in range(n)] + [f"free x{i}" for i in reversed(range(n))]
    st = mimalloc_steps("\n".join(ops) + "\n")
    assert len(st.pages) >= 2
    assert all(s.changed is not None for s in st[1:])
    pages_drawn = [len({b.name.split(" (")[0] for b in s.bins}) for s in st]
    assert max(pages_drawn) >= 2 and pages_drawn[-1] < max(pages_drawn)   # one was given back
    assert not any(b[2] for b in st[-1].blocks)


def test_every_listed_offset_is_a_free_block_of_the_step():
    st = mimalloc_steps(random_trace(150, seed=9))
    if not st.internals:
        pytest.skip(f"mimalloc internals not readable here: {st.why}")
    for s in st:
        by_off = {b[0]: b for b in s.blocks}
        for lst in s.bins:
            kind = lst.name.rsplit(") ", 1)[1]             # "free", "local free", "thread free"
            for o in lst.offsets:
                off, size, used, own = by_off[o]
                assert not used and size == lst.size and own == kind
