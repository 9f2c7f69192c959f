"""The foundation's speed, measured side by side in one run (never asserted in tests).

- cache-hit re-run of an unchanged %%cffi cell (target <= 20 ms)
- cold build of a cell, as a ratio to bare `gcc -shared` on the same generated C (target <= 1.15x),
  once cffi's prologue is precompiled (its one-time cost printed beside it)
- isolation overhead per call: run_c on a trivial function (target <= 5 ms quiet), next to the
  alternative it was chosen over (a fresh interpreter per call) and to the fork server before
  issue 30's speed work (isolate.py at BASELINE), interleaved, wall and CPU (parent, server,
  child); ``python benchmarks/bench_core.py isolation`` prints these rows alone
- what a learner's direct call pays for the last-word note (target <= 10 us), and the cost
  of a call on an isolated module (``%%cffi --isolate``)
- heap map of 10,000 blocks: draw + render to PNG, what the widget does (target <= 150 ms)
"""
from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CELL = r"""
#include <stdlib.h>
#include <string.h>
typedef struct block { size_t size; int used; } block_t;
int add(int a, int b) { return a + b; }
size_t sum(const block_t *b, int n) { size_t s = 0; for (int i = 0; i < n; i++) s += b[i].size; return s; }
char *copy(const char *s) { return strdup(s); }
"""


