"""Several glibc versions on one machine: one trace replayed under each, side by side.

glibc's allocator changes between versions (2.41 sends freed small chunks straight to their
small bin; 2.42 has 76 tcache lists counted in free slots; 2.43 has no fastbins, makes the
tcache at the first free and keeps 16 chunks a list). To show one trace under several of
them, ``fetch()`` takes Debian's ``libc6`` package of each release (bookworm 2.36, trixie
2.41, and 2.43 from unstable or testing: ``NEWEST_SLOT``, pinned) from the package archive
the machine's apt already uses, with ``apt-get download`` in a private folder (no root
needed, nothing installed: the package lists, about 10 MB a release, are removed
afterwards), and unpacks the C library and its loader into the course cache, once.
``steps_under(trace, root)`` then runs the same ``glibc_probe`` under that glibc's own
loader (``ld-linux-x86-64.so.2 --library-path``): a program built against one glibc runs
under a newer one unchanged, and the probe parses numbers itself so that it runs under an
older one too.

Lesson 01 asks the learner to predict what these replays show, so ``steps_under`` notes
every call made outside the course's own widgets and checks (``trusted()``), from any
thread; the lesson's check reads and clears that note (``untrusted_calls``).
"""
from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..isolate import run_program
from ..toolchain import MissingTool, cache_dir
from .glibc import GlibcSteps
from .probes import build_probe, write_trace
from .traces import as_trace

__all__ = ["RELEASES", "GlibcRoot", "debian_mirror", "fetch", "installed", "steps_under", "trusted",
           "untrusted_calls", "note_read", "note_count", "notes_since", "NEWEST_SLOT"]

RELEASES = ("bookworm", "trixie", "sid")        # Debian 12 (2.36), 13 (2.41), unstable (pinned: 2.43)
# The "sid" slot is pinned to one version, NEWEST_SLOT, not to whatever unstable ships: lesson 01
# compares the three panels' text and its exercise 3b is answered per version ("2.43"), so a fetch
# after Debian moved on (experimental had 2.44-3 in December 2026 while unstable and testing had
# 2.43-7) must not change them. The slot takes libc6 NEWEST_SLOT from the first of NEWEST_FROM that
# still ships it (unstable moves first, testing follows days to weeks later); once none does, the
# slot says so and the other two panels still come. glibc_probe itself reads newer versions too
# (2.44: the machine's own glibc in every other cell); moving the pin is a new course release
# that rebuilds lesson 01.
NEWEST_SLOT = (2, 43)
NEWEST_FROM = ("sid", "forky")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class GlibcRoot:
    release: str          # Debian's name for the release it came from
    package: str          # the libc6 package's version, e.g. "2.43-7"
    root: Path            # where libc.so.6 and ld-linux-x86-64.so.2 are
    slot: str = ""        # which of RELEASES it fills (the "sid" slot may hold testing's)

    @property
    def version(self) -> tuple:
        m = re.match(r"(\d+)\.(\d+)", self.package)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    @property
    def label(self) -> str:
        return f"glibc {self.version[0]}.{self.version[1]} ({self.release})"

    def argv(self, program, *args) -> list:
        """``program args`` run under this glibc's own loader and C library."""
        return [str(self.root / "ld-linux-x86-64.so.2"), "--library-path", str(self.root), str(program),
                *map(str, args)]


def debian_mirror() -> str:
    """The Debian archive the machine's apt reads (``/etc/apt/sources.list[.d]``), e.g.
    ``http://deb.debian.org/debian``; MissingTool when apt names none (not Debian)."""
    texts = [Path(p).read_text(errors="replace") for p in
             ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
              *sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))] if Path(p).is_file()]
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s", line) or re.match(r"URIs:\s*(\S+)", line)
            if m and re.search(r"/debian/?$", m.group(1)):
                return m.group(1).rstrip("/")
    raise MissingTool("other glibc versions come from Debian's package archive, and apt on this machine "
                      "names no Debian mirror (/etc/apt/sources.list*): the side-by-side view is off")


def _dir() -> Path:
    return cache_dir() / "glibc"


