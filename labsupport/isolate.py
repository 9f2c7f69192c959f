"""Run something that may crash, hang or eat memory in a child process, never in the kernel.

Three entry points, one result type:

- ``run_c(module, "func", *args)``   a function of a module built by ``build_c``
- ``run_python(fn, *args)``           any Python callable (sent with cloudpickle)
- ``run_program(argv)``               any program

How (measured, see benchmarks/bench_core.py): children are forked from a
*fork server*, a small single-threaded process started once per kernel.
Forking the kernel itself would be cheaper but the kernel is multi-threaded, and
a fork of a threaded process can deadlock (Python 3.12+ warns about it); a
fresh interpreter per call is safe but costs ~10x more. The forked child then:

- starts its own process group (so a timeout kills everything it started),
- sets limits: address space (``memory_mb``, optional), CPU seconds, no core
  files, a cap on file size so a runaway print cannot fill the disk,
- points fd 1 and 2 at files (C writes to the file descriptors, not to Python's
  ``sys.stdout``), line-buffers C stdout and installs a crash handler
  (``crashflush.c``) that writes what is still buffered before the process dies,
  so nothing is lost when it aborts and a character-at-a-time printer does not
  pay a system call per character.

What each call does not repeat: the server takes the kernel's environment and
``sys.path`` only when they changed (its children inherit them), loads a built
module once when loading it runs none of the module's code (no constructor, no
library not already loaded; see ``_runs_no_code_on_load``), so children inherit it
instead of loading it again. No file is created, emptied or removed for a call
without output (on ext4 each is a journal update, which under load waits
milliseconds): stdout and stderr go to two files in one folder per kernel, emptied
once read and removed with the kernel, and the result comes back in the fork
server's memory (a memfd the child writes and the server sends on).

While a child runs, the parent watches the whole tree of processes it started
(every 20 ms): a tree holding more than ``max_rss_mb`` of resident memory
(default: ``DEFAULT_MAX_RSS_MB``, a quarter of this machine's memory, at most
2 GiB) or more than ``max_processes`` processes (default 64) is killed, and the
result says which cap stopped it. The fork server is a *child subreaper*, so a
grandchild that leaves the process group (``setsid``) is still found, and
nothing a call started outlives the call. ``max_rss_mb=None`` lifts the cap.

With ``env=...`` the child instead starts a fresh interpreter (``sys.executable``,
the real binary) because ``LD_PRELOAD``, ``GLIBC_TUNABLES`` and ``MIMALLOC_*`` are
read only when a process starts. In ``env`` a value replaces the kernel's, ``None``
removes the variable.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import pickle
import resource
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import cloudpickle

from .toolchain import pid_alive

__all__ = ["DEFAULT_MAX_PROCESSES", "DEFAULT_MAX_RSS_MB", "SIGNAL_HELP", "RunResult", "pid_alive", "run_c",
           "run_program", "run_python"]

HEAD_BYTES = 64 * 1024       # keep this much of the start of a huge output ...
TAIL_BYTES = 16 * 1024       # ... and this much of its end
FILE_LIMIT = 1 << 30         # RLIMIT_FSIZE for the child: 1 GiB

def _cgroup_limit_mb() -> int | None:
    """The memory limit of this process's cgroup (v2 ``memory.max``, or v1), if any: on a
    JupyterHub or in a container that, not the machine, is what the learner has."""
    try:
        rel = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in rel:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0":
            candidates = [Path("/sys/fs/cgroup") / parts[2].lstrip("/") / "memory.max"]
        elif "memory" in parts[1].split(","):
            candidates = [Path("/sys/fs/cgroup/memory") / parts[2].lstrip("/") / "memory.limit_in_bytes"]
        else:
            continue
        for path in candidates:
            try:
                text = path.read_text().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < (1 << 50):
                return int(text) // (1 << 20)
    return None


def _default_max_rss_mb() -> int:
    """A quarter of this machine's memory, at most 2 GiB, and at most half of the
    cgroup's limit or of JupyterHub's ``MEM_LIMIT`` where there is one: a runaway loop in a
    learner's C stays far from the out-of-memory killer, which could otherwise pick
    the notebook kernel or, on a shared hub, the server."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):
        total = 8192
    cap = min(2048, total // 4)
    limit = _cgroup_limit_mb()
    hub = os.environ.get("MEM_LIMIT", "")          # JupyterHub's per-user limit, in bytes
    if hub.isdigit() and int(hub) > 0:
        limit = min(limit or 1 << 40, int(hub) // (1 << 20))
    if limit:
        cap = min(cap, limit // 2)
    return int(max(128, cap))


DEFAULT_MAX_RSS_MB = _default_max_rss_mb()
DEFAULT_MAX_PROCESSES = 64
WATCH_INTERVAL = 0.02        # seconds between two looks at the child's memory and processes
_DEFAULT = object()          # "the course's default cap" (None means no cap)

SIGNAL_HELP = {
    "SIGSEGV": "segmentation fault: the code touched memory it may not (NULL, freed, unmapped, "
               "or past the stack)",
    "SIGABRT": "abort: the program stopped itself, usually because the allocator (or an assert) "
               "found its data structures corrupted",
    "SIGBUS": "bus error: an access to a mapped page that has no backing, or a misaligned access "
              "the CPU refuses",
    "SIGFPE": "arithmetic error, such as an integer division by zero",
    "SIGILL": "illegal instruction (a trap such as __builtin_trap, or code for another CPU)",
    "SIGKILL": "killed outright (by the timeout, or by the kernel's out-of-memory killer)",
    "SIGXCPU": "CPU time limit exceeded (RLIMIT_CPU)",
    "SIGXFSZ": "file size limit exceeded",
    "SIGTRAP": "trap (a breakpoint or a debugger)",
    "SIGTERM": "asked to terminate",
}


@dataclass
class RunResult:
    """What happened in the child. Printing it is deterministic (no PIDs, addresses, times)."""

    returncode: int | None     # exit code when it exited; None when killed by a signal
    signal: str | None         # "SIGSEGV", ... or None
    timed_out: bool
    stdout: str
    stderr: str
    value: object = None       # the function's return value, when it returned
    error: str | None = None   # a Python exception raised in the child, as text
    timeout: float | None = None
    seconds: float = 0.0       # wall-clock time of the call (never printed)
    stopped_by: str | None = None   # "memory" or "processes" when a course cap killed it
    cap: float | None = None        # the value of that cap (MB or processes)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.error is None

    @property
    def crashed(self) -> bool:
        return self.signal is not None and not self.timed_out

    def status(self) -> str:
        """One line: how the child ended, with a plain-words explanation."""
        if self.timed_out:
            return f"timed out after {self.timeout:g} s: the child was killed (an endless loop, or it blocked)"
        if self.stopped_by == "memory":
            return (f"stopped by the memory cap: its processes held more than {self.cap:,.0f} MB of "
                    f"resident memory, so they were killed (pass max_rss_mb=... to raise the cap, "
                    f"max_rss_mb=None to lift it)")
        if self.stopped_by == "processes":
            return (f"stopped by the process cap: it started more than {self.cap:,.0f} processes "
                    f"(a fork loop?), so all of them were killed (max_processes=... raises the cap)")
        if self.signal:
            return f"killed by {self.signal}: {SIGNAL_HELP.get(self.signal, 'a signal')}"
        if self.error:
            return f"raised {self.error.strip().splitlines()[-1]}"
        if self.returncode == 0:
            return "finished normally (exit code 0)"
        return f"exited with code {self.returncode}"

    def __str__(self) -> str:
        lines = [f"child {self.status()}"]
        if self.value is not None:
            lines.append(f"returned: {self.value!r}")
        for name in ("stdout", "stderr"):
            text = getattr(self, name).rstrip("\n")
            if text:
                lines.append(f"{name}:")
                lines += ["  | " + line for line in text.splitlines()]
        if self.error and len(self.error.strip().splitlines()) > 1:
            lines.append("exception:")
            lines += ["  | " + line for line in self.error.rstrip().splitlines()]
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


# --------------------------------------------------------------------------- child side


def _tasks_now() -> int:
    """The system's number of tasks now (/proc/loadavg's 4th field, after the slash)."""
    with open("/proc/loadavg", "rb") as f:
        return int(f.read().split()[3].split(b"/")[1])


def _apply_limits(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    if limits.get("memory_mb"):
        n = int(limits["memory_mb"] * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (n, n))
    if limits.get("cpu_seconds"):
        s = int(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (s, s + 1))
    if limits.get("max_processes") and os.getuid() != 0:
        # RLIMIT_NPROC counts every task of the user; the system's total number of
        # tasks (/proc/loadavg, 4th field) bounds what the user has now. Root ignores it:
        # there the parent's watch is what stops a fork loop.
        try:
            n = _tasks_now() + int(limits["max_processes"])
            soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
            if hard == resource.RLIM_INFINITY or n < hard:
                resource.setrlimit(resource.RLIMIT_NPROC, (n, hard))
        except (OSError, ValueError, IndexError):
            pass


_crash_flush = None          # the loaded crashflush.c helper (ctypes), or None


def _load_crash_flush():
    """Build (once per machine, cached) and load the crash-flush helper; None without gcc."""
    import hashlib
    import subprocess
    src = Path(__file__).with_name("crashflush.c")
    try:
        from .toolchain import cache_dir
        text = src.read_bytes()
        key = hashlib.sha256(text + sys.version.encode()).hexdigest()[:16]
        so = cache_dir() / "isolate" / f"crashflush-{key}.so"
        if not so.exists():
            so.parent.mkdir(parents=True, exist_ok=True)
            tmp = so.with_suffix(f".{os.getpid()}.tmp")
            subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(tmp), str(src)],
                           check=True, capture_output=True, timeout=60)
            os.replace(tmp, so)
        lib = ctypes.CDLL(str(so))
        lib.labsupport_crash_flush_install.restype = ctypes.c_int
        return lib
    except Exception:                      # noqa: BLE001 - fall back to unbuffered stdio
        return None


def _unbuffer_c_stdio() -> None:
    """Line-buffered C stdout plus the crash handler; plain unbuffered stdio without it."""
    if _crash_flush is not None and _crash_flush.labsupport_crash_flush_install() == 0:
        return
    libc = ctypes.CDLL(None)
    for name in ("stdout", "stderr"):
        try:
            stream = ctypes.c_void_p.in_dll(libc, name)
            libc.setvbuf(stream, None, 2, 0)   # _IONBF
        except (ValueError, AttributeError):
            pass


_fflush = None               # libc's fflush, looked up once by the fork server (or per call)


def _flush_c_stdio() -> None:
    """os._exit() skips C's exit handlers: flush C stdio by hand first."""
    try:
        (_fflush or ctypes.CDLL(None).fflush)(None)
    except (OSError, AttributeError):
        pass


def _redirect(spec: dict) -> None:
    fd_in = os.open(spec["stdin"] or os.devnull, os.O_RDONLY)
    os.dup2(fd_in, 0)
    # the parent left out and err empty (no O_TRUNC: on ext4 even truncating an empty file
    # updates its times through the journal, which under load can wait milliseconds)
    for fd, path in ((1, spec["out"]), (2, spec["err"])):
        f = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(f, fd)
        os.close(f)


def _line_buffer_python_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True, write_through=True)
        except (AttributeError, ValueError):
            pass


def _to_plain(ffi, value):
    """A C return value as a picklable Python value (pointers are never sent as addresses)."""
    if not isinstance(value, ffi.CData):
        return value
    ctype = ffi.typeof(value)
    if ctype.kind == "pointer":
        if value == ffi.NULL:
            return None
        if ctype.item.cname in ("char", "const char"):
            return ffi.string(value)
        return f"<{ctype.cname} pointer>"
    return f"<{ctype.cname}>"


def _describe_exception(exc: BaseException) -> str:
    """The exception and the learner's frames, without file paths (they vary per kernel)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(here)]
    lines = [f"  in {f.name}, line {f.lineno}: {(f.line or '').strip()}" for f in frames[-3:]]
    return "\n".join(lines + traceback.format_exception_only(type(exc), exc)).rstrip()


def _call(spec: dict):
    if spec["kind"] == "python":
        fn = cloudpickle.loads(spec["payload"])
        return fn(*spec["args"], **spec["kwargs"])
    if spec["kind"] == "c":
        modname, path, func = spec["payload"]
        mod = sys.modules.get(modname)           # loaded by the fork server
        if mod is None:
            from .cbuild import load_module      # the one way a built module is loaded
            mod = load_module(modname, path)
        return _to_plain(mod.ffi, getattr(mod.lib, func)(*spec["args"]))
    raise ValueError(spec["kind"])


def _run_and_report(spec: dict) -> int:
    """Call the payload, write {'value'|'error'} to the result file, return the exit code.
    C and Python stdio are already set up (by the fork server, which the child inherits, or by
    ``_fresh_main``)."""
    try:
        out = {"value": _call(spec)}
    except SystemExit as exc:
        sys.stdout.flush()
        _flush_c_stdio()
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:          # noqa: BLE001 - report everything else
        out = {"error": _describe_exception(exc)}
    try:
        data = pickle.dumps(out)
    except Exception as exc:              # an unpicklable return value
        data = pickle.dumps({"value": f"<unpicklable {type(out.get('value')).__name__}: {exc}>"})
    fd = spec.get("result_fd")
    if fd is not None:                    # the fork server's in-memory file, read back by the server
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    else:
        with open(spec["result"], "wb") as f:
            f.write(data)
    sys.stdout.flush()
    sys.stderr.flush()
    _flush_c_stdio()
    return 1 if "error" in out else 0


_in_isolated_child = False   # True in a child: a call it makes itself cleans up its own folder


def _child_main(spec: dict) -> int:
    """Runs in the forked child; returns its exit code (or execs, or dies of a signal)."""
    global _in_isolated_child
    _in_isolated_child = True
    os.setpgrp()
    _apply_limits(spec["limits"])
    _redirect(spec)                      # sys.path and the environment: the server's, set by _adopt
    os.chdir(spec["cwd"])
    if spec["kind"] == "exec":
        argv, env = spec["payload"]
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as exc:
            os.write(2, f"cannot start {argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    return _run_and_report(spec)


def _fresh_main(spec_path: str) -> None:
    """Entry point of a fresh interpreter (``python -m labsupport._runner SPEC``)."""
    global _crash_flush, _in_isolated_child
    _in_isolated_child = True
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    sys.path[:] = spec["sys_path"]
    _crash_flush = _load_crash_flush()
    _unbuffer_c_stdio()
    sys.exit(_run_and_report(spec))


# --------------------------------------------------------------------------- the fork server
#
# A small single-threaded Python process, started once per kernel, that forks a
# child for every request. Protocol on a socketpair, one request at a time:
# parent -> server: pickled spec (length-prefixed); server -> parent: the child's
# pid, then its wait status when it ends. The parent enforces the timeout by
# killing the child's process group; the server only waits.


def _send(sock, obj) -> None:
    data = pickle.dumps(obj)
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv(sock):
    head = _recv_exact(sock, 4)
    return pickle.loads(_recv_exact(sock, struct.unpack("!I", head)[0]))


def _recv_exact(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("fork server closed the connection")
        buf += chunk
    return buf


def _adopt(spec: dict) -> None:
    """In the fork server: take the kernel's environment and ``sys.path`` when the request
    carries them (the parent sends them only when they changed), so a child inherits them as
    they are in the kernel now, without restoring them itself."""
    env = spec.get("environ")
    if env is not None:
        for k in [k for k in os.environ if k not in env]:
            del os.environ[k]
        for k, v in env.items():
            if os.environ.get(k) != v:
                os.environ[k] = v
    if spec.get("sys_path") is not None:
        sys.path[:] = spec["sys_path"]


_PRELOAD_MAX = 64           # built modules the fork server loads for its children, at most
_preload_tried: set[str] = set()


def _runs_no_code_on_load(path: str) -> bool:
    """True when loading the ELF shared object ``path`` runs none of its own code and no new
    library's: at most one ``.init_array`` entry (crtbegin's ``frame_dummy``; a
    ``__attribute__((constructor))`` adds one), no ``.preinit_array``, and every ``DT_NEEDED``
    library already loaded in this process. Such a module can be loaded by the fork server once
    and inherited by every child, which then sees exactly what loading it itself would give,
    output included."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:6] != b"\x7fELF\x02\x01":                    # ELF64, little-endian
            return False
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        loads, dyn = [], None
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
            if p_type == 1:                                      # PT_LOAD
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == 2:                                    # PT_DYNAMIC
                dyn = (p_offset, p_filesz)
        if dyn is None:
            return False
        needed, strtab, has_init = [], None, False
        for off in range(dyn[0], dyn[0] + dyn[1] - 15, 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 0:                                         # DT_NULL
                break
            if tag == 1:                                         # DT_NEEDED
                needed.append(val)
            elif tag == 5:                                       # DT_STRTAB
                strtab = val
            elif tag == 12:                                      # DT_INIT: the start files' _init
                has_init = True
            elif (tag == 27 and val > 8) or (tag == 33 and val > 0):    # DT_INIT_ARRAYSZ, DT_PREINIT_ARRAYSZ
                return False
        if not has_init or strtab is None:
            return False
        base = next(o + strtab - v for v, o, n in loads if v <= strtab < v + n)
        names = {data[base + i:data.index(b"\0", base + i)].decode() for i in needed}
        with open("/proc/self/maps") as f:
            mapped = {line.rsplit("/", 1)[-1].strip() for line in f if "/" in line}
        return names <= mapped
    except (OSError, ValueError, struct.error, StopIteration, UnicodeDecodeError):
        return False


def _preload(modname: str, path: str, func: str) -> None:
    """In the fork server: load a built module once, when that runs none of the learner's code
    (``_runs_no_code_on_load``), so its children inherit it instead of each loading it again."""
    if path not in _preload_tried and modname not in sys.modules and len(_preload_tried) < _PRELOAD_MAX:
        _preload_tried.add(path)
        if _runs_no_code_on_load(path):
            from .cbuild import load_module
            try:
                load_module(modname, path)
            except Exception:              # noqa: BLE001 - the child loads it and reports why
                sys.modules.pop(modname, None)
    if path in _preload_tried and modname in sys.modules:
        try:
            getattr(sys.modules[modname].lib, func)   # cffi makes a function's object on first use
        except Exception:                  # noqa: BLE001 - the child reports it
            pass


def _server_main(fd: int, workdir: str | None = None) -> None:
    """The fork server's loop (``python -m labsupport._runner --server FD [WORKDIR]``); when the
    kernel goes (the socket closes), it removes the kernel's folder of call files."""
    import socket
    global _crash_flush
    sock = socket.socket(fileno=fd)
    import cffi  # noqa: F401  - preloaded so a child imports a C module in < 1 ms
    _crash_flush = _load_crash_flush()
    global _fflush
    _fflush = ctypes.CDLL(None).fflush
    _unbuffer_c_stdio()          # C stdout line-buffered and the crash handler, for every child to inherit
    _line_buffer_python_stdio()  # (the server itself never writes to C stdio)
    _become_subreaper()
    _trim()
    try:                         # the children's results, in memory: no file created per call
        result_fd = os.memfd_create("labsupport-result", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        result_fd = None
    while True:
        try:
            spec = _recv(sock)
        except EOFError:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            os._exit(0)
        _adopt(spec)
        if spec["kind"] == "c":
            _preload(*spec["payload"])
        via_server = bool(spec.get("result_via_server")) and result_fd is not None
        if via_server:
            os.ftruncate(result_fd, 0)
            os.lseek(result_fd, 0, os.SEEK_SET)
            spec["result_fd"] = result_fd
        pid = os.fork()
        if pid == 0:
            sock.close()
            code = 1
            try:
                code = _child_main(spec)
            finally:
                os._exit(code)
        _send(sock, pid)
        _, status = os.waitpid(pid, 0)
        _reap_orphans()                  # before the parent hears it ended: nothing outlives a call
        if via_server:                   # (a parent that did not ask gets the status alone)
            data = os.pread(result_fd, os.fstat(result_fd).st_size, 0)
            os.ftruncate(result_fd, 0)   # not kept in memory until the next call
            _send(sock, (status, data))
            del data
        else:
            _send(sock, status)


def _trim() -> None:
    """Give back the memory start-up freed (about 1.5 of 15 MB here): every fork copies the page
    tables of what is resident, so a smaller server forks faster."""
    import gc
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):      # not glibc
        pass


def _become_subreaper() -> None:
    """Orphaned grandchildren (a ``setsid`` daemon, say) become this server's children."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)    # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans() -> None:
    """Kill and reap every process left over from the call that just ended."""
    me = os.getpid()
    for _ in range(200):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return               # no child at all, so nothing below (orphans come to this subreaper)
            if pid == 0:
                break
        left = _descendants(me)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not left:
            return
        time.sleep(0.005)


def _children(pid: int) -> list[int]:
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
    return kids


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; empty elsewhere)."""
    found, todo = [], [pid]
    while todo and len(found) < 100_000:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


def _rss_mb(pids: list[int]) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total * page / (1 << 20)


def _kill_tree(root: int, group: int) -> None:
    """SIGKILL the child's group and every process below the server, until none is left."""
    _kill_group(group)
    for _ in range(200):
        left = _descendants(root)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.002)


