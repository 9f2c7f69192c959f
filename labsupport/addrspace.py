"""A process's address space as data, read from ``/proc/PID/maps`` and ``/proc/PID/smaps``.

    space = lab.read_address_space()               # this process ("self"), or a pid
    space = lab.parse_smaps(text, program="lifecycle")   # text saved by a program
    space.regions[0]                                # Region(start, end, perms, ..., kind, label)
    print(space.table())                            # one row per region, no raw addresses
    space.totals()                                  # {"Rss": kB, "Pss": kB, ...} summed
    space.by_kind()                                 # bytes mapped per kind
    lab.draw_address_space(space)                   # matplotlib picture (widgets/addrspace.py)
    lab.AddressSpaceView({"start": s1, "after malloc": s2})   # widget (widgets/addrspace.py)

This module is the data (``Region``, ``AddressSpace``, ``parse_maps``, ``parse_smaps``,
``read_address_space``, ``human``) and its text views (``table``, ``summary``), which
nbval compares. It imports no drawing library and nothing of ``labsupport.widgets``: a
child that reads its own map (lesson 03's programs, an isolated check) loads neither
matplotlib nor ipywidgets. The picture (``draw_address_space``), the widget
(``AddressSpaceView``) and the colours per kind are in ``labsupport/widgets/addrspace.py``.

Kinds, from what backs a region (proc(5), Documentation/filesystems/proc.rst):
``program`` (the executable's file), ``library`` (a shared object, ``ld.so`` too),
``file`` (any other mapped file), ``heap`` (``[heap]``, the brk area), ``stack``
(``[stack]``, the main thread's), ``anonymous`` (no file: big mallocs, thread
stacks, mmap(MAP_ANONYMOUS)), ``reserved`` (anonymous with no access, ``---p``:
reservations and guard pages), ``kernel`` (``[vdso]``, ``[vvar]``, ``[vsyscall]``:
pages the kernel maps into every process).

Addresses change on every run (ASLR): the text views print sizes, permissions and
order, and offsets from the lowest region only where asked.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

__all__ = [
    "KINDS",
    "KIND_HELP",
    "AddressSpace",
    "Region",
    "human",
    "parse_maps",
    "parse_smaps",
    "read_address_space",
]

PAGE = 4096
KINDS = ("program", "library", "file", "heap", "stack", "anonymous", "reserved", "kernel")
KIND_HELP = {
    "program": "the executable's own file: code (r-x), constants (r--), globals (rw-)",
    "library": "a shared library's file (or the dynamic loader): code, constants, data",
    "file": "a file mapped with mmap: its pages come from the page cache",
    "heap": "the brk heap: glibc's malloc grows it for small blocks",
    "stack": "the main thread's stack: grows down on demand, up to RLIMIT_STACK",
    "anonymous": "memory with no file behind it: big mallocs, thread stacks, mmap(MAP_ANONYMOUS); "
                 "zero-filled on first touch",
    "reserved": "address space with no access (---p): a reservation or a guard page; touching it "
                "is a SIGSEGV",
    "kernel": "pages the kernel maps into every process (vdso: fast system calls such as "
              "clock_gettime; vvar: their data)",
}

_MAPS_LINE = re.compile(
    r"^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+([rwxsp-]{4})\s+([0-9a-fA-F]+)\s+(\S+)\s+(\d+)\s*(.*)$")
_FIELD_LINE = re.compile(r"^([A-Za-z_]+):\s+(\d+)\s*kB\s*$")
_LIB = re.compile(r"(\.so(\.\d+)*$)|(/ld-linux[^/]*$)|(\.so\.\d)")


@dataclass
class Region:
    """One line of /proc/PID/maps (and, from smaps, its sizes in kB)."""

    start: int
    end: int
    perms: str                  # "r-xp": read, write, execute, p(rivate) or s(hared)
    offset: int                 # offset into the file
    dev: str
    inode: int
    path: str                   # "" for anonymous, "[heap]", "/usr/lib/.../libc.so.6", ...
    fields: dict = field(default_factory=dict)   # smaps: "Rss", "Pss", "Private_Dirty"... in kB
    kind: str = "anonymous"
    label: str = ""

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def shared(self) -> bool:
        return self.perms[3] == "s"

    def kb(self, name: str) -> int | None:
        """An smaps field in kB (None when only maps was read)."""
        return self.fields.get(name)

    @property
    def uss_kb(self) -> int | None:
        if "Private_Clean" not in self.fields:
            return None
        return self.fields["Private_Clean"] + self.fields.get("Private_Dirty", 0)

    def describe(self) -> str:
        return f"{self.label} {self.perms} {human(self.size)}"


def human(n: float) -> str:
    """Bytes as a short size: 4 KiB, 1.5 MiB, 128 TiB (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.0f} {unit}" if n == int(n) or n >= 100 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def classify(region: Region, program: str | None) -> tuple[str, str]:
    """(kind, label) of a region; ``program`` names the executable (a path or basename)."""
    path = region.path
    if path == "[heap]":
        return "heap", "[heap]"
    if path == "[stack]":
        return "stack", "[stack]"
    if path in ("[vdso]", "[vsyscall]") or path.startswith("[vvar"):
        return "kernel", path
    if path.startswith("["):            # [anon:name], [stack:tid] (old kernels)...
        return ("reserved" if region.perms.startswith("---") else "anonymous"), path
    if not path:
        return ("reserved" if region.perms.startswith("---") else "anonymous"), "anonymous"
    name = _basename(path.replace(" (deleted)", ""))
    if program and (path == program or name == _basename(program)):
        return "program", name
    if _LIB.search(name):
        return "library", name
    return "file", name