def installed(releases=RELEASES) -> list[GlibcRoot]:
    """The glibc versions already unpacked in the course cache, oldest first (of ``releases``:
    the three slots by default; ``fetch(("experimental",))`` adds Debian's newest, which only
    the tests use, to check glibc_probe against the next glibc)."""
    out = []
    for release in releases:
        stamp = _dir() / release / "package-version"
        if stamp.exists():
            suite = _dir() / release / "suite"          # "sid" may have come from testing
            name = suite.read_text().strip() if suite.exists() else release
            out.append(GlibcRoot(name, stamp.read_text().strip(), _dir() / release / "lib", release))
    return sorted(out, key=lambda g: g.version)


def _apt(work: Path, *args) -> subprocess.CompletedProcess:
    opts = [f"-oDir::State={work / 'state'}", "-oDir::State::status=/dev/null", f"-oDir::Cache={work / 'cache'}",
            f"-oDir::Etc::SourceList={work / 'sources.list'}", "-oDir::Etc::SourceParts=/dev/null",
            "-oDebug::NoLocking=1", "-oAcquire::Languages=none", "-oAPT::Sandbox::User=" + _user(),
            "-oAcquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
            # a mirror that serves a stale snapshot (its Release file past Valid-Until) still gives
            # signed packages: they are only unpacked into the course cache, never installed
            "-oAcquire::Check-Valid-Until=false"]
    return subprocess.run(["apt-get", "-q", *opts, *args], cwd=work, capture_output=True, text=True, timeout=600)


def _user() -> str:
    """apt drops to this user to download: ourselves (root's default, _apt, could not write here)."""
    import os
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def fetch(releases=RELEASES, say=print) -> list[GlibcRoot]:
    """Each release's libc6, downloaded and unpacked once into the course cache (later: instant)."""
    todo = [r for r in releases if not (_dir() / r / "package-version").exists()
            or (r == "sid" and not _is_pinned((_dir() / r / "package-version").read_text()))]
    if todo:
        for tool in ("apt-get", "dpkg-deb"):
            if not shutil.which(tool):
                raise MissingTool(f"{tool} is needed to fetch other glibc versions (Debian and Ubuntu have it)")
        mirror = debian_mirror()
        work = _dir() / "apt"
        shutil.rmtree(work, ignore_errors=True)
        for d in ("state/lists/partial", "cache/archives/partial"):
            (work / d).mkdir(parents=True)
        signed = f" [signed-by={KEYRING}]" if Path(KEYRING).exists() else ""
        suites = [r for r in todo if r != "sid"] + (list(NEWEST_FROM) if "sid" in todo else [])
        (work / "sources.list").write_text("".join(f"deb{signed} {mirror} {r} main\n" for r in suites))
        say(f"fetching Debian's libc6 for {', '.join(todo)} from {mirror} (once; about 10 MB of package lists each)")
        r = _apt(work, "update")
        if r.returncode:
            raise RuntimeError(f"apt-get update failed:\n{r.stdout[-800:]}{r.stderr[-800:]}")
        failed = [line for line in r.stderr.splitlines() if line.startswith(("W: Failed to fetch", "E: "))]
        if failed:          # apt-get update exits 0 when it cannot reach the mirror (offline): say that
            raise RuntimeError(f"apt-get update could not read {mirror}:\n"
                               + re.sub(r"^W: Failed to fetch \S+\s+", "", failed[0]))
        for release in todo:
            try:
                suite, debs = _download_libc6(work, release)
            except MissingTool as exc:          # the newest slot only: the others still come
                say(f"  {release}: {exc}")
                continue
            target = _dir() / release
            shutil.rmtree(target, ignore_errors=True)
            unpacked = target / "deb"
            unpacked.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True, timeout=120)
            version = subprocess.run(["dpkg-deb", "-f", str(debs[0]), "Version"], capture_output=True,
                                     text=True, check=True).stdout.strip()
            lib = target / "lib"
            lib.mkdir()
            for name in ("libc.so.6", "ld-linux-x86-64.so.2"):
                found = [p for p in unpacked.rglob(name) if p.is_file() and not p.is_symlink()]
                if not found:
                    raise RuntimeError(f"libc6 {version} ({release}) has no {name}")
                shutil.copy2(found[0], lib / name)
            shutil.rmtree(unpacked)
            for deb in debs:
                deb.unlink()
            (target / "package-version").write_text(version + "\n")
            (target / "suite").write_text(suite + "\n")
            say(f"  {release}: glibc {version}")
        shutil.rmtree(work, ignore_errors=True)
    return [g for g in installed(releases) if (g.slot or g.release) in releases]