def _merged_env(extra: dict) -> dict:
    """The kernel's environment with ``extra`` applied: a value replaces, ``None`` removes
    (glibc reads an empty ``MALLOC_MMAP_THRESHOLD_`` as 0, so only removing undoes it)."""
    env = dict(os.environ)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _with_labsupport_importable(env: dict) -> dict:
    """``env`` with this package's folder first on PYTHONPATH, for a child interpreter."""
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
    return env


class _Server:
    def __init__(self):
        import socket
        import subprocess
        self.sock, theirs = socket.socketpair()
        self.environ = self.sys_path = None      # what this server last adopted
        env = _with_labsupport_importable(dict(os.environ))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labsupport._runner", "--server", str(theirs.fileno()), _workdir()],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


_server: _Server | None = None
_lock = threading.RLock()      # held by _run around a call and by _start_and_wait inside it
_workdirs: dict[int, str] = {}     # pid -> this process's folder of call files (out, err, result, ...)


def _workdir(renew: bool = False) -> str:
    """The folder this process's calls use, one call at a time (``_lock``): made once, not per
    call; removed at exit, or by the fork server when this process is gone without exiting."""
    pid = os.getpid()
    if renew or pid not in _workdirs:
        path = _workdirs[pid] = tempfile.mkdtemp(prefix="labrun-")
        atexit.register(_remove_workdir, pid, path)
    return _workdirs[pid]


