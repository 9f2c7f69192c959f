"""glibc's bins read from main_arena at every step (heap.glibc.glibc_steps), checked against
glibc's own malloc_info() on known traces, and the glibc stepper (widgets.glibcstep)."""
from __future__ import annotations

import random

import pytest

from labsupport.heap.glibc import (NO_TCACHE, GlibcStep, bin_name, bin_type, freed_small_chunk_bin,
                                   glibc_steps, glibc_version, largebin_index, parse_malloc_info, replay_glibc,
                                   tcache_fill_count, tcache_struct_size)
from labsupport.heap.model import BinType
from labsupport.heap.traces import random_trace

SEVEN = "".join(f"alloc a{i} 40\nalloc g{i} 16\n" for i in range(9)) + "".join(f"free a{i}\n" for i in range(7))
# What the running glibc does (the expectation follows its version; the same tests run on 2.36,
# 2.41 and 2.43): a tcache list holds 7 chunks up to 2.42 and 16 from 2.43 (commit 0b9210bd76;
# 2.42's malloc.c still says TCACHE_FILL_COUNT 7); 2.43 has no fastbins (commit bb5a4f5295).
FILL = tcache_fill_count()
HAS_FASTBINS = glibc_version() < (2, 43)
OVERFLOW = "fastbin" if HAS_FASTBINS else "smallbin"        # where a 48-byte chunk goes once the list is full
# FILL + 2 separated 48-byte chunks freed: the list fills and two more overflow
FAST = ("".join(f"alloc a{i} 40\nalloc g{i} 16\n" for i in range(FILL + 2))
        + "".join(f"free a{i}\n" for i in range(FILL + 2)))
TO_TOP = "alloc a 100\nalloc b 100\nalloc c 100\nfree a\nfree b\nfree c\n"
LARGE = "alloc a 2000\nalloc g 16\nalloc b 1100\nalloc g2 16\nfree a\nfree b\nalloc c 3000\n"


def expected_malloc_info(step: GlibcStep) -> dict:
    """What malloc_info() must say about the main heap, computed from the bins we decoded:
    fastbins (count, count * size); "rest": the top chunk plus every chunk of the unsorted,
    small and large bins, summed as glibc does: chunksize(top), and the binned chunks' size
    fields with their flag bits (chunksize_nomask)."""
    chunk = {c.offset: c for c in step.chunks}
    fast = [chunk[o] for b in step.bins if b.type == BinType.FASTBIN for o in b.offsets]
    rest = [chunk[o] for b in step.bins if b.type in (BinType.UNSORTED, BinType.SMALLBIN, BinType.LARGEBIN)
            for o in b.offsets]
    top = chunk[step.top[0]]
    sizes = []
    for b in step.bins:
        cs = [chunk[o].size | chunk[o].flags for o in b.offsets]
        if b.type == BinType.FASTBIN:
            sizes.append((b.size - 15, b.size, len(cs) * b.size, len(cs)))
        elif b.type in (BinType.SMALLBIN, BinType.LARGEBIN):
            sizes.append((min(cs), max(cs), sum(cs), len(cs)))
    unsorted = [chunk[o].size | chunk[o].flags for o in (step.bins.get("unsorted") or ())]
    out = {"rest": (1 + len(rest), top.size + sum(c.size + c.flags for c in rest)),
           "sizes": sizes,
           "unsorted": (min(unsorted), max(unsorted), sum(unsorted), len(unsorted)) if unsorted else None}
    if HAS_FASTBINS:            # from glibc 2.43 malloc_info has no <total type="fast"> line
        out["fast"] = (len(fast), sum(c.size for c in fast))
    return out


def _final(trace, tunables=None):
    s = glibc_steps(trace, tunables, info=True)
    assert s.malloc_info is not None
    assert s.malloc_info == expected_malloc_info(s[-1]), (s.malloc_info, s[-1].bins_text())
    return s


