"""One trace under several glibc versions: Debian's libc6 of three releases, fetched once
(``heap.glibcs``, from the package archive apt uses) and run under their own loaders."""
import pytest

from labsupport.heap import glibcs
from labsupport.heap.glibc import NO_TCACHE
from labsupport.toolchain import MissingTool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def roots():
    try:
        return {g.release: g for g in glibcs.fetch(say=lambda line: None)}
    except MissingTool as exc:
        pytest.skip(str(exc))


def test_three_releases_each_its_own_glibc(roots):
    assert roots["bookworm"].version == (2, 36) and roots["trixie"].version == (2, 41)
    assert roots["sid"].version == glibcs.NEWEST_SLOT == (2, 43)                 # pinned
    assert glibcs.fetch(say=lambda line: pytest.fail("fetched twice")) == list(glibcs.installed())


def test_the_same_trace_differs_where_glibc_changed(roots):
    old, new = glibcs.steps_under("coalesce", roots["bookworm"]), glibcs.steps_under("coalesce", roots["trixie"])
    assert old.glibc == (2, 36) and new.glibc == (2, 41)
    assert [c.offset for c in old[len(old) - 1].chunks] == [c.offset for c in new[len(new) - 1].chunks]
    # 2.41 puts a freed small chunk straight into its small bin (commit e2436d6f); 2.36 into unsorted
    off, on = glibcs.steps_under("coalesce", roots["bookworm"], NO_TCACHE), \
        glibcs.steps_under("coalesce", roots["trixie"], NO_TCACHE)
    kinds = lambda s: {str(b.type) for st in s for b in st.bins if b.offsets}
    assert "unsorted" in kinds(off) and "smallbin" in kinds(on)
    if roots["sid"].version == (2, 43):
        s = glibcs.steps_under("coalesce", roots["sid"])
        last = s[len(s) - 1]
        struct = [c for c in last.chunks if c.state == "tcache_struct"]
        assert struct and struct[0].offset > 0 and struct[0].size == 768      # made by the first free
        assert not any(str(b.type) == "fastbin" for st in s for b in st.bins if b.offsets)


def test_side_by_side_widget(roots):
    from labsupport.widgets.sidebyside import compare_glibcs
    view = compare_glibcs("coalesce")
    assert [p.title for p in view.panels][:2] == ["glibc 2.36 (bookworm)", "glibc 2.41 (trixie)"]
    view.show(5)


def test_lesson_01_exercise_3b_measured_under_each_version(roots, capsys):
    """The exercise's truth, as each version's rules predict it (the lesson's prose): 2.36 keeps
    the merged chunk in the unsorted bin, 2.41 in its small bin, 2.43 keeps all nine in the tcache."""
    from labsupport.lessons import heap_managers as hm
    places = hm.real_glibc_places()
    assert not hm.check_glibc_versions(places)                        # the oracle was called: refused as a peek
    assert "the check's own replay" in capsys.readouterr().out
    assert places["2.36"] == {"x8": ("a8", "unsorted"), "x9": ("a9", "unsorted")}
    assert places["2.41"] == {"x8": ("a8", "smallbin"), "x9": ("a9", "unsorted")}
    if roots["sid"].version == (2, 43):
        assert places["2.43"] == {"x8": ("a2", "tcache"), "x9": ("a1", "tcache")}
    glibcs.untrusted_calls()
    assert hm.check_glibc_versions(places)
    glibcs.steps_under(hm.VERSIONS_TRACE, roots["bookworm"])          # a read outside the view and the check
    assert not hm.check_glibc_versions(places)
    assert "read from the replays themselves" in capsys.readouterr().out
    assert hm.check_glibc_versions(places)                            # the note is cleared once refused


def test_lesson_01_checks_measure_with_glibcs_defaults(monkeypatch, capsys):
    """A GLIBC_TUNABLES the notebook set (the lesson teaches it) does not reach the checks' own
    replays (review2-00-01 defect 2): exercise 3's reference still passes, and is left set."""
    from labsupport.lessons import heap_managers as hm
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")
    assert hm.check_bins({"x": ("c", "tcache"), "y": ("b", "unsorted"), "z": ("d", "unsorted"), "w": ("new", "top")})
    import os
    assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.tcache_count=0"
    monkeypatch.setattr(hm, "_footprint_verdict", lambda text: "ok")
    assert not hm.check_footprint_trace("alloc a 1000\nfree a\n")
    assert "_footprint_verdict was replaced" in capsys.readouterr().out
    assert hm._footprint_verdict.__module__ == hm.__name__           # put back


