"""The crash suite: every case must leave this process alive with a clear, correct message."""
import os
import textwrap

import pytest

import labsupport as lab
from labsupport.heap.glibc import glibc_version

# glibc's words for free() of a chunk whose size field is 0: "free(): invalid pointer" up to
# 2.41 (malloc.c:4558-4560 there: the size would wrap around the address space), "free():
# invalid size" from 2.42 (commit 9b0c8ced9c, "malloc: Improve free checks": malloc.c:3551-3554)
ZERO_SIZE_FREE = "free(): invalid size" if glibc_version() >= (2, 42) else "free(): invalid pointer"

CRASHES = textwrap.dedent(r"""
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    int null_write(void) { printf("before the write\n"); *(volatile int *)0 = 1; return 0; }
    void do_abort(void) { printf("unbuffered, so not lost"); abort(); }
    void invalid_free(void) { char *p = calloc(1, 64); free(p + 16); }   /* zeroed: a fixed fake header */
    void double_free(void) { char *volatile p = malloc(32); free(p); free(p); }
    static int deep(int n) { volatile char pad[512]; pad[0] = (char)n; return deep(n + 1) + pad[0]; }
    int stack_overflow(void) { return deep(0); }
    void spin(void) { for (;;) { } }
    long hog(void) { long mb = 0; for (;;) { char *p = malloc(1 << 20); if (!p) return mb; memset(p, 1, 1 << 20); mb++; } }
    void flood(void) { static char line[1000]; memset(line, 'x', 999); line[999] = '\n';
                       for (int i = 0; i < 100000; i++) fwrite(line, 1, 1000, stdout); }
    void leave(int code) { fprintf(stderr, "leaving with %d\n", code); exit(code); }
    int add(int a, int b) { return a + b; }
    long touch_mb(long mb) { for (long i = 0; i < mb; i++) { char *p = malloc(1 << 20); if (!p) return i;
                                                         memset(p, 1, 1 << 20); } return mb; }
    #include <unistd.h>
    int fork_loop(void) { for (int i = 0; i < 100000; i++) { if (fork() == 0) { pause(); _exit(0); } } return 0; }
    void chars(long n) { for (long i = 0; i < n; i++) putchar('a' + i % 26); }
    void half_line_then_crash(void) { printf("no newline yet"); fputs("err part", stderr); *(volatile int *)0 = 1; }
    const char *greet(void) { return "hello"; }
""")


@pytest.fixture(scope="module")
def c():
    return lab.build_c(CRASHES)


def test_value(c):
    r = lab.run_c(c, "add", 2, 3)
    assert r.ok and r.value == 5 and str(r).startswith("child finished normally")


def test_char_pointer_comes_back_as_bytes(c):
    assert lab.run_c(c, "greet").value == b"hello"


def test_null_write(c):
    r = lab.run_c(c, "null_write")
    assert r.signal == "SIGSEGV" and not r.ok and r.crashed
    assert "before the write" in r.stdout
    assert "segmentation fault" in str(r)


def test_abort_keeps_unbuffered_output(c):
    r = lab.run_c(c, "do_abort")
    assert r.signal == "SIGABRT" and "unbuffered, so not lost" in r.stdout


def test_invalid_free_real_glibc_message(c):
    r = lab.run_c(c, "invalid_free")
    assert r.signal == "SIGABRT" and r.stderr.strip().splitlines()[-1] == ZERO_SIZE_FREE


def test_double_free_real_glibc_message(c):
    # which check fires (tcache or fastbin) depends on the heap's history in the child
    r = lab.run_c(c, "double_free")
    assert r.signal == "SIGABRT" and "double free" in r.stderr


def test_double_free_in_a_fresh_program_is_deterministic():
    exe = lab.build_program([lab.example_path("00_start_here", "double_free.c")])
    r = lab.run_program([exe, "caught"])
    assert r.signal == "SIGABRT" and r.stderr == "free(): double free detected in tcache 2\n"
    assert "...and twice" in r.stdout
    r = lab.run_program([exe, "unnoticed"])
    assert r.ok and r.stdout.endswith("same memory? yes\n")


