"""Lesson 06 (static versus dynamic mimalloc): building and running its set-ups, and both checks.

Exercise 1 predicts, for three CMake set-ups, whether each links, who serves ``new`` inside the
library and whether ``server config`` crashes; the truth is measured by building and running
them. Exercise 2 writes ``config_text`` / ``config_text_release`` for ``libappconfig.so``; the
check builds it in the ``private`` set-up and runs ``server fixed`` on the book's config and on
one written for the check (values nobody can type in advance), and counts the bytes glibc still
holds afterwards, heap and mmapped blocks both.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets

from ..cmakebuild import cmake_build
from ..exercises import exercise, fail, not_done, passed
from ..isolate import run_program
from ..toolchain import cache_dir, example_path

__all__ = ["SETUPS", "SETUP_HINTS", "server", "measure_setup", "check_setups", "fresh_config", "run_fix",
           "check_fix"]

SETUPS = ("one", "two", "three")
FIELDS = ("links", "library_allocator", "config_crashes")
ALLOCATORS = ("glibc", "mimalloc")


def _src():
    return example_path("06_static_vs_dynamic")


def server(build, *args, timeout: float = 20, env: dict | None = None):
    """Run ``server`` of a built config project (isolated, with a timeout)."""
    return run_program([str(build.path("server")), *map(str, args)], timeout=timeout, env=env)


# glibc's per-thread cache (tcache) keeps up to 7 freed chunks of each size for reuse, and
# mallinfo2() counts them as in use (int_mallinfo walks only the fastbins and bins): a
# correct fix that frees everything could still show a chunk or two "held". With the cache
# switched off every free chunk is counted as free.
NO_TCACHE = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}


def _config_files():
    return [_src() / "config" / f for f in ("appconfig.cpp", "appconfig.h", "server.cpp", "fix_start.cpp")]


def measure_setup(name: str) -> tuple:
    """Build setups/<name> and run it: (links, library_allocator, config_crashes)."""
    b = cmake_build(_src() / "setups" / name, extra_files=_config_files(), name=f"setup-{name}")
    if not b.ok:
        return (False, None, None)
    probe = server(b, "probe").stdout
    allocator = re.search(r"new in libappconfig.so\s+(\w+)", probe).group(1)
    crashed = not server(b, "config", _src() / "config" / "config.json").ok
    return (True, allocator, crashed)


SETUP_HINTS = {
    "one": "Which line creates the target mimalloc-static? Without it, what does CMake pass "
           "to the linker, and does a file with that name exist?",
    "two": "libmimalloc.a is linked into a shared library that hides nothing. Which module "
           "comes first in the search order with a definition of malloc? (lesson 04, 'exported')",
    "three": "A version script with 'local: *' hides the executable's symbols from every other "
             "module, like --exclude-libs in section 3. Where do the libraries' new and the "
             "program's delete go then?",
}

# what builds or runs the set-ups, or reads the check's verdict: a prediction made with any of
# them is not a prediction (review5-06-07: PREDICTION from measure_setup, or a loop over the
# legal answers calling the check, passed)
_EXPERIMENT_1 = ("measure_setup", "check_setups", "cmake_build", "server", "run_program", "run_c", "run_python")

_FORM = ("each set-up is dict(links=True or False, library_allocator='glibc', 'mimalloc' or None, "
         "config_crashes=True, False or None); None when it does not link")


@exercise(error_hint=_FORM)
def check_setups(prediction):
    """Exercise 1: PREDICTION {name: dict(links=..., library_allocator=..., config_crashes=...)}."""
    if type(prediction) is not dict or set(prediction) != set(SETUPS):
        return fail("PREDICTION must be a dict with the keys 'one', 'two' and 'three'", _FORM)
    for name in SETUPS:
        p = prediction[name]
        if type(p) is not dict or set(p) != set(FIELDS):
            return fail(f"set-up {name}: give exactly {', '.join(FIELDS)}", _FORM)
        if type(p["links"]) is not bool:
            return fail(f"set-up {name}: links is {p['links']!r}, not True or False", _FORM)
        if p["links"]:
            if not (type(p["library_allocator"]) is str and p["library_allocator"] in ALLOCATORS) \
                    or type(p["config_crashes"]) is not bool:
                return fail(f"set-up {name} links, so library_allocator must be 'glibc' or 'mimalloc' and "
                            "config_crashes True or False", _FORM)
        elif p["library_allocator"] is not None or p["config_crashes"] is not None:
            return fail(f"set-up {name}: a program that does not link has no allocator and cannot crash",
                        "when links is False, library_allocator and config_crashes are None")
    from .cross_module import PREDICT_FIRST, runs_the_experiment
    used = runs_the_experiment("PREDICTION", _EXPERIMENT_1)
    if used:
        return fail(f"your prediction runs the experiment ({used}) instead of predicting it", PREDICT_FIRST)
    for n, name in enumerate(SETUPS, 1):
        got = tuple(prediction[name][k] for k in FIELDS)
        if got != measure_setup(name):
            return fail(f"case {n} of 3 failed: set-up {name}: (links, library_allocator, config_crashes) = "
                        f"{got!r}, which is not what happened", SETUP_HINTS[name], total=3)
    return passed("all 3 set-ups predicted", total=3)


# ----------------------------------------------------------------- exercise 2

def fresh_config() -> tuple:
    """A config file only the check knows: (path, the values its keys hold), new random words on
    every call (nothing to compute in advance), longer than any small-string buffer."""
    seed = secrets.token_hex(32)
    values = {"name": f"check-{seed[:4]}",
              "document_root": f"/srv/check/{seed[4:20]}/public",
              "log_path": f"/var/log/check/{seed[20:44]}"}
    folder = cache_dir() / "fix06"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "check-config.json"
    path.write_text(json.dumps({"listeners": [{"address": "0.0.0.0", "port": 8080}], "app": values},
                               indent=2) + "\n")
    return path, values


def run_fix(source: str, config_json):
    """Build libappconfig.so with ``source`` as the fix (SETUP=private), run ``server fixed``:
    (build or None, RunResult or the build's errors)."""
    folder = cache_dir() / "fix06"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fix-{hashlib.sha256(source.encode()).hexdigest()[:12]}.cpp"
    path.write_text(source)
    b = cmake_build(_src() / "config", options={"SETUP": "private", "FIX_SOURCE": path},
                    extra_files=[path], name="config-fix")
    if not b.ok:
        return None, b.errors().replace(str(path), "your fix")
    return b, server(b, "fixed", config_json, env=NO_TCACHE)


def _values(stdout: str) -> list:
    return [line for line in stdout.splitlines() if line.startswith("app.")]


def _distinct(stdout: str, what: str = "distinct data pointers"):
    line = [line for line in stdout.splitlines() if line.startswith(what)]
    return int(line[0].split(":")[1].split()[0]) if line else None


def _kept(stdout: str):
    """The text server fixed held through its loop, as an ``app.`` line (None if not printed)."""
    line = [line for line in stdout.splitlines() if line.startswith("held through the loop: ")]
    return line[0].removeprefix("held through the loop: ") if line else None


def _held(stdout: str, what: str = "glibc bytes still in use"):
    held = [line for line in stdout.splitlines() if line.startswith(what)]
    return int(held[0].split(":")[1]) if held else None


# server fixed takes its baselines before the first config_text and then makes 20,003 calls,
# so any retention per call passes these limits many times over: a strdup'ed copy never freed
# keeps about 48 bytes a call (close to 1 MB), a copy in a mapping of its own (mmap) never
# unmapped at least a page a call (80 MB), a bump allocator in a pool it maps or reserves once
# about 34 bytes a call of resident memory (680 KB). A correct fix stays far below: what it
# keeps is bounded (a cache of three values), or nothing. The slack covers that, and a heap
# that grows once by glibc's top pad (128 KiB).
CALLS = 20003
# A fix that gives back what it took gets the same memory again (glibc's bins are LIFO with
# the tcache off), and a view or a cache returns the same pointer: over the loop's 20,000
# calls a correct fix shows a handful of distinct data pointers, a leak or a bump pool 20,000
# (server fixed stops counting at 65). The figures above never shrink in a correct fix:
# SHRINK_LIMIT is the noise allowed below zero (review3 06-07: a constructor that maps or
# allocates before the baselines and gives it back during the loop hides a leak).
DISTINCT_LIMIT = 16
SHRINK_LIMIT = 64 << 10
HELD_LIMIT = 64 << 10
MAPPED_LIMIT = 1 << 20
RESIDENT_LIMIT = 256 << 10


@exercise(error_hint="FIX_CPP is a string holding C++ that defines config_text and config_text_release")
def check_fix(fix_cpp, reference_build):
    """Exercise 2: the fixed API builds, runs in the private set-up without crashing, gives the values
    a plain build reads (book config and a fresh one) with all three texts held at once and one more
    held through the loop, leaves no glibc bytes, mappings or resident memory behind, shrinks none
    of them (a baseline moved by a constructor), and reuses what it gives back (few distinct data
    pointers and handles over the loop)."""
    if type(fix_cpp) is not str:
        return fail(f"FIX_CPP is a {type(fix_cpp).__name__}, not a string",
                    "keep FIX_CPP = r'''...''' and write the two functions inside it")
    # the working copy's stub leaves a Python comment line inside the string: not C++
    fix_cpp = "\n".join(line for line in fix_cpp.splitlines() if not line.lstrip().startswith("# Your code"))
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", fix_cpp, flags=re.S)
    if not re.search(r"\bConfigText\s+config_text\s*\(", code):
        return not_done("define config_text and config_text_release in FIX_CPP")
    configs = [_src() / "config" / "config.json", fresh_config()[0]]
    for n, config in enumerate(configs, 1):
        which = "the book's config.json" if n == 1 else "a config file written by the check"
        b, r = run_fix(fix_cpp, config)
        if b is None:
            return fail(f"your fix does not build:\n{r}",
                        "define both functions, with the signatures appconfig.h declares")
        if not r.ok:
            return fail(f"server fixed with {which} did not run to its end: it was {r.status()}",
                        "Does the program still end up freeing a block the library allocated, or read "
                        "memory after it was freed? data must stay valid until config_text_release: "
                        "allocate in config_text and free in config_text_release, both in the library.")
        expected = _values(server(reference_build, "config", config).stdout)
        if _values(r.stdout) != expected:
            return fail(f"with {which}, server fixed printed {_values(r.stdout)!r}, not the values a plain "
                        "build reads", "data must point at the value's characters read from the config "
                        "file (no values typed in), and stay valid until config_text_release, even while "
                        "other keys are asked for (server fixed holds several texts at once, one of them "
                        "through thousands of other calls, so buffers that later calls reuse are not "
                        "enough); size is the number of characters")
        kept = _kept(r.stdout)
        want = [line for line in expected if line.startswith("app.log_path")]
        if kept is None or [kept] != want:
            return fail(f"with {which}, the text server fixed held through its {CALLS - 3:,} other calls "
                        f"read {kept!r} at the end, not {want[0] if want else 'the value'!r}",
                        "data must stay valid until its own config_text_release, however many other texts "
                        "are taken and given back meanwhile: buffers that later calls reuse (a ring of a "
                        "few static ones) overwrite it")
        held = _held(r.stdout)
        if held is None or held >= HELD_LIMIT:
            return fail(f"with {which}, glibc still held {held} bytes after {CALLS:,} calls (heap and "
                        "mmapped blocks)", "config_text_release must free what config_text allocated (keep "
                        "a pointer to it in handle), in the library, with the matching delete/free: match "
                        "new with delete and new[] with delete[] (a mismatch is undefined behaviour that no "
                        "byte count shows)")
        grown = _held(r.stdout, "mapped bytes grown")
        resident = _held(r.stdout, "resident bytes grown")
        if grown is None or grown >= MAPPED_LIMIT or resident is None or resident >= RESIDENT_LIMIT:
            return fail(f"with {which}, the process's mappings grew by {grown} bytes and its resident "
                        f"memory by {resident} bytes over {CALLS:,} calls",
                        "memory you take yourself (mmap, a pool of your own) must be given back too: "
                        "config_text_release must give back whatever config_text took, in the library, so "
                        "that the next call can use it again")
        shrunk = min(held, grown, resident)
        if shrunk <= -SHRINK_LIMIT:
            return fail(f"with {which}, over {CALLS:,} calls glibc's bytes changed by {held}, the mappings by "
                        f"{grown} and the resident memory by {resident} bytes: something made before the "
                        "first call was given back during the loop",
                        "nothing in a correct fix gives back memory it took before the first config_text (a "
                        "constructor's pool or ballast only moves the check's baseline): take memory in "
                        "config_text and give it back in config_text_release", total=len(configs))
        distinct = _distinct(r.stdout)
        if distinct is None or distinct > DISTINCT_LIMIT:
            return fail(f"with {which}, config_text returned {distinct} different data pointers over the "
                        f"{CALLS - 3:,} calls of the loop (released each time before the next)",
                        "memory given back is used again, so a fix that really gives it back (or a view, or "
                        "a cache) returns the same few addresses; a new address every call means "
                        "config_text_release keeps what config_text took (a pool of your own never given "
                        "back, a copy never freed)", total=len(configs))
        handles = _distinct(r.stdout, "distinct handles")
        if handles is None or handles > DISTINCT_LIMIT:
            return fail(f"with {which}, config_text returned {handles} different non-null handles over the "
                        f"{CALLS - 3:,} calls of the loop (released each time before the next)",
                        "handle is taken and given back like data: a new handle every call means "
                        "config_text_release keeps something config_text made for it", total=len(configs))
    return passed("the fixed API: no crash, the right values from both config files, nothing left "
                  "behind", total=len(configs))