def test_a_tcache_list_of_seven():
    s = _final(SEVEN)
    last = s[-1]
    tc = last.bins["tcache 0x30"]
    firsts = {op.id: s[i].changed for i, op in enumerate(s.trace.ops, 1) if op.kind == "alloc"}
    assert tc.offsets == tuple(firsts[f"a{i}"] for i in reversed(range(7)))    # LIFO: the last freed is the head
    assert last.tcache_counts["tcache 0x30"] == 7 and tc.size == 48 and tc.type == BinType.TCACHE
    assert all(c.state == "tcache" for c in last.chunks if c.offset in tc.offsets)
    assert s.malloc_info.get("fast", (0, 0)) == (0, 0) and s.malloc_info["rest"][0] == 1  # malloc_info has no tcache


def test_where_a_chunk_goes_after_the_tcache_is_full():
    """FILL + 2 separate 48-byte chunks freed: FILL in the tcache, the last two in a fastbin (up
    to glibc 2.42) or, with no fastbins (2.43), in the small bin of 48 bytes (2.41+: straight there)."""
    s = _final(FAST)
    last = s[-1]
    assert len(last.bins["tcache 0x30"]) == FILL and last.tcache_counts["tcache 0x30"] == FILL
    over = last.bins[f"{OVERFLOW} 0x30"]
    n = len(s) - 1
    if HAS_FASTBINS:
        assert over.offsets == (s[n].changed, s[n - 1].changed)   # the last freed first: a fastbin is LIFO too
        assert s.malloc_info["fast"] == (2, 96)
    else:
        assert sorted(over.offsets) == sorted((s[n].changed, s[n - 1].changed))
        assert not any(b.type == BinType.FASTBIN for b in last.bins)
    # the next FILL mallocs of that size come from the tcache, the one after from the overflow
    # bin, and glibc moves the rest of that bin into the tcache ("stashing")
    again = glibc_steps(FAST + "".join(f"alloc b{i} 40\n" for i in range(FILL + 1)))
    assert [again[i].served for i in range(len(again) - FILL - 1, len(again))] == \
        ["tcache 0x30"] * FILL + [f"{OVERFLOW} 0x30"]
    assert again[-1].bins.names == ["tcache 0x30"] and len(again[-1].bins["tcache 0x30"]) == 1


def test_consolidation_into_top():
    s = _final(TO_TOP, NO_TCACHE)
    # up to 2.42 the tcache's chunk comes first even with tcache_count=0; 2.43 makes none then
    first = tcache_struct_size() if glibc_version() < (2, 43) else 0
    small = freed_small_chunk_bin()          # unsorted up to glibc 2.40, the small bin from 2.41
    assert [b.type for b in s[4].bins] == [small]
    assert [(b.type, b.offsets) for b in s[5].bins] == [(small, (first,))]
    merged = next(c for c in s[5].chunks if c.offset == first)
    assert merged.size == 224                                    # a and b merged
    assert len(s[-1].bins) == 0 and s[-1].top[0] == first        # and then into top
    assert s[-1].top[1] + first == s[-1].system_mem


def test_a_large_bin_insertion():
    s = _final(LARGE)
    last = s[-1]
    large = last.bins.of_type(BinType.LARGEBIN)
    assert [b.name for b in large] == ["largebin 0x440+", "largebin 0x7c0+"]
    assert [len(b) for b in large] == [1, 1]
    assert s[-2].bins.names == ["unsorted"] and len(s[-2].bins["unsorted"]) == 2   # sorted by malloc(3000)
    assert s[-1].served == "top"
    assert len(s.malloc_info["sizes"]) == 2


def test_bin_names_follow_glibc():
    assert bin_name(0) == "tcache 0x20" and bin_name(63) == "tcache 0x410"
    assert bin_name(64) == "fastbin 0x20" and bin_name(74) == "unsorted" and bin_name(75) == "smallbin 0x20"
    assert bin_name(74 + 62) == "smallbin 0x3f0" and bin_name(74 + 63) == "largebin 0x400+"
    assert bin_type(74 + 63) == BinType.LARGEBIN and largebin_index(1024) == 64 and largebin_index(1 << 30) == 126
    assert parse_malloc_info("<heap nr=\"0\"><total type=\"fast\" count=\"1\" size=\"32\"/></heap>")["fast"] == (1, 32)