def test_stack_overflow(c):
    assert lab.run_c(c, "stack_overflow").signal == "SIGSEGV"


def test_infinite_loop_times_out(c):
    r = lab.run_c(c, "spin", timeout=1)
    assert r.timed_out and r.signal is None and r.returncode is None
    assert str(r).startswith("child timed out after 1 s")


def test_cpu_limit(c):
    r = lab.run_c(c, "spin", timeout=30, cpu_seconds=1)
    assert r.signal == "SIGXCPU" and not r.timed_out


def test_memory_hog_under_a_limit(c):
    r = lab.run_c(c, "hog", memory_mb=256)
    assert r.ok and 0 < r.value < 256          # malloc returned NULL before the cap


def test_python_memory_hog_raises_memoryerror():
    r = lab.run_python(lambda: bytearray(1 << 30), memory_mb=256)
    assert r.error and "MemoryError" in r.error and not r.ok


def test_hundred_megabytes_of_output_truncated_safely(c):
    r = lab.run_c(c, "flood", timeout=60)
    assert r.ok
    assert len(r.stdout) < 200_000
    assert "bytes of output omitted" in r.stdout
    assert r.stdout.startswith("x" * 999) and r.stdout.rstrip().endswith("x" * 999)


def test_nonzero_exit(c):
    r = lab.run_c(c, "leave", 3)
    assert r.returncode == 3 and r.signal is None and "leaving with 3" in r.stderr
    assert str(r).splitlines()[0] == "child exited with code 3"


def test_python_function_value_and_error():
    assert lab.run_python(lambda a, b=1: a * b, 6, b=7).value == 42
    r = lab.run_python(lambda: 1 / 0)
    assert "ZeroDivisionError" in r.error and r.returncode == 1


def test_python_sys_exit_code():
    import sys
    assert lab.run_python(lambda: sys.exit(4)).returncode == 4


def test_env_starts_a_fresh_interpreter(c):
    r = lab.run_python(lambda: os.environ.get("LAB_MARK"), env={"LAB_MARK": "yes"})
    assert r.value == "yes"
    r = lab.run_c(c, "double_free", env={"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"})
    assert r.signal == "SIGABRT" and "double free" in r.stderr and "tcache" not in r.stderr


def test_program_exit_output_and_input():
    r = lab.run_program(["sh", "-c", "read x; echo got $x; echo oops >&2; exit 4"], input="42\n")
    assert (r.returncode, r.stdout, r.stderr) == (4, "got 42\n", "oops\n")


def test_missing_program_is_reported():
    r = lab.run_program(["no-such-program-here"])
    assert r.returncode == 127 and "cannot start no-such-program-here" in r.stderr


def test_timeout_kills_the_whole_group():
    r = lab.run_program(["sh", "-c", "sleep 30 & sleep 30"], timeout=1)
    assert r.timed_out


def test_output_is_deterministic(c):
    a, b = str(lab.run_c(c, "invalid_free")), str(lab.run_c(c, "invalid_free"))
    assert a == b and str(os.getpid()) not in a and "0x" not in a


def test_fork_server_restarts_if_killed(c):
    from labsupport import isolate
    lab.run_c(c, "add", 1, 1)
    isolate._server.proc.kill()
    isolate._server.proc.wait()
    assert lab.run_c(c, "add", 1, 2).value == 3


def test_unknown_function_is_a_clear_error(c):
    with pytest.raises(AttributeError, match="no function 'nope'"):
        lab.run_c(c, "nope")


def test_interrupt_while_waiting_leaves_isolation_usable(c):
    import signal
    import threading
    import time

    def interrupt_soon():
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)
    # a test run started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: install it here
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_soon).start()
        with pytest.raises(KeyboardInterrupt):
            lab.run_c(c, "spin", timeout=30)
    finally:
        signal.signal(signal.SIGINT, old)
    assert lab.run_c(c, "add", 2, 2).value == 4


