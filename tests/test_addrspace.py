"""labsupport.addrspace: /proc/PID/maps and smaps parsed into regions, the picture, the widget."""
import os
import subprocess
import sys

import pytest

import labsupport as lab
from labsupport import addrspace as asp

# /proc/PID/maps of a small C program after dlopen("libz.so.1") and mmap of a file
# (Debian 12, x86_64; recorded once, so these tests do not depend on the machine)
MAPS = """\
55781ee1b000-55781ee1c000 r--p 00000000 fe:00 2147087                    /tmp/lc
55781ee1c000-55781ee1d000 r-xp 00001000 fe:00 2147087                    /tmp/lc
55781ee1d000-55781ee1e000 r--p 00002000 fe:00 2147087                    /tmp/lc
55781ee1e000-55781ee1f000 r--p 00002000 fe:00 2147087                    /tmp/lc
55781ee1f000-55781ee20000 rw-p 00003000 fe:00 2147087                    /tmp/lc
557825302000-557825323000 rw-p 00000000 00:00 0                          [heap]
7f2518800000-7f2518c00000 r--p 00000000 fe:00 2146459                    /tmp/lcdata
7f2518c13000-7f2518c16000 r--p 00000000 fe:00 340072                     /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f2518c16000-7f2518c29000 r-xp 00003000 fe:00 340072                     /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f2518c29000-7f2518c30000 r--p 00016000 fe:00 340072                     /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f2518c30000-7f2518c31000 r--p 0001c000 fe:00 340072                     /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f2518c31000-7f2518c32000 rw-p 0001d000 fe:00 340072                     /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f2518c32000-7f251cc36000 rw-p 00000000 00:00 0 
7f251cc36000-7f251cc5c000 r--p 00000000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f251cc5c000-7f251cdb2000 r-xp 00026000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f251cdb2000-7f251ce05000 r--p 0017c000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f251ce05000-7f251ce09000 r--p 001cf000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f251ce09000-7f251ce0b000 rw-p 001d3000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f251ce0b000-7f251ce18000 rw-p 00000000 00:00 0 
7f251ce20000-7f251ce21000 ---p 00000000 00:00 0 
7f251ce22000-7f251ce24000 rw-p 00000000 00:00 0 
7f251ce24000-7f251ce28000 r--p 00000000 00:00 0                          [vvar]
7f251ce28000-7f251ce2a000 r--p 00000000 00:00 0                          [vvar_vclock]
7f251ce2a000-7f251ce2c000 r-xp 00000000 00:00 0                          [vdso]
7f251ce2c000-7f251ce2d000 r--p 00000000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f251ce2d000-7f251ce53000 r-xp 00001000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f251ce53000-7f251ce5d000 r--p 00027000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f251ce5d000-7f251ce5f000 r--p 00031000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f251ce5f000-7f251ce61000 rw-p 00033000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffcf56aa000-7ffcf56cb000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""

SMAPS = """\
55781ee1f000-55781ee20000 rw-p 00003000 fe:00 2147087                    /tmp/lc
Size:                  4 kB
Rss:                   4 kB
Pss:                   4 kB
Private_Dirty:         4 kB
Private_Clean:         0 kB
VmFlags: rd wr mr mw me ac sd
557825302000-557825323000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
KernelPageSize:        4 kB
Rss:                  12 kB
Pss:                  12 kB
Private_Clean:         0 kB
Private_Dirty:        12 kB
Swap:                  0 kB
7f251cc5c000-7f251cdb2000 r-xp 00026000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1368 kB
Rss:                 912 kB
Pss:                  25 kB
Shared_Clean:        912 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
THPeligible:    0
"""


@pytest.fixture(scope="module")
def space():
    return lab.parse_maps(MAPS)


def test_model_imports_no_drawing():
    code = ("import sys, labsupport.addrspace as a; a.parse_maps(open('/proc/self/maps').read()); "
            "print('ipywidgets' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_regions_in_order_with_kinds(space):
    assert len(space) == 31
    starts = [r.start for r in space]
    assert starts == sorted(starts)
    kinds = [r.kind for r in space]
    assert kinds[:5] == ["program"] * 5          # the lowest mapped non-library file
    assert space.program == "/tmp/lc"
    assert kinds.count("library") == 15 and kinds.count("kernel") == 4
    assert space.find(label="[heap]")[0].kind == "heap"
    assert space.find(label="[stack]")[0].kind == "stack"
    assert [r.label for r in space.find(kind="file")] == ["lcdata"]
    assert space.find(kind="reserved")[0].perms == "---p"
    assert {r.label for r in space.find(kind="library")} == {"libz.so.1.2.13", "libc.so.6",
                                                           "ld-linux-x86-64.so.2"}
    assert space.labels()[:3] == ["lc", "[heap]", "lcdata"]


def test_sizes_gaps_and_lookup(space):
    libc_code = space.find(label="libc.so.6", perms="r-xp")[0]
    assert libc_code.size == 0x7f251cdb2000 - 0x7f251cc5c000 and libc_code.offset == 0x26000
    assert not libc_code.shared
    gaps = space.gaps()
    assert len(gaps) == len(space) - 1 and all(g >= 0 for g in gaps)
    assert gaps[4] == 0x557825302000 - 0x55781ee20000            # program -> heap
    assert space.containing(0x7f251cc5c000 + 100) is libc_code
    assert space.containing(0x1000) is None
    assert space.mapped() == sum(r.size for r in space) - 4096   # without [vsyscall]
    assert space.by_kind()["file"] == 4 << 20


def test_explicit_program_name():
    s = lab.parse_maps(MAPS, program="libz.so.1.2.13")
    assert s.find(label="libz.so.1.2.13")[0].kind == "program"
    assert s.find(label="lc")[0].kind == "file"


def test_text_views_have_no_raw_addresses(space):
    text = space.table()
    assert "7f25" not in text and "5578" not in text
    assert "libc.so.6" in text and "r-xp" in text and "1.3 MiB" in text
    assert "+0x0" in space.table(offsets=True)
    assert space.summary(sizes=False).splitlines()[0] == "program     5 regions"
    assert "AddressSpace(31 regions" in repr(space)


def test_human():
    assert [asp.human(n) for n in (0, 4096, 1536 * 1024, 64 << 20, 1 << 47)] == [
        "0 B", "4 KiB", "1.5 MiB", "64 MiB", "128 TiB"]


def test_smaps_fields():
    s = lab.parse_smaps(SMAPS)
    assert len(s) == 3
    heap = s.find(kind="heap")[0]
    assert heap.kb("Rss") == 12 and heap.kb("Size") == 132 and heap.uss_kb == 12
    libc = s.find(label="libc.so.6")[0]
    assert libc.kb("Pss") == 25 and libc.kb("Shared_Clean") == 912 and libc.uss_kb == 0
    assert s.totals()["Rss"] == 4 + 12 + 912
    assert s.by_kind("Rss") == {"program": 4, "library": 912, "heap": 12}
    assert "Rss kB" in s.table()


def test_diff():
    before = lab.parse_maps(MAPS)
    lines = [l for l in MAPS.splitlines() if "libz" not in l and "lcdata" not in l]
    grown = [l.replace("7f2518c32000-7f251cc36000", "7f251cc20000-7f251cc36000") for l in lines]
    earlier = lab.parse_maps("\n".join(grown))
    d = earlier.diff(before)
    assert sorted({r.label for r in d["added"]}) == ["lcdata", "libz.so.1.2.13"]
    assert len(d["added"]) == 6 and d["removed"] == []
    (old, new), = d["grown"]
    assert new.size - old.size == 0x7f251cc20000 - 0x7f2518c32000


def test_live_process_self():
    marker = bytearray(1 << 16)          # exists before the map is read (a later object may not be in it)
    s = lab.read_address_space()
    assert s.has_sizes and s.totals()["Rss"] > 0
    assert s.find(kind="program") and s.find(kind="stack")
    assert any(r.label.startswith("libc.so") for r in s.find(kind="library"))
    # a Python object lives in writable memory of this process
    import ctypes
    r = s.containing(ctypes.addressof((ctypes.c_char * 1).from_buffer(marker)))
    assert r is not None and r.perms.startswith("rw")


def test_live_child_by_pid():
    import time
    proc = subprocess.Popen(["sleep", "10"])
    try:
        # right after fork, and for a moment inside exec, the child's map is not sleep's yet
        for _ in range(200):
            s = lab.read_address_space(proc.pid, sizes=False)
            if s.find(label="sleep") and s.find(kind="library"):
                break
            time.sleep(0.01)
        assert s.find(kind="program")[0].label == "sleep"
        assert s.program == os.readlink(f"/proc/{proc.pid}/exe")
        assert not s.has_sizes
    finally:
        proc.kill()
        proc.wait()


def test_exited_process_says_so():
    proc = subprocess.Popen(["true"])
    for _ in range(500):                  # a zombie: exited, not yet collected by its parent
        if open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            break
        import time
        time.sleep(0.01)
    with pytest.raises(ProcessLookupError, match="has exited.*zombie"):
        lab.read_address_space(proc.pid)
    with pytest.raises(ProcessLookupError, match="has exited"):
        lab.read_address_space(proc.pid, sizes=False)
    proc.wait()                           # collected: /proc/PID is gone
    with pytest.raises(ProcessLookupError, match="has exited"):
        lab.read_address_space(proc.pid)


def test_picture(space):
    fig = lab.draw_address_space(space, highlight=3, title="t")
    ax = fig.axes[0]
    assert len(ax.patches) == len(space) + sum(1 for g in space.gaps() if g > 0)
    assert any(p.get_edgecolor()[:3] == (1.0, 0.0, 0.0) for p in ax.patches)     # the highlight
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "libc.so.6" in texts and "gap" in texts and "0x" not in texts
    # the figure size depends only on the number of regions (nbval compares its text)
    other = lab.parse_maps(MAPS.replace("7ffcf56aa000-7ffcf56cb000", "7ffc00000000-7ffc00021000"))
    assert lab.draw_address_space(other).get_size_inches().tolist() == fig.get_size_inches().tolist()


def test_widget_steps_and_regions(space):
    pytest.importorskip("ipywidgets")
    live = lab.read_address_space()
    w = lab.AddressSpaceView({"stored": space, "live": live}, title="test")
    assert repr(w) == f"AddressSpaceView(2 snapshot(s): stored 31 regions, live {len(live)} regions)"
    assert w.image.value[:4] == b"\x89PNG"
    i = w.select(label="libc.so.6")
    assert space.regions[i].label == "libc.so.6" and "libc.so.6" in w.details.value
    w.region.value = space.regions.index(space.find(kind="reserved")[0])
    assert "guard page" in w.details.value and "---p" in w.details.value
    w.step.value = "live"
    assert w.space is live and len(w.region.options) == len(live)
    w.select(kind="stack")
    assert "Rss" in w.details.value and "[stack]" in w.details.value
    single = lab.AddressSpaceView(space)
    assert single.step.layout.display == "none"


def test_the_picture_and_the_widget_live_in_widgets_and_the_data_draws_nothing():
    from labsupport import addrspace
    from labsupport.widgets import addrspace as view
    assert lab.draw_address_space is view.draw_address_space and lab.AddressSpaceView is view.AddressSpaceView
    assert lab.read_address_space is addrspace.read_address_space
    assert not hasattr(addrspace, "draw_address_space") and not hasattr(addrspace, "KIND_COLORS")
    assert set(view.KIND_COLORS) == set(addrspace.KINDS) == set(addrspace.KIND_HELP)
