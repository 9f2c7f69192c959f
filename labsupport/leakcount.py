"""Leaks, counted and reported: a counting allocator, three leak tools, one vocabulary.

The counting allocator is ``native_examples/07_plugin_leaks/leakcount.c``, preloaded
into a program (``LD_PRELOAD``); it prints lines ``leakcount ITERATION MODULE BLOCKS
BYTES`` when the program marks an iteration, and can make the N-th allocation fail.
This module builds it, parses what it prints, runs valgrind, heaptrack and
LeakSanitizer in isolated children with timeouts, and turns their reports into the
same few numbers (no addresses, no PIDs). It draws nothing: the picture of live blocks
over iterations is ``labsupport/widgets/leakplot.py``:

    shim = leakcount.build_shim()
    r = lab.run_program([exe, plugin, "loop"], env=leakcount.preload_env(shim))
    leakplot.plot_live(leakcount.parse_marks(r.stderr), title="live blocks")   # widgets.leakplot
    rep = leakcount.valgrind([exe, plugin, "loop"])   # a LeakReport
    print(rep.row())
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cbuild import build_program
from .isolate import RunResult, run_program
from .toolchain import example_path, have, missing

__all__ = ["LeakReport", "LSAN_FATAL", "build_shim", "heaptrack", "lsan", "lsan_failure", "parse_heaptrack",
           "parse_lsan", "parse_marks", "parse_valgrind", "preload_env", "sanitize", "valgrind"]

KINDS = ("definitely lost", "indirectly lost", "possibly lost", "still reachable")


def build_shim() -> Path:
    """Build (cached) ``libleakcount.so`` from native_examples/07_plugin_leaks/leakcount.c."""
    return build_program([example_path("07_plugin_leaks", "leakcount.c")], output="libleakcount.so",
                         cflags=("-O2", "-fPIC"), ldflags=("-shared",), libraries=("dl",),
                         default_cflags=("-g", "-Wall"))


def preload_env(shim, *, armed_only: bool = False, **extra) -> dict:
    """The environment that preloads the counting allocator into a program."""
    env = {"LD_PRELOAD": str(shim), **{k: str(v) for k, v in extra.items()}}
    if armed_only:
        env["LEAKCOUNT_TRACK"] = "armed"
    return env


def parse_marks(text: str) -> dict[str, list[tuple[int, int, int]]]:
    """``leakcount I MODULE BLOCKS BYTES`` lines -> {module: [(i, blocks, bytes), ...]}.

    A module absent at a mark (no live block) gets a zero there, so every series
    has one point per mark.
    """
    rows = [line.split() for line in text.splitlines() if line.startswith("leakcount ")]
    marks = sorted({int(r[1]) for r in rows})
    found: dict[str, dict[int, tuple[int, int]]] = {}
    for _, i, module, blocks, nbytes in rows:
        found.setdefault(module, {})[int(i)] = (int(blocks), int(nbytes))
    return {m: [(i, *per.get(i, (0, 0))) for i in marks] for m, per in sorted(found.items())}


# ----------------------------------------------------------------- report parsing


_SANITIZE = [
    (re.compile(r"^==\d+==", re.M), "==PID=="),
    (re.compile(r"^--\d+--", re.M), "--PID--"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    # any absolute path becomes its file name: where the course, its cache or a temporary
    # folder sits differs from machine to machine (and clone to clone)
    (re.compile(r"(?<![\w.])(?:/[\w.+-]+)+/([\w.-]+)(?=[:\s)+]|$)", re.M), r"\1"),
    (re.compile(r"\bloss record \d+ of \d+"), "loss record"),
]


def sanitize(text: str) -> str:
    """A tool's report without PIDs, addresses, record numbers or long paths."""
    for rx, repl in _SANITIZE:
        text = rx.sub(repl, text)
    return text