@pytest.mark.parametrize("tunables", [None, NO_TCACHE])
def test_step_invariants_on_a_random_trace(tunables):
    t = random_trace(400, seed=3, sizes=(16, 1500))
    s = glibc_steps(t, tunables, info=True)
    assert len(s) == len(t) + 1 and s[0].top is None and len(s[0].chunks) == 0
    assert s.malloc_info == expected_malloc_info(s[-1])
    for i in range(1, len(s)):
        st = s[i]
        chunks = st.chunks
        assert chunks[0].offset == 0
        struct = [c for c in chunks if c.state == "tcache_struct"]
        if glibc_version() < (2, 43):             # the heap's first chunk, made by the first malloc
            assert struct == [chunks[0]] and chunks[0].size == tcache_struct_size()
        else:                                     # made by the first free, none with tcache_count=0
            assert len(struct) <= 1 and all(c.size == tcache_struct_size() for c in struct)
            assert not struct or tunables is None
        for a, b in zip(chunks, chunks[1:]):                    # chunks tile the heap up to top
            assert a.offset + a.size == b.offset
        assert chunks[-1].state == "top" and (chunks[-1].offset, chunks[-1].size) == st.top
        state = {c.offset: str(c.state) for c in chunks}
        for b in st.bins:                                       # every binned chunk says which kind
            assert len(b) > 0 and all(state[o] == str(b.type) for o in b.offsets)
            if b.type == BinType.TCACHE:
                assert len(b) <= FILL and st.tcache_counts[b.name] == len(b)
            if b.size is not None:
                assert all(c.size == b.size for c in chunks if c.offset in b.offsets)
        if st.op.kind == "alloc" and st.served != "mmap":
            c = next(c for c in chunks if c.offset == st.changed)
            assert c.state == "used" and c.owner == st.op.id
        assert st.served is None or st.op.kind == "alloc"
    final = replay_glibc(t, tunables=tunables)                  # the one-snapshot walk agrees
    assert [(c.offset, c.size) for c in final.chunks] == [(c.offset, c.size) for c in s[-1].chunks]


def test_steps_built_in_any_order_are_the_same():
    t = random_trace(300, seed=5)
    a, b = glibc_steps(t), glibc_steps(t)
    order = list(range(len(a)))
    random.Random(1).shuffle(order)
    for i in order:
        assert b[i] == a[i] or (b[i].chunks, b[i].bins, b[i].top) == (a[i].chunks, a[i].bins, a[i].top)
    assert [x.bins for x in a[::37]] == [b[i].bins for i in range(0, len(b), 37)]


def test_glibc_stepper_shows_bins_beside_the_map():
    from labsupport.widgets.glibcstep import GlibcStepper, GlibcTextRenderer, glibc_span
    from labsupport.widgets.stepper import StepView
    g = GlibcStepper(FAST, editable=True)
    assert isinstance(g.view, StepView) and g.slider.max == len(g.steps) - 1
    g.slider.value = len(g.steps) - 1
    assert f"{OVERFLOW} 0x30" in g.bins.value and f"(count {FILL})" in g.bins.value and "<svg" in g.map.value
    assert 'stroke="#d62728"' in g.map.value                  # the chunk the step touched
    g.tunables.value = True                                   # no tcache, no fastbins: unsorted or small bins
    assert str(freed_small_chunk_bin()) in g.bins.value and "tcache" not in g.bins.value
    assert g.steps.tunables == NO_TCACHE
    g.text.value = "alloc x 24\nfree x\n"
    g._from_text()
    assert g.slider.max == 2 and g.slider.value == 0
    g.text.value = "free nothing\n"
    g._from_text()
    assert "not allocated" in g.message.value
    out = GlibcTextRenderer(glibc_span(g.steps)).render(g.steps[1], 2)
    first = 656 if glibc_version() < (2, 42) else 768 if glibc_version() < (2, 43) else 0   # after the tcache's chunk
    assert out.splitlines()[0] == f"step 1 of 2: alloc x 24 → chunk at +{first} from top"
    assert "0x" not in out.split("\n")[1]