def test_child_sees_the_kernels_environment_now(monkeypatch):
    lab.run_python(lambda: None)                 # the fork server is already running
    monkeypatch.setenv("LAB_SET_LATER", "42")
    assert lab.run_python(lambda: os.environ.get("LAB_SET_LATER")).value == "42"


def test_default_memory_cap_stops_a_runaway_child(c):
    from labsupport import isolate
    r = lab.run_c(c, "touch_mb", 100_000, timeout=60, max_rss_mb=200)
    assert r.stopped_by == "memory" and r.signal == "SIGKILL" and not r.ok
    assert "stopped by the memory cap" in str(r) and "more than 200 MB" in str(r)
    assert 256 <= isolate.DEFAULT_MAX_RSS_MB <= 2048
    assert lab.run_c(c, "touch_mb", 300, timeout=60, max_rss_mb=None).value == 300   # lifted


def test_default_cap_applies_without_arguments(c, monkeypatch):
    from labsupport import isolate
    monkeypatch.setattr(isolate, "DEFAULT_MAX_RSS_MB", 150)
    r = lab.run_c(c, "touch_mb", 100_000, timeout=60)
    assert r.stopped_by == "memory" and r.cap == 150


def test_memory_cap_counts_grandchildren():
    r = lab.run_program(["sh", "-c", "python3 -c 'b = bytearray(400 << 20); import time; time.sleep(30)'"],
                        timeout=30, max_rss_mb=200)
    assert r.stopped_by == "memory"


def test_fork_loop_is_stopped_and_leaves_nothing(c):
    from labsupport import isolate
    r = lab.run_c(c, "fork_loop", timeout=30)
    assert r.stopped_by == "processes" and "stopped by the process cap" in str(r)
    assert isolate._descendants(isolate._server.proc.pid) == []


