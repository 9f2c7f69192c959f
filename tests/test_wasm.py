"""Tests of labsupport.wasm: C to WebAssembly with zig, wasmtime instances, node scripts.

No wall-clock asserts. The zig cache is the course cache (the first wasi libc
build takes ~15 s once per machine); node tests are skipped when node (or the
npm package z3-solver) is not installed.
"""
import shutil

import pytest

import labsupport as lab
from labsupport import wasm

wasmtime = pytest.importorskip("wasmtime")
pytest.importorskip("ziglang")

EXAMPLE = lab.example_path("08_wasm_finalization", "objects.c")
HAVE_NODE = shutil.which("node") is not None


@pytest.fixture(scope="module")
def objects_wasm():
    return wasm.compile_wasm_file(EXAMPLE)


@pytest.fixture(scope="module")
def trapping_wasm():
    return wasm.compile_wasm_file(EXAMPLE, cflags=("-DTRAP_ON_OOM",))


def test_zig_cache_is_under_course_cache(monkeypatch):
    monkeypatch.delenv("LABSUPPORT_ZIG_CACHE", raising=False)
    env = wasm.zig_env()
    assert env["ZIG_GLOBAL_CACHE_DIR"] == str(lab.cache_dir() / "zig")
    assert env["ZIG_LOCAL_CACHE_DIR"] == env["ZIG_GLOBAL_CACHE_DIR"]
    assert wasm.zig_version()[0].isdigit()
    monkeypatch.setenv("LABSUPPORT_ZIG_CACHE", "/somewhere/shared")
    assert wasm.zig_env()["ZIG_GLOBAL_CACHE_DIR"] == "/somewhere/shared"


def test_compile_is_cached_by_content(objects_wasm):
    again = wasm.compile_wasm_file(EXAMPLE)
    assert again == objects_wasm
    assert again.stat().st_mtime_ns == objects_wasm.stat().st_mtime_ns   # not rebuilt
    assert objects_wasm.parent == lab.cache_dir() / "wasm"
    assert objects_wasm.stat().st_size < 20_000                         # stripped (-s)


def test_flags_and_source_change_the_key(objects_wasm, trapping_wasm):
    assert trapping_wasm != objects_wasm
    edited = wasm.compile_wasm(EXAMPLE.read_text() + "\n/* edited */\n", name="objects")
    assert edited != objects_wasm


def test_compile_error_names_the_file_not_a_temp_path():
    with pytest.raises(lab.CompileError) as info:
        wasm.compile_wasm("int broken( { }\n", name="broken")
    text = str(info.value)
    assert "broken.c:1:" in text and "error" in text
    assert "labwasm-" not in text


def test_max_memory_must_be_whole_pages():
    with pytest.raises(ValueError):
        wasm.compile_wasm("int x;", max_memory=1000)


def test_instance_exports_and_counters(objects_wasm):
    m = wasm.instantiate(objects_wasm)
    assert {"obj_new", "obj_free", "obj_sum", "live_objects", "live_bytes",
            "current_pages", "failed_allocs"} <= set(m.functions)
    assert m.max_pages == 256                        # the module declares 16 MiB
    h = m.obj_new(1000)
    assert h != 0 and m.live_objects() == 1 and m.live_bytes() == 1000
    assert m.obj_sum(h) == 1000 * (1000 & 0x7F)
    assert m.obj_free(h) == 0
    assert m.obj_free(h) == -1                       # the library refuses a double free
    assert m.live_objects() == 0 and m.live_bytes() == 0
    with pytest.raises(AttributeError, match="exports no"):
        m.no_such_function


def test_linear_memory_only_grows(objects_wasm):
    m = wasm.instantiate(objects_wasm)
    start = m.memory_pages
    handles = [m.obj_new(200 * 1024) for _ in range(20)]
    grown = m.memory_pages
    assert grown > start and m.current_pages() == grown   # export and host agree
    for h in handles:
        m.obj_free(h)
    assert m.live_objects() == 0
    assert m.memory_pages == grown                   # freed, yet not returned
    for h in [m.obj_new(200 * 1024) for _ in range(20)]:
        m.obj_free(h)
    assert m.memory_pages == grown                   # reused, no growth