def _remove_workdir(pid: int, path: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


_dirty: set[int] = set()           # pids whose last call's out/err may not have been emptied


def _call_files() -> dict:
    """out, err and result for the next call. out and err are empty: ``_read_capped`` empties
    what it read, and a call that did not get that far (``_dirty``) is cleaned up here; the
    child creates them if needed. No file is created, emptied or removed for a call without
    output (on ext4 each of those is a journal update, which under load can wait milliseconds);
    the result comes back through the fork server unless a fresh interpreter writes it."""
    d = _workdir()
    if not os.path.isdir(d):              # removed (a temp cleaner): a new folder
        d = _workdir(renew=True)
    files = dict(out=os.path.join(d, "out"), err=os.path.join(d, "err"), result=os.path.join(d, "result"))
    pid = os.getpid()
    if pid in _dirty:
        for name in ("out", "err", "result"):
            try:
                os.truncate(files[name], 0)
            except FileNotFoundError:
                pass
    _dirty.add(pid)
    return files


def _server_for_call() -> _Server:
    global _server
    if _server is None or not _server.alive():
        _server = _Server()
    return _server


def _request(srv: _Server, spec: dict) -> int:
    """Send a call to the fork server, with the environment and sys.path only when they differ
    from what it last took; returns the child's pid."""
    msg = dict(spec)
    if spec["environ"] == srv.environ:
        msg["environ"] = None
    if spec["sys_path"] == srv.sys_path:
        msg["sys_path"] = None
    _send(srv.sock, msg)
    srv.environ, srv.sys_path = spec["environ"], spec["sys_path"]
    return _recv(srv.sock)


def _start_and_wait(spec: dict, timeout: float, max_rss_mb=None, max_processes=None):
    """Run spec in a forked child, watching its memory and processes.

    Returns (exit code, signal name, timed out, stopped_by, the result's bytes from the fork
    server or None)."""
    import select
    global _server
    stopped_by = None
    with _lock:
        srv = _server_for_call()
        pid = None
        try:
            try:
                pid = _request(srv, spec)
            except (EOFError, OSError):     # server gone (killed?): start a new one once
                srv = _server_for_call()
                pid = _request(srv, spec)
            deadline = time.monotonic() + timeout
            timed_out = False
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([srv.sock], [], [], min(left, WATCH_INTERVAL))
                if ready:
                    break
                tree = _descendants(srv.proc.pid)
                if max_processes and len(tree) > max_processes:
                    stopped_by = "processes"
                    break
                if max_rss_mb and _rss_mb(tree) > max_rss_mb:
                    stopped_by = "memory"
                    break
            if timed_out or stopped_by:
                _kill_tree(srv.proc.pid, pid)
            status = _recv(srv.sock)
            data = None
            if isinstance(status, tuple):   # (wait status, the result the child wrote)
                status, data = status
            _kill_group(pid)            # anything the child left running in its group
        except BaseException:
            # interrupted (Kernel -> Interrupt) or the protocol broke: kill the child and
            # drop this server so the next call starts clean and in step
            if pid is not None:
                _kill_group(pid)
            srv.proc.kill()
            _server = None
            raise
    if os.WIFSIGNALED(status):
        return None, _signal_name(os.WTERMSIG(status)), timed_out, stopped_by, data
    return os.WEXITSTATUS(status), None, timed_out, stopped_by, data


def _take_file(path: str) -> bytes:
    """A file's bytes, and the file left empty (an empty or missing file is not touched)."""
    try:
        if os.path.getsize(path) == 0:
            return b""
    except OSError:
        return b""
    try:
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.truncate(path, 0)


def _read_capped(path: str) -> str:
    """A child's output, and the file left empty for the next call (the folder stays)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    if size == 0:
        return ""
    try:
        with open(path, "rb") as f:
            if size <= HEAD_BYTES + TAIL_BYTES:
                data = f.read()
            else:
                head = f.read(HEAD_BYTES)
                f.seek(size - TAIL_BYTES)
                tail = f.read()
                omitted = size - HEAD_BYTES - TAIL_BYTES
                data = head + f"\n[... {omitted:,} bytes of output omitted ...]\n".encode() + tail
    finally:
        os.truncate(path, 0)
    return data.decode("utf-8", errors="replace")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _run(kind: str, payload, args=(), kwargs=None, *, timeout=10.0, memory_mb=None,
         cpu_seconds=None, env=None, cwd=None, input=None, max_rss_mb=_DEFAULT,
         max_processes=_DEFAULT) -> RunResult:
    if max_rss_mb is _DEFAULT:
        max_rss_mb = DEFAULT_MAX_RSS_MB
    if max_processes is _DEFAULT:
        max_processes = DEFAULT_MAX_PROCESSES
    with _lock:                          # one call at a time uses this process's call files
        try:
            return _run_locked(kind, payload, args, kwargs, timeout, memory_mb, cpu_seconds, env, cwd,
                               input, max_rss_mb, max_processes)
        finally:
            if _in_isolated_child:       # a call made inside an isolated child: its fork server is
                shutil.rmtree(_workdirs.pop(os.getpid(), ""), ignore_errors=True)   # killed with it


def _run_locked(kind, payload, args, kwargs, timeout, memory_mb, cpu_seconds, env, cwd, input,
                max_rss_mb, max_processes) -> RunResult:
    files = _call_files()
    tmp = os.path.dirname(files["out"])
    spec = dict(kind=kind, payload=payload, args=tuple(args), kwargs=kwargs or {}, **files, stdin=None,
                cwd=os.path.abspath(cwd) if cwd else os.getcwd(), sys_path=list(sys.path),
                environ=dict(os.environ),
                limits=dict(memory_mb=memory_mb, cpu_seconds=cpu_seconds,
                            max_processes=max_processes))
    if input is not None:
        spec["stdin"] = os.path.join(tmp, "in")
        Path(spec["stdin"]).write_bytes(input.encode() if isinstance(input, str) else input)
    if env is not None and kind != "exec":
        # a fresh interpreter, so start-up-time variables take effect; it writes the result file
        spec_path = os.path.join(tmp, "spec")
        with open(spec_path, "wb") as f:
            pickle.dump(spec, f)
        child_env = _with_labsupport_importable(_merged_env(env))
        spec = dict(spec, kind="exec",
                    payload=([sys.executable, "-m", "labsupport._runner", spec_path], child_env))
    elif kind == "exec":
        argv, extra = payload
        spec["payload"] = (list(map(str, argv)), _merged_env(extra or {}))
    else:
        spec["result_via_server"] = True
    t0 = time.perf_counter()
    code, sig, timed_out, stopped_by, data = _start_and_wait(spec, timeout, max_rss_mb, max_processes)
    seconds = time.perf_counter() - t0
    value = error = None
    if data is None:                 # written to the result file (a fresh interpreter; no memfd)
        data = _take_file(spec["result"])
    if not timed_out:
        try:
            if data:                 # empty: a program, or a child that never got to return
                res = pickle.loads(data)
                value, error = res.get("value"), res.get("error")
        except Exception as exc:     # a child killed while writing
            error = f"result unreadable: {exc}"
    if timed_out:
        sig = None
    stdout, stderr = _read_capped(spec["out"]), _read_capped(spec["err"])
    _dirty.discard(os.getpid())      # all three read and left empty
    return RunResult(returncode=None if (sig or timed_out) else code, signal=sig,
                     timed_out=timed_out, stdout=stdout, stderr=stderr, value=value, error=error,
                     timeout=timeout, seconds=seconds, stopped_by=stopped_by,
                     cap={"memory": max_rss_mb, "processes": max_processes}.get(stopped_by))


def run_python(fn, *args, timeout: float = 10.0, memory_mb: float | None = None,
               cpu_seconds: int | None = None, env: dict | None = None,
               max_rss_mb=_DEFAULT, max_processes=_DEFAULT, **kwargs) -> RunResult:
    """Call ``fn(*args, **kwargs)`` in an isolated child; see the module docstring.

    ``memory_mb`` caps the child's address space (RLIMIT_AS: malloc returns NULL);
    ``max_rss_mb`` (default ``DEFAULT_MAX_RSS_MB``, None = no cap) kills the whole
    tree when its resident memory passes the cap; ``max_processes`` likewise for
    the number of processes it starts.
    """
    return _run("python", cloudpickle.dumps(fn), args, kwargs, timeout=timeout,
                memory_mb=memory_mb, cpu_seconds=cpu_seconds, env=env,
                max_rss_mb=max_rss_mb, max_processes=max_processes)


def run_c(module, func: str, *args, timeout: float = 10.0, memory_mb: float | None = None,
          cpu_seconds: int | None = None, env: dict | None = None,
          max_rss_mb=_DEFAULT, max_processes=_DEFAULT) -> RunResult:
    """Call C function ``func`` of a module from ``build_c`` in an isolated child.

    Arguments: ints, floats, bytes (for ``char *``). A ``char *`` result comes
    back as bytes; other pointers as a description, never as an address.
    Limits as for ``run_python``.
    """
    if func not in module.functions:
        raise AttributeError(f"the C module has no function {func!r}; it has: {', '.join(module.functions)}")
    return _run("c", (module.modname, module.path, func), args, timeout=timeout,
                memory_mb=memory_mb, cpu_seconds=cpu_seconds, env=env,
                max_rss_mb=max_rss_mb, max_processes=max_processes)


def run_program(argv, timeout: float = 10.0, memory_mb: float | None = None,
                cpu_seconds: int | None = None, env: dict | None = None, cwd=None,
                input: str | bytes | None = None, max_rss_mb=_DEFAULT,
                max_processes=_DEFAULT) -> RunResult:
    """Run a program (argv list) in an isolated child; ``env`` adds to the environment
    (``None`` removes a variable). Limits as for ``run_python``."""
    if isinstance(argv, (str, os.PathLike)):
        argv = [argv]
    return _run("exec", (list(argv), env), timeout=timeout, memory_mb=memory_mb,
                cpu_seconds=cpu_seconds, cwd=cwd, input=input, max_rss_mb=max_rss_mb,
                max_processes=max_processes)