@dataclass
class AddressSpace:
    regions: list
    program: str | None = None

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.regions)

    def __iter__(self):
        return iter(self.regions)

    def __getitem__(self, i):
        return self.regions[i]

    @property
    def has_sizes(self) -> bool:
        return any(r.fields for r in self.regions)

    def find(self, kind: str | None = None, label: str | None = None, perms: str | None = None) -> list:
        """Regions matching every given criterion (label: exact, or a prefix ending in '*')."""
        out = []
        for r in self.regions:
            if kind and r.kind != kind:
                continue
            if perms and r.perms != perms:
                continue
            if label:
                if label.endswith("*") and not r.label.startswith(label[:-1]):
                    continue
                if not label.endswith("*") and r.label != label:
                    continue
            out.append(r)
        return out

    def containing(self, address: int):
        for r in self.regions:
            if r.start <= address < r.end:
                return r
        return None

    def gaps(self) -> list[int]:
        """Bytes between each region and the next (len(regions) - 1 values)."""
        return [b.start - a.end for a, b in zip(self.regions, self.regions[1:])]

    def mapped(self) -> int:
        """Bytes of address space mapped (VSZ, without the [vsyscall] page)."""
        return sum(r.size for r in self.regions if r.label != "[vsyscall]")

    def totals(self) -> dict:
        """Every smaps field summed over the regions, in kB."""
        out: dict = {}
        for r in self.regions:
            for k, v in r.fields.items():
                out[k] = out.get(k, 0) + v
        return out

    def by_kind(self, what: str = "size") -> dict:
        """Per kind: bytes mapped (``what="size"``) or an smaps field in kB (``"Rss"``...)."""
        out = {k: 0 for k in KINDS}
        for r in self.regions:
            out[r.kind] += r.size if what == "size" else r.fields.get(what, 0)
        return {k: v for k, v in out.items() if v}

    def labels(self) -> list[str]:
        """Distinct labels, in address order."""
        seen: list[str] = []
        for r in self.regions:
            if r.label not in seen:
                seen.append(r.label)
        return seen

    def diff(self, later: AddressSpace) -> dict:
        """What changed from this snapshot to ``later``, by region identity (start, end, path):
        ``{"added": [...], "removed": [...], "grown": [(old, new), ...]}`` (regions)."""
        key = lambda r: (r.start, r.end, r.path)
        mine = {key(r): r for r in self.regions}
        theirs = {key(r): r for r in later.regions}
        by_start = {(r.start, r.path): r for r in self.regions}
        by_end = {(r.end, r.path): r for r in self.regions}
        added, grown = [], []
        for k, r in theirs.items():
            if k in mine:
                continue
            old = by_start.get((r.start, r.path)) or by_end.get((r.end, r.path))
            if old is not None and old.perms == r.perms:
                grown.append((old, r))
            else:
                added.append(r)
        matched = {key(o) for o, _ in grown}
        removed = [r for k, r in mine.items() if k not in theirs and k not in matched]
        return {"added": added, "removed": removed, "grown": grown}

    # ------------------------------------------------------------------ text views
    def table(self, fields=("Rss", "Pss"), offsets: bool = False, limit: int | None = None) -> str:
        """One row per region in address order: kind, label, perms, size, smaps fields.
        No raw addresses; ``offsets=True`` adds each region's start as an offset from the
        lowest region (these change with ASLR between runs, too)."""
        fields = [f for f in fields if self.has_sizes] if fields else []
        head = f"{'#':>3}  {'kind':9} {'label':26} {'perms':5} {'size':>10}"
        if offsets:
            head = f"{'#':>3}  {'offset':>14}  " + head[5:]
        head += "".join(f" {f + ' kB':>10}" for f in fields)
        rows = [head]
        base = self.regions[0].start if self.regions else 0
        for i, r in enumerate(self.regions[:limit] if limit else self.regions):
            row = f"{i:>3}  "
            if offsets:
                row += f"{'+0x%x' % (r.start - base):>14}  "
            row += f"{r.kind:9} {r.label[:26]:26} {r.perms:5} {human(r.size):>10}"
            row += "".join(f" {r.fields.get(f, 0):>10,}" for f in fields)
            rows.append(row)
        if limit and len(self.regions) > limit:
            rows.append(f"... {len(self.regions) - limit} more regions")
        return "\n".join(rows)

    def summary(self, sizes: bool = True) -> str:
        """One line per kind: regions, and (``sizes``) bytes mapped and, with smaps, Rss kB.
        ``sizes=False`` gives counts only: the same on every run of the same program."""
        lines = []
        counts = {k: 0 for k in KINDS}
        for r in self.regions:
            counts[r.kind] += 1
        size, rss = self.by_kind(), self.by_kind("Rss") if self.has_sizes else {}
        for k in KINDS:
            if counts[k]:
                line = f"{k:9} {counts[k]:3} region{'s' if counts[k] > 1 else ''}"
                if sizes:
                    line = f"{line:24} {human(size.get(k, 0)):>10} mapped"
                    line += f", {rss.get(k, 0):,} kB resident" if self.has_sizes else ""
                lines.append(line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"AddressSpace({len(self.regions)} regions, {human(self.mapped())} mapped"
                + (f", {self.totals().get('Rss', 0):,} kB resident" if self.has_sizes else "") + ")")