@dataclass
class LeakReport:
    """What one tool said about one run, as numbers: {kind: (blocks, bytes)} and records."""
    tool: str
    kinds: dict = field(default_factory=dict)
    records: list = field(default_factory=list)   # (kind, bytes, blocks or calls, [function, ...])
    result: RunResult | None = None
    note: str = ""

    def blocks(self, kind: str) -> int:
        return self.kinds.get(kind, (0, 0))[0]

    def nbytes(self, kind: str) -> int:
        return self.kinds.get(kind, (0, 0))[1]

    def sees_plugin_leak(self) -> bool:
        return any(k in ("definitely lost", "indirectly lost", "leaked") and
                   any(f in ("encode", "encode_image") for f in funcs)
                   for k, _, _, funcs in self.records)

    def row(self) -> str:
        if self.note:
            return f"{self.tool:10} {self.note}"
        # still-reachable bytes include the environment and paths (they differ by a few
        # dozen bytes from one folder to another): blocks only
        parts = [f"{k}: {self.nbytes(k)} bytes" if k == "leaked" else
                 f"{k}: {self.blocks(k)} blocks" if k == "still reachable" else
                 f"{k}: {self.blocks(k)} blocks, {self.nbytes(k)} bytes" for k in self.kinds]
        return f"{self.tool:10} " + ("; ".join(parts) or "no leak reported")


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def parse_valgrind(text: str) -> LeakReport:
    """memcheck's LEAK SUMMARY and loss records (``--leak-check=full``)."""
    rep = LeakReport("valgrind")
    for kind in KINDS:
        m = re.search(rf"{kind}: ([\d,]+) bytes in ([\d,]+) blocks", text)
        if m:
            rep.kinds[kind] = (_num(m.group(2)), _num(m.group(1)))
    rx = re.compile(r"^==\d+== ([\d,]+)(?: \([\d,]+ direct, [\d,]+ indirect\))? bytes in ([\d,]+) "
                    r"blocks are (\w+ \w+) in loss record[^\n]*\n((?:==\d+==    (?:at|by) [^\n]*\n)+)", re.M)
    for m in rx.finditer(text):
        funcs = re.findall(r"(?:at|by) 0x[0-9A-Fa-f]+: (?:\(anonymous namespace\)::)?([\w:~<>]+)", m.group(4))
        rep.records.append((m.group(3), _num(m.group(1)), _num(m.group(2)), funcs))
    return rep


def parse_lsan(text: str) -> LeakReport:
    """LeakSanitizer's "Direct leak" / "Indirect leak" records, as valgrind's kinds."""
    rep = LeakReport("LSan")
    rx = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:\n"
                    r"((?:\s+#\d+ [^\n]*\n?)+)", re.M)
    for m in rx.finditer(text):
        kind = "definitely lost" if m.group(1) == "Direct" else "indirectly lost"
        funcs = re.findall(r"#\d+ 0x[0-9a-f]+ in (?:\(anonymous namespace\)::)?([\w:~<>]+)", m.group(4))
        rep.records.append((kind, int(m.group(2)), int(m.group(3)), funcs))
        blocks, nbytes = rep.kinds.get(kind, (0, 0))
        rep.kinds[kind] = (blocks + int(m.group(3)), nbytes + int(m.group(2)))
    return rep


def _size(s: str) -> int:
    m = re.fullmatch(r"([\d.]+)([KMG]?)B?", s)
    return round(float(m.group(1)) * {"": 1, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3}[m.group(2)])


def parse_heaptrack(text: str) -> LeakReport:
    """``heaptrack_print -l 1 -m 0``: every block not freed at exit is "leaked" (no reachability)."""
    rep = LeakReport("heaptrack")
    section = text.split("MEMORY LEAKS", 1)[-1] if "MEMORY LEAKS" in text else ""
    rx = re.compile(r"^(\S+) leaked over (\d+) calls from\n((?:  \S[^\n]*\n(?:    [^\n]*\n)*)+)", re.M)
    for m in rx.finditer(section):
        funcs = [re.sub(r"^\(anonymous namespace\)::", "", f.split("(")[0])
                 for f in re.findall(r"^  (\S[^\n]*)$", m.group(3), re.M)]
        rep.records.append(("leaked", _size(m.group(1)), int(m.group(2)), funcs))
    # "N calls" counts every allocation made at that place, not only the leaked ones:
    # heaptrack's report gives leaked bytes, not leaked blocks.
    total = re.search(r"total memory leaked: (\S+)", text)
    if total:
        rep.kinds["leaked"] = (None, _size(total.group(1)))
    return rep


# ----------------------------------------------------------------- running the tools