def test_the_newest_slot_is_pinned_to_one_glibc(tmp_path, monkeypatch):
    """Lesson 01 compares the three panels' text and asks exercise 3b per version, so the "sid" slot
    is pinned (NEWEST_SLOT, 2.43) and must not follow Debian to 2.44: it takes the first suite that
    still ships 2.43 (unstable moves first; experimental had 2.44-3 while unstable and testing had
    2.43-7), and says so when none is left, instead of a panel of another version."""
    import subprocess
    assert glibcs.NEWEST_SLOT == (2, 43)
    offered = {"sid": "2.44-1", "forky": "2.43-7"}

    def fake_apt(work, *args):
        if args[0] == "download":
            suite = args[1].split("/")[1]
            (work / f"libc6_{offered[suite]}_amd64.deb").write_text("")
        return subprocess.CompletedProcess(args, 0, "", "")
    monkeypatch.setattr(glibcs, "_apt", fake_apt)
    (tmp_path / "w").mkdir()
    suite, debs = glibcs._download_libc6(tmp_path / "w", "sid")
    assert suite == "forky" and debs[0].name.startswith("libc6_2.43")
    offered["forky"] = "2.44-2"
    with pytest.raises(MissingTool, match=r"pinned to glibc 2\.43.*sid has glibc 2\.44; forky has glibc 2\.44"):
        glibcs._download_libc6(tmp_path / "w", "sid")
    offered["sid"] = "2.42-1"                              # older is not the pin either
    with pytest.raises(MissingTool, match="sid has glibc 2.42"):
        glibcs._download_libc6(tmp_path / "w", "sid")
    offered["bookworm"] = "2.36-9+deb12u14"                # the other slots take their own suite
    assert glibcs._download_libc6(tmp_path / "w", "bookworm")[0] == "bookworm"
    assert glibcs._is_pinned("2.43-7\n") and not glibcs._is_pinned("2.44-3")


def test_exercise_3b_is_graded_against_the_record_where_the_versions_cannot_run(tmp_path, monkeypatch, capsys):
    """No Debian archive in apt's sources (Ubuntu), offline, or the pinned 2.43 gone: the right
    answer still passes, graded against what the versions did when recorded, and the check says
    so; a wrong one gets the version's rules (review4-00-01 defect 3)."""
    from labsupport.lessons import heap_managers as hm
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))

    def no_debian():
        raise MissingTool("apt on this machine names no Debian mirror")
    monkeypatch.setattr(glibcs, "debian_mirror", no_debian)
    assert glibcs.installed() == []
    right = {v: dict(p) for v, p in hm.VERSIONS_RECORDED.items()}
    assert hm.check_glibc_versions(right)
    out = capsys.readouterr().out
    assert "glibc 2.36, 2.41, 2.43 cannot run on this machine: apt on this machine names no Debian mirror" in out
    assert "libc6 2.36-9+deb12u14, 2.41-12+deb13u5, 2.43-7" in out and "✔" in out
    wrong = {**right, "2.43": {"x8": ("a8", "tcache"), "x9": ("a9", "tcache")}}
    assert not hm.check_glibc_versions(wrong)
    out = capsys.readouterr().out
    assert "✘" in out and "holds 16 chunks" in out and "a2" not in out.split("hint:")[1]


def test_the_probe_against_debians_newest_glibc():
    """Debian experimental's libc6 (2.44-3 in December 2026), fetched like the three slots and run
    under its own loader: a glibc the probe knows (up to 2.44) gives steps that parse, with 2.43's
    layout (no fastbins, a 768-byte tcache chunk made by the first free, 16 chunks a list); a newer
    one (experimental moves on) is refused by name, never drawn wrong."""
    from labsupport.heap.glibc import tcache_fill_count
    from labsupport.heap.traces import random_trace
    try:
        (g,) = glibcs.fetch(("experimental",), say=lambda line: None)
    except (MissingTool, RuntimeError) as exc:
        pytest.skip(f"Debian experimental's libc6 cannot be fetched here: {exc}")
    if g.version > (2, 44):
        with pytest.raises(RuntimeError, match=f"glibc {g.version[0]}.{g.version[1]} is not supported"):
            glibcs.steps_under("coalesce", g)
        return
    assert g.version >= (2, 43)
    s = glibcs.steps_under("coalesce", g)
    assert s.glibc == g.version
    fill = tcache_fill_count(g.version)
    for trace in ("coalesce", random_trace(400, seed=3, sizes=(16, 1500))):
        s = glibcs.steps_under(trace, g)
        for i in range(1, len(s)):
            st = s[i]
            assert st.chunks[0].offset == 0 and st.chunks[-1].state == "top"
            for a, b in zip(st.chunks, st.chunks[1:]):          # chunks tile the heap up to top
                assert a.offset + a.size == b.offset
            assert all(c.size == 768 for c in st.chunks if c.state == "tcache_struct")
            assert not any(str(b.type) == "fastbin" for b in st.bins)
            assert all(len(b) <= fill for b in st.bins if str(b.type) == "tcache")