def test_mmapped_requests_and_the_arena_found_once():
    s = glibc_steps("alloc big 300000\nalloc s 100\nfree big\nalloc huge 200000\n")
    # an mmapped chunk's size field: the whole mapping (74 pages) up to 2.42, 16 bytes less (its
    # own header) from 2.43 (commit 614cfd0f8a)
    assert s[1].served == "mmap" and s[1].changed is None
    assert s.mmapped == [("big", 303104 if glibc_version() < (2, 43) else 303104 - 16)]
    first = tcache_struct_size() if glibc_version() < (2, 43) else 0     # 2.43: no tcache chunk before a free
    assert s[2].served == "top" and s[2].changed == first
    # freeing an mmapped chunk raised the mmap threshold: 200,000 bytes now come from the heap,
    # which grows with brk (system_mem)
    assert s[4].served == "top" and s[4].system_mem > s[3].system_mem
    assert s.arena_candidates >= 1                    # the probe accepted exactly one of them


# --- other glibc versions ----------------------------------------------------------------------

def test_an_unknown_glibc_is_refused_clearly():
    """A glibc whose structures the probe has not been taught: a clear refusal, never a picture."""
    from labsupport.heap.probes import build_probe, write_trace
    from labsupport.isolate import run_program
    from labsupport.heap.traces import as_trace
    for mode in ("steps", "trace"):
        r = run_program([build_probe("glibc_probe"), mode, write_trace(as_trace("coalesce"))],
                        env={"GLIBC_PROBE_VERSION": "2.45"})
        assert r.returncode == 3 and "glibc 2.45 is not supported by this probe yet" in r.stdout
        assert "glibc 2.33 to 2.44" in r.stdout
    with pytest.raises(RuntimeError, match="not supported by this probe yet"):
        from labsupport.heap.glibc import GlibcSteps
        GlibcSteps(as_trace("coalesce"), "glibc 2.45\ns 0\nerror glibc 2.45 is not supported by this probe yet\n")


@pytest.mark.parametrize("version", [(2, 43), (2, 44)])
def test_glibc_2_43_and_2_44_steps_parse(version):
    """The probe's output under Debian's glibc 2.43-7 and 2.44-3 (experimental), each recorded with
    its own loader (ld.so --library-path): no fastbins, a tcache of 76 lists made by the first free()
    in the middle of the heap, and counts that are capacity minus free slots (16 by default). 2.44
    keeps 2.43's structures (glibc-2.44's malloc.c: struct malloc_state, tcache_perthread_struct),
    and this trace gives the same steps, byte for byte."""
    from pathlib import Path
    from labsupport.heap.glibc import GlibcSteps
    from labsupport.heap.traces import as_trace
    text = (Path(__file__).parent / "fixtures" / "glibc" / ("coalesce-%d.%d.steps" % version)).read_text()
    s = GlibcSteps(as_trace("coalesce"), text)
    assert s.glibc == version
    last = s[len(s) - 1]
    states = {c.offset: c.state for c in last.chunks}
    assert states[160] == "tcache_struct" and [c.size for c in last.chunks if c.offset == 160] == [768]
    assert all(states[o] == "tcache" for o in (0, 32, 64, 96, 128, 928))
    assert last.bins["tcache 0x20"].offsets == (128, 96, 0, 64, 32)
    assert not any(b.type == BinType.FASTBIN for b in last.bins if b.offsets)


def test_version_dependent_sizes():
    from labsupport.heap.glibc import tcache_fill_count, tcache_struct_size
    assert tcache_struct_size((2, 36)) == 656 and tcache_struct_size((2, 42)) == 768
    assert tcache_fill_count((2, 42)) == 7 and tcache_fill_count((2, 43)) == 16
    assert bin_type(200) == BinType.TCACHE and bin_name(200) == "tcache 0x410+" and bin_name(201) == "tcache 0x800+"