def valgrind(argv, *, timeout: float = 120, extra=()) -> LeakReport:
    """memcheck with --leak-check=full, in an isolated child."""
    if not have("valgrind"):
        return LeakReport("valgrind", note=missing("valgrind"))
    r = run_program(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--num-callers=16",
                     *extra, *map(str, argv)], timeout=timeout)
    rep = parse_valgrind(r.stderr)
    rep.result = r
    if r.timed_out:
        rep.note = r.status()
    return rep


LSAN_FATAL = "LeakSanitizer has encountered a fatal error"


def lsan_failure(stderr: str) -> str:
    """Why LeakSanitizer did not run ("" when it did).

    Without ptrace (under gdb or strace, in a container that forbids it) LSan prints a
    fatal error and exits with the *leak* exit code, reporting no records: read as a
    report, that would be "no leak". This turns it into a note instead.
    """
    if LSAN_FATAL not in stderr:
        return ""
    if "ptrace" in stderr:
        return "LeakSanitizer could not run (ptrace): it does not work under gdb/strace or without ptrace"
    hint = [line for line in stderr.splitlines() if line.startswith("HINT")]
    return "LeakSanitizer could not run: " + (hint[-1] if hint else "fatal error")


def lsan(argv, *, timeout: float = 60, options: str = "") -> LeakReport:
    """Run a program built with ``gcc -fsanitize=leak``; LSan reports at exit (exit code 23).

    A run where LSan itself failed (no ptrace) gets a ``note``, never an empty report.
    """
    if not have("lsan"):
        return LeakReport("LSan", note=missing("lsan"))
    env = {"LSAN_OPTIONS": "exitcode=23" + (":" + options if options else "")}
    r = run_program(list(map(str, argv)), timeout=timeout, env=env)
    rep = parse_lsan(r.stderr)
    rep.result = r
    if r.timed_out:
        rep.note = r.status()
    elif lsan_failure(r.stderr):
        rep.note = lsan_failure(r.stderr)
    return rep


def _remove_stale_fifos(folder: str = "/tmp") -> list[str]:
    """heaptrack's wrapper makes ``/tmp/heaptrack_fifoPID``; killed on a timeout, it leaves
    it behind. Remove ours whose wrapper is gone; returns their names."""
    removed = []
    for name in os.listdir(folder):
        m = re.fullmatch(r"heaptrack_fifo(\d+)(\.lock)?", name)
        path = os.path.join(folder, name)
        try:
            if m and os.stat(path).st_uid == os.getuid() and not os.path.exists(f"/proc/{m.group(1)}"):
                os.unlink(path)
                removed.append(name)
        except OSError:
            pass
    return removed


def heaptrack(argv, *, timeout: float = 120) -> LeakReport:
    """heaptrack (record, then ``heaptrack_print -l 1 -m 0``), each step with a timeout.

    heaptrack can block forever: on a program whose own ``malloc`` comes before the
    preloaded one (it exports a static malloc), heaptrack's hooks never run, nothing
    opens its FIFO for writing, and the wrapper waits on ``"$INTERPRETER" < $pipe``
    after the program has ended. The timeout is the watchdog; the note then says that
    the trace is empty, and the FIFO left in /tmp is removed.
    """
    if not have("heaptrack"):
        return LeakReport("heaptrack", note=missing("heaptrack"))
    tmp = Path(tempfile.mkdtemp(prefix="heaptrack-"))
    try:
        r = run_program(["heaptrack", "-o", str(tmp / "trace"), *map(str, argv)], timeout=timeout)
        files = sorted(tmp.glob("trace*"))
        if r.timed_out:
            _remove_stale_fifos()
            empty = bool(files) and all(f.stat().st_size == 0 for f in files)
            return LeakReport("heaptrack", result=r, note=r.status() + (
                "; its trace is empty (heaptrack's hooks never ran) and the wrapper was waiting "
                "on its FIFO" if empty else ""))
        if not files:
            return LeakReport("heaptrack", result=r, note="heaptrack wrote no trace: " + r.stderr[-300:])
        p = run_program(["heaptrack_print", "-l", "1", "-m", "0", "-p", "0", "-a", "0", "-T", "0",
                         str(files[0])], timeout=timeout)
        rep = parse_heaptrack(p.stdout)
        rep.result = RunResult(r.returncode, r.signal, r.timed_out, r.stdout, p.stdout,
                               seconds=r.seconds, timeout=timeout)
        return rep
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