def test_memory_limit_makes_malloc_return_null(objects_wasm):
    m = wasm.instantiate(objects_wasm, memory_limit=2 * 2**20)
    handles = []
    while (h := m.obj_new(200 * 1024)) != 0:
        handles.append(h)
        assert len(handles) < 100
    assert m.memory_pages <= 32 and m.failed_allocs() == 1
    assert m.live_objects() == len(handles)


def test_module_declared_maximum(objects_wasm):
    m = wasm.instantiate(objects_wasm)
    n = 0
    while m.obj_new(200 * 1024) != 0:
        n += 1
        assert n < 1000
    assert m.memory_pages <= 256


def test_trapping_variant_raises_trap(trapping_wasm):
    m = wasm.instantiate(trapping_wasm, memory_limit=2 * 2**20)
    with pytest.raises(wasmtime.Trap):
        for _ in range(100):
            m.obj_new(200 * 1024)
    assert m.failed_allocs() == 1                    # the counter was bumped before the trap


def test_json_helpers():
    text = 'hello\n{"a": 1}\nbye\n{"b": [1, 2]}\n'
    assert wasm.last_json(text) == {"b": [1, 2]}
    assert wasm.last_json("no json") is None
    assert wasm.without_json(text) == "hello\nbye"


def test_missing_node_is_named(monkeypatch):
    from labsupport import toolchain
    monkeypatch.setattr(toolchain, "_locate", lambda name: (None, None))     # nothing installed
    with pytest.raises(lab.MissingTool, match="node"):
        wasm.require_node()
    assert not wasm.node_ready()
    assert "node" in wasm.node_missing()


@pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")
def test_missing_npm_package_is_named():
    with pytest.raises(lab.MissingTool, match="npm install"):
        wasm.require_node("no-such-package-for-the-course")


@pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")
def test_finalization_registry_timing():
    r = wasm.run_node(lab.example_path("08_wasm_finalization", "fr_timing.mjs"), expose_gc=True,
                      timeout=60)
    assert r.ok, str(r)
    lines = r.stdout.splitlines()
    assert lines[0].endswith("callbacks run = 0")    # same job, even after gc()
    assert lines[2].endswith("callbacks run = 0")    # after a microtask
    assert lines[3].endswith("callbacks run = 1")    # in a later task: one or a few setTimeout 0
    # which task comes first, the cleanup or the timer, is node's choice (node 24 sometimes
    # runs the timer first); the script waits at most 100 tasks
    tasks = int(r.stderr.strip().rsplit(":", 1)[1])
    assert 1 <= tasks < 100, r.stderr


@pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")
def test_sync_loop_exhausts_and_release_does_not(objects_wasm):
    script = lab.example_path("08_wasm_finalization", "fr_loop.mjs")
    sync = wasm.last_json(wasm.run_node(script, objects_wasm, "sync", 200, expose_gc=True).stdout)
    assert sync["done"] < 200 and "out of memory" in sync["error"]
    rel = wasm.last_json(wasm.run_node(script, objects_wasm, "release", 200).stdout)
    assert rel["done"] == 200 and rel["peakLive"] == 0


@pytest.mark.skipif(not wasm.node_ready("z3-solver"), reason="node or npm z3-solver missing")
def test_z3_double_release_throws():
    r = wasm.run_node(lab.example_path("08_wasm_finalization", "z3_loop.mjs"), "double",
                      packages=("z3-solver",), timeout=120)
    assert r.ok, str(r)
    assert wasm.last_json(r.stdout)["error"].startswith("TypeError")


@pytest.mark.skipif(not wasm.node_ready("z3-solver"), reason="node or npm z3-solver missing")
def test_z3_loop_runs_out_without_release_and_not_with_it():
    script = lab.example_path("08_wasm_finalization", "z3_loop.mjs")
    leak = wasm.last_json(wasm.run_node(script, "leak", 200, 20, packages=("z3-solver",),
                                        timeout=120).stdout)
    assert leak["error"] and "out of memory" in leak["error"] and leak["done"] < 200
    rel = wasm.last_json(wasm.run_node(script, "release", 200, 20, packages=("z3-solver",),
                                       timeout=120).stdout)
    assert rel["error"] is None and rel["done"] == 200