def _is_pinned(package_version: str) -> bool:
    """Is a libc6 package version (``2.43-7``) the newest slot's pinned glibc, NEWEST_SLOT?"""
    m = re.match(r"(\d+)\.(\d+)", package_version.strip())
    return bool(m) and (int(m.group(1)), int(m.group(2))) == NEWEST_SLOT


def _download_libc6(work: Path, release: str) -> tuple[str, list[Path]]:
    """libc6 of ``release`` downloaded into ``work``; for "sid", glibc NEWEST_SLOT from the first
    suite in NEWEST_FROM that still ships it, so the newest panel never changes version."""
    candidates = NEWEST_FROM if release == "sid" else (release,)
    seen = []
    for suite in candidates:
        for old in work.glob("libc6_*.deb"):
            old.unlink()
        r = _apt(work, "download", f"libc6/{suite}")
        debs = sorted(work.glob("libc6_*.deb"))
        if r.returncode or not debs:
            raise RuntimeError(f"apt-get download libc6/{suite} failed:\n{r.stderr[-800:]}")
        if release != "sid" or _is_pinned(debs[0].name.removeprefix("libc6_")):
            return suite, debs
        m = re.match(r"libc6_(\d+\.\d+)", debs[0].name)
        seen.append(f"{suite} has glibc {m.group(1) if m else debs[0].name}")
    pin = "%d.%d" % NEWEST_SLOT
    raise MissingTool(f"the third panel is pinned to glibc {pin} (lesson 01 compares its text and asks "
                      f"exercise 3b per version), and Debian's suites have moved on ({'; '.join(seen)}): "
                      f"the side-by-side view shows the other versions; a newer course release moves the pin")


_local = threading.local()
_notes: list = []             # (what, trace name) of every read outside trusted(): only ever appended to
_seen = [0]                   # untrusted_calls()'s own cursor into _notes (a check keeps its own)


def trusted():
    """Calls of ``steps_under`` (and reads of a view's steps) in this block, on this thread,
    are the course's own (a widget drawing, a check measuring): not noted. Granted only to the
    course's own code (a caller in ``labsupport``); from a notebook cell it notes as before."""
    caller = sys._getframe(1).f_globals.get("__name__", "")
    return _trust(caller == "labsupport" or caller.startswith("labsupport."))


@contextmanager
def _trust(granted: bool):
    if not granted:
        yield
        return
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def note_read(what: str, name: str) -> None:
    """Note a read of replayed steps unless it happens inside ``trusted()`` on this thread."""
    if not getattr(_local, "depth", 0):
        _notes.append((what, name))


def note_count() -> int:
    """How many reads have been noted so far (a cursor for ``notes_since``)."""
    return len(_notes)


def notes_since(cursor: int) -> list:
    """The (what, trace name) reads noted after ``cursor`` (None: the record shrank, which only a
    cell clearing it can do)."""
    return None if len(_notes) < cursor else list(_notes[cursor:])


def untrusted_calls(clear: bool = True) -> list:
    """The (what, trace name) reads noted since this function last cleared (``clear``: move its
    cursor past them). The record itself is never cleared: a check keeps its own cursor."""
    out = list(_notes[_seen[0]:])
    if clear:
        _seen[0] = len(_notes)
    return out


def steps_under(trace, glibc: GlibcRoot, tunables: str | None = None) -> GlibcSteps:
    """``glibc_steps`` of ``trace`` with ``glibc``'s own C library instead of the machine's."""
    trace = as_trace(trace)
    note_read("steps_under", trace.name)
    argv = glibc.argv(build_probe("glibc_probe"), "steps", write_trace(trace))
    r = run_program(argv, timeout=60, env={"GLIBC_TUNABLES": tunables} if tunables else None)
    if not r.ok and "not supported by this probe yet" not in r.stdout:
        raise RuntimeError(f"glibc_probe under {glibc.label} failed: {r}\n{r.stderr[-500:]}")
    return GlibcSteps(trace, r.stdout, tunables)