def _finish(regions: list, program: str | None) -> AddressSpace:
    if program is None:
        # the executable is the file mapped at the lowest address that is not a library
        for r in regions:
            if r.path.startswith("/") and not _LIB.search(_basename(r.path)):
                program = r.path
                break
    for r in regions:
        r.kind, r.label = classify(r, program)
    regions.sort(key=lambda r: r.start)
    return AddressSpace(regions, program)


def parse_maps(text: str, program: str | None = None) -> AddressSpace:
    """Parse the text of /proc/PID/maps. ``program``: the executable's path or name
    (default: the lowest mapped file that is not a shared library)."""
    regions = []
    for line in text.splitlines():
        m = _MAPS_LINE.match(line.strip())
        if m:
            regions.append(_region(m))
    return _finish(regions, program)


def _region(m) -> Region:
    start, end, perms, off, dev, inode, path = m.groups()
    return Region(int(start, 16), int(end, 16), perms, int(off, 16), dev, int(inode), path.strip())


def parse_smaps(text: str, program: str | None = None) -> AddressSpace:
    """Parse /proc/PID/smaps: the maps lines, each followed by ``Name: N kB`` fields
    (Size, Rss, Pss, Shared_Clean, Private_Dirty, Swap, AnonHugePages, ...)."""
    regions: list = []
    for line in text.splitlines():
        m = _MAPS_LINE.match(line.strip())
        if m:
            regions.append(_region(m))
            continue
        f = _FIELD_LINE.match(line.strip())
        if f and regions:
            regions[-1].fields[f.group(1)] = int(f.group(2))
    return _finish(regions, program)


def _process_state(pid) -> str | None:
    """The one-letter state of /proc/PID/stat ("R", "S", "Z" for a zombie...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:][:1] or None


def read_address_space(pid="self", sizes: bool = True) -> AddressSpace:
    """Read a live process's map (``pid`` an int or "self"); ``sizes`` reads smaps too.

    A process that has exited has no address space left: reading it raises
    ``ProcessLookupError`` saying so (whether it is gone from /proc already or still
    a zombie waiting for its parent), never an empty map or a bare FileNotFoundError."""
    name = "smaps" if sizes else "maps"
    try:
        with open(f"/proc/{pid}/{name}") as f:
            text = f.read()
    except FileNotFoundError:
        raise ProcessLookupError(f"process {pid} has exited (or never existed): /proc/{pid} is gone, "
                                 f"so there is no address space to read. Read it while the process "
                                 f"runs (keep it alive, e.g. until it reads a line of input)") from None
    except ProcessLookupError:
        raise ProcessLookupError(f"process {pid} has exited: its address space is gone") from None
    except PermissionError as exc:
        raise PermissionError(f"/proc/{pid}/{name} is not readable here ({exc.strerror}): another "
                              f"user's process needs root or ptrace access") from None
    if not text.strip() and pid != "self":
        state = _process_state(pid)
        if state in (None, "Z", "X"):
            raise ProcessLookupError(
                f"process {pid} has exited" + (" (a zombie: its parent has not collected it yet)"
                                                 if state == "Z" else "")
                + ": its address space is gone, so there are no regions to read")
    try:
        program = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        program = None
    return (parse_smaps if sizes else parse_maps)(text, program)