def test_a_setsid_grandchild_does_not_outlive_the_call(tmp_path):
    from labsupport import isolate
    pidfile = tmp_path / "pid"
    r = lab.run_program(["python3", "-c", f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open({str(pidfile)!r}, "w").write(str(os.getpid())); time.sleep(60)
    os._exit(0)
time.sleep(0.5)
"""], timeout=20)
    assert r.ok
    pid = int(pidfile.read_text())
    assert not isolate.pid_alive(pid)


def test_character_at_a_time_output_is_complete(c):
    r = lab.run_c(c, "chars", 70_000, timeout=60)     # under the 80 KiB kept in full
    assert r.ok and len(r.stdout) == 70_000 and r.stdout.startswith("abcdefghij")


def test_a_crash_keeps_a_line_still_in_the_buffer(c):
    r = lab.run_c(c, "half_line_then_crash")
    assert r.signal == "SIGSEGV"
    assert r.stdout == "no newline yet" and r.stderr == "err part"


def test_default_cap_follows_a_cgroup_limit(monkeypatch):
    from labsupport import isolate
    monkeypatch.setattr(isolate, "_cgroup_limit_mb", lambda: 2048)       # a hub's 2 GiB per user
    assert isolate._default_max_rss_mb() == 1024
    monkeypatch.setenv("MEM_LIMIT", str(1 << 30))                          # JupyterHub's MEM_LIMIT
    assert isolate._default_max_rss_mb() == 512
    monkeypatch.delenv("MEM_LIMIT")
    monkeypatch.setattr(isolate, "_cgroup_limit_mb", lambda: None)
    assert isolate._default_max_rss_mb() == min(2048, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 22))


def test_env_none_removes_a_variable(monkeypatch):
    """glibc reads an empty MALLOC_MMAP_THRESHOLD_ as 0: only removing it gives the default."""
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "0")
    monkeypatch.setenv("LAB_KEEP", "kept")
    r = lab.run_program(["sh", "-c", 'echo "[${MALLOC_MMAP_THRESHOLD_-unset}] $LAB_KEEP $LAB_NEW"'],
                        env={"MALLOC_MMAP_THRESHOLD_": None, "LAB_NEW": 7})
    assert r.stdout.strip() == "[unset] kept 7", r.stdout
    r = lab.run_python(lambda: __import__("os").environ.get("MALLOC_MMAP_THRESHOLD_", "unset"),
                       env={"MALLOC_MMAP_THRESHOLD_": None})
    assert r.value == "unset", r


def test_the_fork_server_loads_a_plain_module_once_and_never_a_constructor(c):
    """A module whose loading runs none of its code is loaded by the fork server once and inherited;
    one with a constructor is loaded in each child, so what the constructor prints is the call's."""
    import sys
    lab.run_c(c, "add", 1, 1)
    assert lab.run_python(lambda name: name in sys.modules, c.modname).value is True
    # write(2), not puts: where this process loads the module too, stdio would keep "hi" in its
    # buffer and print it when pytest exits, after the summary (seen in the chroot runs' logs)
    ctor = lab.build_c('#include <unistd.h>\n'
                       '__attribute__((constructor)) static void hi(void) { (void)!write(1, "hi\\n", 3); }\n'
                       'int one(void) { return 1; }\n')
    for _ in range(2):
        r = lab.run_c(ctor, "one")
        assert r.value == 1 and r.stdout == "hi\n"
    assert lab.run_python(lambda name: name in sys.modules, ctor.modname).value is False


def test_calls_share_one_folder_and_leave_nothing_behind(c, tmp_path):
    """One folder of call files per kernel: a call never sees the last one's output, and the folder
    goes when the kernel does, even one that ends without running its exit handlers."""
    import subprocess
    import sys
    import time
    r = lab.run_c(c, "leave", 0)
    assert r.stderr == "leaving with 0\n"
    r = lab.run_c(c, "add", 1, 2)
    assert (r.stdout, r.stderr, r.value) == ("", "", 3)
    out = subprocess.run([sys.executable, "-c", "import os, sys, labsupport as lab\n"
                          "from labsupport import isolate\n"
                          "assert lab.run_python(lambda: 7).value == 7\n"
                          "print(isolate._workdir(), flush=True); os._exit(0)"],
                         capture_output=True, text=True, check=True, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=str(lab.ROOT))).stdout.strip()
    for _ in range(100):
        if not os.path.exists(out):
            break
        time.sleep(0.05)
    assert out and not os.path.exists(out)


def test_child_follows_removed_variables_and_sys_path(monkeypatch, tmp_path):
    """The fork server takes the environment and sys.path only when they change: a variable set,
    then removed, and a folder put on sys.path, are each seen by the next child."""
    import sys
    monkeypatch.setenv("LAB_GONE_LATER", "1")
    assert lab.run_python(lambda: os.environ.get("LAB_GONE_LATER")).value == "1"
    monkeypatch.delenv("LAB_GONE_LATER")
    assert lab.run_python(lambda: os.environ.get("LAB_GONE_LATER", "unset")).value == "unset"
    monkeypatch.syspath_prepend(str(tmp_path))
    assert lab.run_python(lambda: sys.path[0]).value == str(tmp_path)


def test_a_large_result_comes_back_whole():
    r = lab.run_python(lambda n: bytes(range(256)) * n, 40_000)      # ~10 MB through the fork server
    assert r.ok and r.value == bytes(range(256)) * 40_000


def test_a_call_made_inside_an_isolated_child_leaves_no_folder():
    def nested():
        import os

        import labsupport as lab
        from labsupport import isolate
        folder = isolate._workdir()
        assert lab.run_python(lambda: 5).value == 5
        return folder, os.path.exists(folder), sorted(isolate._workdirs.values())
    r = lab.run_python(nested)
    assert r.ok, r
    folder, exists, left = r.value
    assert folder and not exists and left == []    # removed after the call, not left to its server
