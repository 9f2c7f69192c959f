"""A room of learners on one machine, measured (figures for hub/README.md's sizing table).

    .venv/bin/python benchmarks/bench_hub.py [--n 1,2,4] [--lessons 00,01] [--json out.json]

N learners at once, each a process of its own with its own home and course cache
(``LABSUPPORT_CACHE``), executing the book's lessons top to bottom in its own kernel
(nbclient, the same engine the course's notebook build uses; copies in temporary
folders). For each learner:

- peak memory of its kernel tree (the kernel, its fork server, the children ``lab.run_c``
  forks, gcc while a cell compiles), sampled from /proc every 100 ms: the sum of
  resident memory (RSS, counts pages shared between processes once per process) and of
  proportional memory (PSS: a shared page split between the processes that map it,
  the figure that adds up across learners);
- CPU seconds of everything the learner started (``wait4`` on the learner's process, a
  child subreaper, so orphans such as the fork server are counted too);
- wall time per lesson.

Then what a new learner pays once and what can be shared: the same first lesson
with an empty course cache vs a copy of a cache prepared once (hub/README.md), and
the size of that cache. ``run()`` (for benchmarks/run.py) measures N = 1, 2 and the
cache comparison on lesson 00 only, to stay within a few minutes.

Figures depend on the machine's load: on the project's machines other jobs share
the two cores, so wall times at N > 1 are upper bounds.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "notebooks"
LESSONS = {p.name[:2]: p.name for p in sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))}   # "00": "00_start_here.ipynb"
SAMPLE = 0.1


# --------------------------------------------------------------------------- one learner (subprocess)

def _learner(nb_dir: str, names: list[str]) -> None:
    """Execute the lessons in nb_dir, one kernel each, and print {name: seconds} as JSON."""
    import nbformat
    from nbclient import NotebookClient
    try:
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)      # PR_SET_CHILD_SUBREAPER: orphans are ours
    except (OSError, AttributeError):
        pass
    walls = {}
    for name in names:
        path = Path(nb_dir) / name
        nb = nbformat.read(path, as_version=4)
        t = time.perf_counter()
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": nb_dir}}).execute()
        walls[name] = time.perf_counter() - t
    # the fork servers end when their kernel's socket closes: wait for them (their CPU counts)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
    print(json.dumps(walls))


# --------------------------------------------------------------------------- sampling /proc

def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                pass
    except OSError:
        pass
    return kids


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


def _mem_kb(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in kB."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _dir_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total / (1 << 20)


# --------------------------------------------------------------------------- a room

def _room(n: int, lessons: list[str], base: Path, prepared: Path | None = None,
          shared_zig: Path | None = None) -> list[dict]:
    """n learners at once; each with an empty cache, or a copy of ``prepared``
    (and, when given, one zig cache for all: ``LABSUPPORT_ZIG_CACHE``)."""
    names = [LESSONS[k] for k in lessons]
    procs = []
    for i in range(n):
        home = base / f"n{n}-learner{i}"
        nb_dir = home / "work"
        nb_dir.mkdir(parents=True)
        for name in names:
            shutil.copy(BOOK / name, nb_dir / name)
        (home / "native_examples").symlink_to(ROOT / "native_examples")   # cells say ../native_examples
        cache = home / ".cache" / "labsupport"
        copy_s = 0.0
        if prepared is not None:
            t = time.perf_counter()
            shutil.copytree(prepared, cache, symlinks=True)
            copy_s = time.perf_counter() - t
        env = {k: v for k, v in os.environ.items()
               if k not in ("LABSUPPORT_CACHE", "LABSUPPORT_ZIG_CACHE", "JUPYTER_RUNTIME_DIR")}
        env.update(HOME=str(home), LABSUPPORT_CACHE=str(cache), PYTHONPATH=str(ROOT))
        if shared_zig is not None:
            env["LABSUPPORT_ZIG_CACHE"] = str(shared_zig)
        procs.append(dict(home=home, cache=cache, copy_s=copy_s, env=env, nb_dir=nb_dir))
    for p in procs:                                   # start them together
        p["t0"] = time.perf_counter()
        p["out"], p["err"] = p["home"] / "learner.out", p["home"] / "learner.err"
        with open(p["out"], "w") as out, open(p["err"], "w") as err:
            p["proc"] = subprocess.Popen([sys.executable, __file__, "--learner", str(p["nb_dir"]), *names],
                                         env=p["env"], cwd=p["nb_dir"], stdout=out, stderr=err)
        p["done"] = False
        p["peak_rss"] = p["peak_pss"] = 0
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for p in procs:
                if p["done"]:                  # never poll(): it would reap the child before wait4
                    continue
                rss = pss = 0
                for pid in _descendants(p["proc"].pid):       # the kernel's tree, not the driver
                    r, s = _mem_kb(pid)
                    rss += r
                    pss += s
                p["peak_rss"] = max(p["peak_rss"], rss)
                p["peak_pss"] = max(p["peak_pss"], pss)
            stop.wait(SAMPLE)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = [None] * n

    def wait(i, p):
        _, status, ru = os.wait4(p["proc"].pid, 0)
        p["wall"] = time.perf_counter() - p["t0"]
        p["cpu"] = ru.ru_utime + ru.ru_stime
        p["status"] = status
        p["done"] = True
        results[i] = p

    waiters = [threading.Thread(target=wait, args=(i, p)) for i, p in enumerate(procs)]
    for t in waiters:
        t.start()
    for t in waiters:
        t.join()
    stop.set()
    sampler.join()
    out = []
    for i, p in enumerate(results):
        stdout = p["out"].read_text()
        stderr = p["err"].read_text()
        if p["status"] != 0:
            raise RuntimeError(f"learner {i} failed (status {p['status']}):\n{stderr[-3000:]}")
        walls = json.loads(stdout.strip().splitlines()[-1])
        out.append(dict(n=n, learner=i, wall_s=round(p["wall"], 1), cpu_s=round(p["cpu"], 1),
                        peak_rss_mb=round(p["peak_rss"] / 1024), peak_pss_mb=round(p["peak_pss"] / 1024),
                        lessons={k: round(v, 1) for k, v in walls.items()},
                        cache_mb=round(_dir_mb(p["cache"]), 1), cache_copy_s=round(p["copy_s"], 2)))
    return out


def _server_rss_mb(base: Path) -> float:
    """Resident memory of an idle Jupyter server (what each learner's single-user server adds)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", "--IdentityProvider.token=bench", f"--notebook-dir={base}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(base / "rt")}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    import urllib.request
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=bench", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)
        return _mem_kb(proc.pid)[1] / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(ns=(1, 2), lessons=("00",), cache_compare=True, shared_zig: Path | None = None,
            prepared: Path | None = None, compare_lesson: str = "00") -> dict:
    """Rooms of ns learners running lessons; then one new learner's compare_lesson with an
    empty cache vs a copy of ``prepared`` (default: the cache the first room's learner left)."""
    base = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    report = {"ns": list(ns), "lessons": list(lessons), "rooms": {}, "cpus": os.cpu_count(),
              "loadavg_start": os.getloadavg()}
    try:
        report["server_pss_mb"] = round(_server_rss_mb(base), 1)
        for n in ns:
            report["rooms"][n] = _room(n, list(lessons), base, prepared=prepared, shared_zig=shared_zig)
        if cache_compare:
            # the admin's prepared cache: what one run of the lessons left (hub/README.md)
            if prepared is None:
                prepared = base / f"n{ns[0]}-learner0" / ".cache" / "labsupport"
                shutil.rmtree(prepared / "lastword", ignore_errors=True)
            report["prepared_cache_mb"] = round(_dir_mb(prepared), 1)
            report["compare_lesson"] = compare_lesson
            cold = _room(1, [compare_lesson], base / "cold")[0]
            warm = _room(1, [compare_lesson], base / "warm", prepared=prepared)[0]
            report["first_lesson"] = {"empty_cache": cold, "prepared_copy": warm}
        report["loadavg_end"] = os.getloadavg()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return report


def _summary_rows(report: dict) -> list[dict]:
    rows = []
    for n, learners in report["rooms"].items():
        pss = max(x["peak_pss_mb"] for x in learners)
        cpu = statistics.median(x["cpu_s"] for x in learners)
        wall = max(x["wall_s"] for x in learners)
        rows.append(dict(name=f"hub: {n} learner(s) at once, lessons {'+'.join(report['lessons'])}",
                         value=wall, unit="s", target="-",
                         note=f"slowest wall; per learner peak PSS {pss} MB, CPU {cpu} s (median)"))
    if "first_lesson" in report:
        c, w = report["first_lesson"]["empty_cache"], report["first_lesson"]["prepared_copy"]
        rows.append(dict(name=f"hub: new learner's lesson {report.get('compare_lesson', '00')}, prepared / empty cache",
                         value=round(w["wall_s"] / c["wall_s"], 2), unit="x", target="< 1",
                         note=f"{w['wall_s']} s vs {c['wall_s']} s; CPU {w['cpu_s']} vs {c['cpu_s']} s; "
                              f"cache copy {w['cache_copy_s']} s"))
    return rows


def run() -> list[dict]:
    return _summary_rows(measure(ns=(1, 2), lessons=("00",)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--learner", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--n", default="1,2,4")
    ap.add_argument("--lessons", default="00,01")
    ap.add_argument("--no-cache-compare", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--shared-zig", help="one zig cache for every learner (a copy of a prepared one)")
    ap.add_argument("--prepared", help="a prepared course cache: each learner starts with a copy")
    ap.add_argument("--compare-lesson", default="00")
    args = ap.parse_args(argv)
    if args.learner:
        _learner(args.learner[0], args.learner[1:])
        return 0
    report = measure(ns=[int(x) for x in args.n.split(",")], lessons=args.lessons.split(","),
                     cache_compare=not args.no_cache_compare,
                     shared_zig=Path(args.shared_zig) if args.shared_zig else None,
                     prepared=Path(args.prepared) if args.prepared else None,
                     compare_lesson=args.compare_lesson)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"cpus {report['cpus']}, load average at start {report['loadavg_start']}, "
          f"end {report['loadavg_end']}; idle Jupyter server PSS {report['server_pss_mb']} MB")
    print(f"{'N':>3} {'learner':>7} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>11} {'peak PSS MB':>11}  "
          f"per lesson (s)            cache MB")
    for n, learners in report["rooms"].items():
        for x in learners:
            print(f"{n:>3} {x['learner']:>7} {x['wall_s']:>7} {x['cpu_s']:>6} {x['peak_rss_mb']:>11} "
                  f"{x['peak_pss_mb']:>11}  {json.dumps(x['lessons']):25} {x['cache_mb']}")
    if "first_lesson" in report:
        print(f"prepared cache: {report['prepared_cache_mb']} MB")
        for k, x in report["first_lesson"].items():
            print(f"first lesson {report['compare_lesson']}, {k:14}: wall {x['wall_s']} s, CPU {x['cpu_s']} s, "
                  f"cache copy {x['cache_copy_s']} s, peak PSS {x['peak_pss_mb']} MB")
    for r in _summary_rows(report):
        print(f"{r['name']}: {r['value']} {r['unit']} ({r['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
