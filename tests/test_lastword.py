"""A learner's own crashes: isolated modules raise; a direct crash leaves a last word."""
import os
import queue
import uuid

import pytest

import labsupport as lab
from labsupport.heap.glibc import glibc_version

# glibc's words for free() of a chunk whose size field is 0: "invalid pointer" up to 2.41,
# "invalid size" from 2.42 (commit 9b0c8ced9c, "malloc: Improve free checks")
ZERO_SIZE_FREE = "free(): invalid size" if glibc_version() >= (2, 42) else "free(): invalid pointer"

SRC = r"""
#include <stdio.h>
#include <stdlib.h>
int add(int a, int b) { return a + b; }
int write_null(void) { printf("about to write\n"); *(volatile int *)0 = 1; return 0; }
void bad_free(void) { char *p = calloc(1, 64); free(p + 16); }   /* zeroed: a fixed fake header */
int *give(void) { static int x = 5; return &x; }
int deref(int *p) { return *p; }
"""


def test_isolated_module_raises_instead_of_dying(capsys):
    c = lab.build_c(SRC, isolate=True)
    assert c.add(2, 3) == 5
    with pytest.raises(lab.IsolatedCallError, match="SIGSEGV") as info:
        c.write_null()
    assert info.value.result.signal == "SIGSEGV"
    assert "the kernel and its variables are fine" in str(info.value)
    assert "about to write" in capsys.readouterr().out           # the child's output is shown
    with pytest.raises(lab.IsolatedCallError, match="SIGABRT") as info:
        c.bad_free()
    assert ZERO_SIZE_FREE in str(info.value)                    # glibc's own words


def test_isolated_module_refuses_kernel_pointers():
    c = lab.build_c(SRC, isolate=True)
    with pytest.raises(TypeError, match="cannot be passed to an isolated call"):
        c.deref(c.direct_lib.give())
    assert c.direct_lib.deref(c.direct_lib.give()) == 5            # the explicit direct path
    with pytest.raises(AttributeError, match=r"call c.give\(...\) instead"):
        c.lib.give()                                               # no silent direct path


def test_magic_isolate_option():
    from labsupport.magics import cffi_magic
    ns = {}
    cffi_magic("m --isolate --timeout 2", SRC, ns)
    assert ns["m"].isolated and ns["m"].timeout == 2.0
    with pytest.raises(lab.IsolatedCallError):
        ns["m"].write_null()


def test_place_an_address():
    from labsupport.lastword import _place
    maps = ["55d0a0000000-55d0a0021000 rw-p 00000000 00:00 0 [heap]",
            "7ffd10000000-7ffd10021000 rw-p 00000000 00:00 0 [stack]",
            "7f0000000000-7f0000001000 r--p 00000000 08:01 42 /usr/lib/libc.so.6"]
    assert _place(8, maps).startswith("NULL + 8")
    assert "the heap" in _place(0x55d0a0000010, maps)
    assert "stack overflow" in _place(0x7ffd10000000 - 100, maps)
    assert "no write permission" in _place(0x7f0000000004, maps) and "libc.so.6" in _place(0x7f0000000004, maps)
    assert "no mapping" in _place(0x1234567890, maps)


def _kernel(env):
    from jupyter_client.manager import KernelManager
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(lab.ROOT))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def _run(kc, code, timeout=60):
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))
    try:
        kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    except (TimeoutError, queue.Empty):
        out.append("<no reply>")
    return "".join(out)


def test_a_direct_crash_is_reported_by_the_next_kernel_once(tmp_path):
    env = {**os.environ, "LABSUPPORT_CACHE": str(tmp_path), "JPY_SESSION_NAME": f"nb-{uuid.uuid4()}.ipynb"}
    env.pop("MPLBACKEND", None)
    km, kc = _kernel(env)
    try:
        _run(kc, "import labsupport as lab\nc = lab.build_c(" + repr(SRC) + ")")
        _run(kc, "c.write_null()", timeout=20)
        for _ in range(100):
            if not km.is_alive():
                break
            import time
            time.sleep(0.1)
        assert not km.is_alive()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    km, kc = _kernel(env)
    try:
        text = _run(kc, "import labsupport")
        assert "died of SIGSEGV in write_null() from cell 2" in text, text
        assert "NULL + 0" in text and "lab.run_c" in text
        assert _run(kc, "import importlib, labsupport; importlib.reload(labsupport)") == ""
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    km, kc = _kernel(env)                    # a normal shutdown leaves nothing to report
    try:
        assert _run(kc, "import labsupport") == ""
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert list((tmp_path / "lastword").glob("*.rec")) == []
