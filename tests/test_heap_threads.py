"""heap.threads: a second thread's arena in glibc, and a cross-thread free in mimalloc."""
import platform

import pytest

from labsupport.heap.glibc import glibc_version, tcache_fill_count
from labsupport.heap.threads import NO_TCACHE, arena_demo, mimalloc_cross_thread_free

glibc_only = pytest.mark.skipif(not platform.libc_ver()[0] == "glibc", reason="glibc malloc only")


@glibc_only
def test_second_thread_gets_a_non_main_arena():
    d = arena_demo(24)
    assert not d.main.a_bit and d.t2.a_bit                  # NON_MAIN_ARENA only on thread 2's chunk
    assert not d.main.m_bit and not d.t2.m_bit
    assert d.main.mapping == "[heap]" and d.t2.mapping == "anon"
    # thread 2's heap: an mmapped reservation, aligned to its own (power of two) size,
    # found from any of its pointers by masking (arena.c heap_for_ptr); the arena's
    # malloc_state sits inside it, right after heap_info
    assert d.t2.reserved_bytes > d.t2.rw_bytes
    assert d.t2.reserved_bytes & (d.t2.reserved_bytes - 1) == 0
    assert d.t2.aligned and d.t2.heap_for_ptr
    assert d.t2.arena_offset is not None and 0 < d.t2.arena_offset < 256
    assert [a.nr for a in d.arenas] == [0, 1]


@glibc_only
def test_cross_thread_free_goes_to_the_freeing_threads_tcache():
    d = arena_demo(24)
    assert d.main_got_it and not d.t2_got_it
    assert all(a.fast_chunks == 0 and not a.sizes for a in d.arenas)   # in no arena's bins
    assert d.went_to == "the main thread's tcache"


@glibc_only
def test_without_tcache_it_goes_to_its_own_arena():
    """Without the tcache, free hands thread 2's chunk to thread 2's arena: to a fastbin up to
    glibc 2.42; glibc 2.43 has no fastbins (commit bb5a4f5295), so it merges with its neighbour,
    that arena's top chunk, and no bin holds it."""
    d = arena_demo(24, tunables=NO_TCACHE)
    assert not d.main_got_it and d.t2_got_it
    main, t2 = d.arenas
    assert main.fast_chunks == 0 and not main.sizes
    if glibc_version() < (2, 43):
        assert t2.fast_chunks == 1
        assert any(lo <= d.t2.chunk_size <= hi and c == 1 for lo, hi, c in t2.sizes)
        assert d.went_to == "a fastbin of thread 2's arena"
    else:
        assert t2.fast_chunks == 0 and not t2.sizes and not t2.unsorted
        assert d.went_to == "the top chunk of thread 2's arena (merged)"


@glibc_only
def test_arena_tables_are_deterministic():
    for tun in (None, NO_TCACHE):
        one, two = arena_demo(tunables=tun).table(), arena_demo(tunables=tun).table()
        assert one == two
        assert "0x" not in one and "7f" not in one


def test_mimalloc_cross_thread_free_lands_on_thread_free():
    r = mimalloc_cross_thread_free(48)
    assert r.version >= 30000 and r.main_has_own_page
    used = [s.used for s in r.states]
    # b freed by its owner: used drops at once; a freed by the main thread: used does not
    # drop until thread 2 collects; c is allocated in between
    assert used == [2, 1, 1, 2, 1]
    if not r.internals:
        pytest.skip(f"mimalloc internals not readable here: {r.why}")
    ab, free_b, free_a, alloc_c, collect = r.states
    assert (ab.a, ab.b) == ("used", "used")
    assert (free_b.b, free_b.local_free, free_b.thread_free) == ("local", 1, 0)
    assert (free_a.a, free_a.thread_free) == ("thread", 1)
    assert alloc_c.a == "thread" and r.c_is == "other"        # the fast path does not collect
    assert (collect.a, collect.thread_free, collect.local_free) == ("local", 0, 2)
    # a comes back only once `free` is used up: after the blocks on it, plus one
    assert r.again == alloc_c.free + 1
    assert r.table() == mimalloc_cross_thread_free(48).table()


@glibc_only
def test_a_full_tcache_bin_sends_it_to_its_own_arena():
    """The main thread's tcache bin takes thread 2's chunk while it has room: 7 chunks a bin up to
    glibc 2.42, 16 from 2.43 (commit 0b9210bd76); once full, free goes to thread 2's arena."""
    from labsupport.heap.threads import arena_outcome
    fill = tcache_fill_count()
    assert arena_outcome(True, 0) == "main thread"
    assert arena_outcome(True, fill - 1) == "main thread"    # the last free entry of main's tcache bin
    assert arena_outcome(True, fill) == "thread 2"           # the bin is full: _int_free on its arena
    assert arena_outcome(False, 0) == "thread 2"
    d = arena_demo(24, fill=fill)
    assert f"{fill} chunk(s) of its own" in d.table()
    assert d.went_to == ("a fastbin of thread 2's arena" if glibc_version() < (2, 43)
                         else "the top chunk of thread 2's arena (merged)")
    with pytest.raises(ValueError):
        arena_demo(24, fill=65)