def _median(f, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


BASELINE = "27dc245817d9098428ad75a0afe0017979b22e7b"   # isolate.py before issue 30's speed work
_BOOT = ("import sys, importlib.util, labsupport; s = importlib.util.spec_from_file_location("
         "'labsupport._isolate_before', sys.argv[1]); m = importlib.util.module_from_spec(s); "
         "sys.modules[s.name] = m; s.loader.exec_module(m); m._server_main(int(sys.argv[2]))")


def _isolate_before():
    """labsupport/isolate.py as it was at BASELINE, loaded beside the current one (its fork
    server started from that same file), or None outside a git checkout."""
    import importlib.util
    root = Path(__file__).resolve().parent.parent
    try:
        src = subprocess.run(["git", "-C", str(root), "show", f"{BASELINE}:labsupport/isolate.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="labsupport-bench-")) / "isolate_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("labsupport._isolate_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)

    class Server(mod._Server):
        def __init__(self):
            import socket
            self.sock, theirs = socket.socketpair()
            env = mod._with_labsupport_importable(dict(os.environ))
            self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(path), str(theirs.fileno())],
                                         pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, start_new_session=True)
            theirs.close()
    mod._Server = Server
    return mod


def _server_cpu(pid: int) -> tuple[float, float]:
    """(the fork server's own CPU seconds, its reaped children's), from /proc."""
    with open(f"/proc/{pid}/schedstat") as f:
        own = int(f.read().split()[0]) / 1e9                       # nanoseconds, exact
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return own, (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")   # cutime + cstime


def _cpu_text(fig: dict) -> str:
    return (f"{fig['cpu']*1000:.2f} ms (parent {fig['parent']*1000:.2f}, server {fig['server']*1000:.2f}, "
            f"child {fig['child']*1000:.2f})")


def isolation_side_by_side(m, rounds: int = 8, batch: int = 25) -> dict:
    """run_c(m, "add", 1, 2): wall median and CPU per call, this isolate.py and (when git has it)
    BASELINE's, in alternating batches."""
    from labsupport import isolate
    variants = {"new": isolate}
    before = _isolate_before()
    if before is not None:
        variants["old"] = before
    acc = {}
    for name, mod in variants.items():
        mod.run_c(m, "add", 1, 2)                              # start its fork server
        acc[name] = dict(walls=[], parent=0.0, server=0.0, child=0.0)
    for _ in range(rounds):
        for name, mod in variants.items():
            a = acc[name]
            pid = mod._server.proc.pid
            s0, p0 = _server_cpu(pid), time.process_time()
            for _ in range(batch):
                t = time.perf_counter()
                r = mod.run_c(m, "add", 1, 2)
                a["walls"].append(time.perf_counter() - t)
                assert r.value == 3, r
            p1, s1 = time.process_time(), _server_cpu(pid)
            a["parent"] += p1 - p0
            a["server"] += s1[0] - s0[0]
            a["child"] += s1[1] - s0[1]
    figures = {}
    for name, a in acc.items():
        n = len(a["walls"])
        fig = dict(wall=statistics.median(a["walls"]), calls=n,
                   parent=a["parent"] / n, server=a["server"] / n, child=a["child"] / n)
        fig["cpu"] = fig["parent"] + fig["server"] + fig["child"]
        figures[name] = fig
    return figures


def last_word_row(m) -> dict:
    """What a learner's direct call pays for the last-word note, and a call on an isolated module."""
    import labsupport as lab
    from labsupport import lastword
    lastword.install()
    guarded = _median(lambda: m.add(1, 2), 2000)          # m.add is now the noted wrapper
    plain = _median(lambda: m.lib.add(1, 2), 2000)
    isolated = lab.build_c(CELL, isolate=True)
    isolated.add(1, 2)
    iso_call = _median(lambda: isolated.add(1, 2), 50)
    return dict(name="direct call with the last-word note", value=round((guarded - plain) * 1e6, 2),
                unit="us", target="<= 10 us", note=f"c.f() vs c.lib.f(), median of 2000; an "
                f"isolated module's call (%%cffi --isolate): {iso_call*1000:.1f} ms")


def run() -> list[dict]:
    os.environ["LABSUPPORT_CACHE"] = tempfile.mkdtemp(prefix="labsupport-bench-")
    import labsupport as lab
    from IPython.testing.globalipapp import get_ipython
    from labsupport import cbuild
    from labsupport.widgets.heapdraw import figure_png

    out = []
    # --- cffi's prologue, precompiled once (what the first cell starts in the background)
    py_inc = sysconfig.get_paths()["include"]
    t = time.perf_counter()
    first = lab.build_c(CELL + "int first(void) { return 0; }\n")
    built = time.perf_counter() - t
    prologue = (Path(first.path).parent / f"{first.modname}.c").read_text().partition('#line 1 "cell.c"\n')[0]
    cbuild.precompiled_prologue(cbuild._gcc(), prologue, py_inc, wait=True)
    out.append(dict(name="first cell, then cffi's prologue precompiled (once per machine)", unit="s",
                    target="", value=round(time.perf_counter() - t, 2),
                    note=f"the cell itself {built:.2f} s; the header is built in the background"))
    # --- cold builds vs bare gcc -shared on the generated C (9 distinct cells)
    cold, bare = [], []
    for i in range(9):                          # interleaved, so load changes hit both
        src = CELL + f"int variant_{i}(void) {{ return {i}; }}\n"
        t = time.perf_counter()
        m = lab.build_c(src)
        cold.append(time.perf_counter() - t)
        gen = Path(m.path).parent / f"{m.modname}.c"
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            subprocess.run(["gcc", "-shared", "-fPIC", *cbuild.DEFAULT_CFLAGS, "-w", f"-I{py_inc}",
                            str(gen), "-o", f"{d}/x.so"], check=True)
            bare.append(time.perf_counter() - t)
    ratio = statistics.median(cold) / statistics.median(bare)
    out.append(dict(name="cold %%cffi build / bare gcc -shared", value=round(ratio, 2), unit="x",
                    target="<= 1.15x",
                    note=f"median cold {statistics.median(cold)*1000:.0f} ms "
                         f"vs gcc {statistics.median(bare)*1000:.0f} ms"))
    # --- a real library's API through the header option (Debian's libcjson-dev)
    if Path("/usr/include/cjson/cJSON.h").exists():
        cold, bare = [], []
        for i in range(5):
            t = time.perf_counter()
            m = lab.build_c(f"int variant_{i}(void) {{ return {i}; }}\n", headers=["cjson/cJSON.h"],
                            libraries=["cjson"])
            cold.append(time.perf_counter() - t)
            gen = Path(m.path).parent / f"{m.modname}.c"
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                subprocess.run(["gcc", "-shared", "-fPIC", *cbuild.DEFAULT_CFLAGS, "-w", f"-I{py_inc}",
                                str(gen), "-o", f"{d}/x.so", "-lcjson"], check=True)
                bare.append(time.perf_counter() - t)
        out.append(dict(name="cold build, cJSON's API via --header / bare gcc", unit="x", target="<= 1.15x",
                        value=round(statistics.median(cold) / statistics.median(bare), 2),
                        note=f"{len(m.functions)} functions callable; median cold "
                             f"{statistics.median(cold)*1000:.0f} ms vs gcc {statistics.median(bare)*1000:.0f} ms"))
    # --- cache hit, through the real magic in an IPython shell
    ip = get_ipython()
    ip.run_line_magic("load_ext", "labsupport")
    ip.run_cell_magic("cffi", "", CELL)
    hit = _median(lambda: ip.run_cell_magic("cffi", "", CELL), 50)
    out.append(dict(name="cache-hit re-run of an unchanged cell", value=round(hit * 1000, 2), unit="ms",
                    target="<= 20 ms", note="%%cffi magic, 50 runs, median"))
    # --- isolation: this code's fork server against the one before issue 30's speed work,
    # interleaved in batches so the machine's load hits both; CPU of parent, server and child
    m = lab.build_c(CELL)
    direct = _median(lambda: m.add(1, 2), 50)
    fresh = _median(lambda: lab.run_c(m, "add", 1, 2, env={"LAB_BENCH": "1"}), 10)
    figures = isolation_side_by_side(m)
    new, old = figures["new"], figures.get("old")
    load = os.getloadavg()[0]
    out.append(dict(name="isolation overhead per call (fork server)",
                    value=round((new["wall"] - direct) * 1000, 2), unit="ms", target="<= 5 ms (quiet machine)",
                    note=f"run_c median of {new['calls']}, load {load:.1f} on {os.cpu_count()} CPUs; "
                         f"CPU per call {_cpu_text(new)}; a fresh interpreter per call: {fresh*1000:.0f} ms"))
    if old:
        out.append(dict(name="isolation, before (fork server at " + BASELINE[:7] + ")",
                        value=round((old["wall"] - direct) * 1000, 2), unit="ms", target="",
                        note=f"same run, interleaved: CPU per call {_cpu_text(old)}"))
    # --- a learner's direct call: plain, with the last-word note, and on an isolated module
    out.append(last_word_row(m))
    # --- heap map
    rng, blocks, off = random.Random(0), [], 0
    while len(blocks) < 10_000:
        size = rng.choice([16, 32, 48, 64, 96, 128, 256])
        blocks.append(lab.Block(off, size, rng.choice(["used", "used", "free", "meta"])))
        off += size

    def draw():
        figure_png(lab.draw_heap(blocks))
    draw()
    hm = _median(draw, 7)
    out.append(dict(name="heap map, 10,000 blocks (draw + PNG)", value=round(hm * 1000, 1), unit="ms",
                    target="<= 150 ms", note="median of 7"))
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["isolation"]:             # the isolation rows alone, old and new
        import labsupport as lab
        os.environ["LABSUPPORT_CACHE"] = tempfile.mkdtemp(prefix="labsupport-bench-")
        m = lab.build_c(CELL)
        figs = isolation_side_by_side(m)
        print(f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for name, fig in figs.items():
            print(f"{name}: run_c median {fig['wall']*1000:.2f} ms of {fig['calls']}; CPU per call {_cpu_text(fig)}")
        print(last_word_row(m))
    else:
        for row in run():
            print(row)
