# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Virtual memory: reserve and commit, mapped files, and why "memory used" is several numbers
#
# A pointer is an address in a *virtual* address space: a range of numbers the
# processor translates, page by page (4 KiB here), into physical memory — or into
# nothing yet. This lesson looks at that space for real: what is mapped in a small C
# program and what backs each piece, how asking for memory and *using* it are two
# different events, how files become memory, and why a single process has half a
# dozen honest answers to "how much memory does it use?".
#
# **You will learn to**
# - read a process's memory map (`/proc/PID/maps`, `smaps`) and say what backs every
#   region: the program, each shared library, the heap, the stack, anonymous memory,
#   the kernel's vdso;
# - reserve address space that costs nothing, commit it (Linux charges the commit,
#   as Windows does), and predict exactly how many page faults and how much resident
#   memory touching it costs (exercise 1); do the same with Windows' `VirtualAlloc`
#   (under Wine);
# - tell overcommit from the commit limit, say what each `vm.overcommit_memory` mode
#   refuses, and watch a child that uses more than its cap get stopped, without
#   risking the machine;
# - map a file, count the faults that read it, share a mapping between two processes,
#   and watch a private mapping copy a page on write;
# - read VSZ, RSS, PSS, USS, anonymous + swap and Windows' private bytes / working set /
#   commit charge, and know which one to watch for a leak;
# - hit a guard page on purpose and read where the fault was; write an allocator that
#   reserves a large region and commits it on demand (exercise 2).
#
# **Time:** about 75 minutes. **Builds on:** 00 (isolated runs), 01 (pages vs heaps;
# glibc's mmap threshold).

# %% [markdown]
# ## Setup
#
# The C programs are in `native_examples/03_virtual_memory/` (a README there lists
# them). Each runs as a program of its own through `lab.run_program`: a fresh process
# every time, with a time limit and the course's memory cap. Builds are cached.

# %%
import os
import re
import resource
import statistics

import labsupport as lab
# %load_ext labsupport
from labsupport import addrspace, winlab
from labsupport.addrspace import human

SRC = lab.example_path("03_virtual_memory")
OUT = winlab.workdir("03")
PAGE = os.sysconf("SC_PAGE_SIZE")
print("page size:", PAGE, "bytes")


def program(name, *ldflags, cflags=("-O1",)):
    """Build native_examples/03_virtual_memory/NAME.c into a program (cached)."""
    return lab.build_program([SRC / f"{name}.c"], cflags=cflags, ldflags=ldflags)


LIFECYCLE = program("lifecycle", "-ldl")
RESERVE = program("reserve")
OVERCOMMIT = program("overcommit")
MAPFILE = program("mapfile")
GUARD = program("guard", cflags=("-O0",))
# numbers.c links a small shared library; both go into one folder so it is found ($ORIGIN)
winlab.build([SRC / "libtable.c"], OUT / "libtable.so", compiler="gcc", shared=True, cflags=["-O1"])
NUMBERS = winlab.build([SRC / "numbers.c"], OUT / "numbers", compiler="gcc", cflags=["-O1"],
                       ldflags=[f"-L{OUT}", "-ltable", "-Wl,-rpath,$ORIGIN"])
print("built:", ", ".join(p.name for p in (LIFECYCLE, RESERVE, OVERCOMMIT, MAPFILE, GUARD, NUMBERS)))

# %% [markdown]
# ## 1. What is in a process's address space?
#
# `lifecycle.c` copies its own `/proc/self/smaps` — the kernel's list of the
# process's mappings, one *region* per line with its sizes below — at four moments:
# just after `main` starts, after `malloc(64 MiB)` (writing only the first 8 MiB),
# after `dlopen("libz.so.1")`, and after mapping a 4 MiB file and reading it.
#
# **Predict:** a C program that has done nothing yet. How many separate regions does
# it have: about 3 (code, heap, stack), about 10, or more than 20? Which files are mapped?

# %%
snapdir = OUT / "lifecycle"
snapdir.mkdir(exist_ok=True)
datafile = OUT / "data.bin"
datafile.write_bytes(bytes(range(256)) * (4 * 1024 * 1024 // 256))       # 4 MiB
run = lab.run_program([LIFECYCLE, snapdir, datafile])
print(run.stdout)
STEPS = {"1 after start": "1-start", "2 after malloc(64 MiB)": "2-malloc",
         "3 after dlopen(libz)": "3-dlopen", "4 after mmap(file)": "4-mmap"}
snaps = {step: lab.parse_smaps((snapdir / f"{name}.smaps").read_text(), program="lifecycle")
         for step, name in STEPS.items()}
start = snaps["1 after start"]
print("regions right after start:", "more than 20" if len(start.regions) > 20 else len(start.regions))
for label in ("lifecycle", "libc.so.6", "ld-linux-x86-64.so.2", "[stack]"):
    n = len(start.find(label=label))
    print(f"  {label:22} {n} region{'s' if n != 1 else ''}")

# %% [markdown]
# More than 20. `parse_smaps` sorts the regions by address and names what backs each
# one (`labsupport/addrspace.py` holds the rules): the program's own file, the
# shared libraries (libc, and `ld-linux`, the dynamic loader that mapped them), a few
# anonymous regions (no file: such as thread-local storage and the loader's data),
# the main thread's stack, and a few pages the kernel maps into every process. A
# library takes five regions because its file has five parts with different
# permissions: read-only headers, executable code (`r-x`), constants (`r--`), a part
# made read-only after relocation, and writable data (`rw-`).
#
# Here is the whole list, counted by kind, then one row per region. Some of it depends
# on versions: the kernel maps its own regions (`[vdso]`, `[vvar]`...), and which it
# maps changes with the kernel version; the dynamic loader and libc leave a few
# anonymous regions, and how many changes with the glibc version (measured: Debian
# 12's glibc 2.36 leaves 3 at this point, Debian 13's 2.41 leaves 4, because its
# loader's writable data ends in an extra anonymous page). The sizes depend on the
# libraries' versions, and the stack's varies from run to run. So this cell is not
# compared by the tests; the one above prints only what holds on every version.

# %%
# NBVAL_IGNORE_OUTPUT
# region counts per kind and sizes depend on the glibc and kernel versions (see above)
print(start.summary(sizes=False))
print(start.table(fields=("Rss", "Pss")))

# %% [markdown]
# ### The picture, and the widget
#
# Drawn to scale, a 4 KiB page next to the 128 TiB a 64-bit Linux process may use
# would be invisible, so the picture uses a *broken, logarithmic* axis: each region's
# height grows with the logarithm of its size, and each unmapped gap (hatched) is
# drawn the same way with its size written beside it. Low addresses are at the bottom.
# Pick a step and a region: the details name what backs it, its permissions, and the
# kernel's counts for it (`Rss`: resident now; `Pss`: shared pages divided among the
# processes that map them; `Private_Dirty`: written pages that are only this
# process's).
#
# **Predict** before you click through the steps: which regions will appear after
# `malloc(64 MiB)`? After `dlopen`? After `mmap`?

# %%
# NBVAL_IGNORE_OUTPUT
# the figure's height follows the number of regions, which depends on the glibc and kernel versions
lab.draw_address_space(snaps["4 after mmap(file)"], title="lifecycle, step 4: after mmap(file)",
                       highlight=snaps["4 after mmap(file)"].regions.index(
                           snaps["4 after mmap(file)"].find(kind="file")[0]))

# %% [markdown]
# The same snapshots in the widget (in a running notebook; a static copy of the book
# shows only the picture above):

# %%
# NBVAL_IGNORE_OUTPUT
# its text names each snapshot's number of regions, which depends on the glibc and kernel versions
view = lab.AddressSpaceView(snaps, title="lifecycle")
view.select(kind="library")
view

# %% [markdown]
# Your notebook's own kernel is a process too: a Python interpreter with many more
# libraries (its numbers differ from machine to machine).

# %%
# NBVAL_IGNORE_OUTPUT
kernel_space = lab.read_address_space()            # this process: /proc/self/smaps
print(kernel_space)
print(kernel_space.summary())

# %% [markdown]
# What changed at each step of `lifecycle`, read from the snapshots (addresses differ on every run
# because of address-space layout randomisation, ASLR; sizes and names do not):

# %%
def unversioned(label):
    """libz.so.1.2.13 -> libz.so.1: the name programs link against, without the file's version."""
    return re.sub(r"(\.so\.\d+)(\.\d+)+$", r"\1", label)


def changes(before, after):
    d = before.diff(after)
    libraries = {}
    big = 1 << 20         # a big anonymous mapping may be added, or merged into a neighbour
    for r in d["added"]:
        if r.kind == "library":          # its sizes depend on the library's version: not printed
            libraries.setdefault(unversioned(r.label), []).append(r.perms)
        elif r.kind == "anonymous" and r.size >= big:
            print(f"   +~ anonymous region of {r.size >> 20} MiB and a bit: added, or merged into a neighbour")
        elif r.kind == "heap" and 128 << 10 < r.size <= 140 << 10:   # its size depends on the glibc version
            print(f"   + {r.label:24} {r.perms}  128 KiB + the first request, in pages  ({r.kind})")
        else:
            print(f"   + {r.label:24} {r.perms}  {human(r.size):>9}  ({r.kind})")
    for name, perms in libraries.items():
        print(f"   + {name:24} {len(perms)} regions: {' '.join(perms)}  (library)")
    for old, new in d["grown"]:
        if new.size - old.size >= big and new.kind == "anonymous":
            print(f"   +~ anonymous region of {(new.size - old.size) >> 20} MiB and a bit: added, "
                  f"or merged into a neighbour")
        elif new.size - old.size >= big:          # small growth of the heap is libc's business
            print(f"   ~ {new.label:24} {new.perms}  grew by {human(new.size - old.size)}")
    for r in d["removed"]:
        print(f"   - {r.label:24} {r.perms}  {human(r.size):>9}")


names = list(snaps)
for a, b in zip(names, names[1:]):
    print(f"{a} -> {b}:")
    changes(snaps[a], snaps[b])
after_malloc = snaps["2 after malloc(64 MiB)"]
# the malloc's 64 MiB: the anonymous region holding it, found by size (alone, or merged)
big = min((r for r in after_malloc.find(kind="anonymous") if r.size >= 64 << 20), key=lambda r: r.size)
print(f"\nthe malloc's region: at least 64 MiB mapped, {big.kb('Rss') // 1024} MiB resident")
filemap = snaps["4 after mmap(file)"].find(label="data.bin")[0]
print(f"the file's region: {human(filemap.size)} mapped, {filemap.kb('Rss') // 1024} MiB resident")

# %%
# NBVAL_IGNORE_OUTPUT
# the [heap]'s first size depends on the glibc version (see below)
heap = after_malloc.find(kind="heap")[0]
print(f"{os.confstr('CS_GNU_LIBC_VERSION')}: the [heap] began with {heap.size >> 10} KiB "
      f"= 128 KiB + {(heap.size >> 10) - 128} KiB")

# %% [markdown]
# - **`malloc(64 MiB)`** is above glibc's mmap threshold (128 KiB, lesson 01), so
#   glibc asked the kernel for a fresh anonymous mapping of 64 MiB and a page (its
#   chunk header). Where the kernel places it decides how it shows: right next to an
#   anonymous region with the same permissions, the two merge into one region that
#   *grew*; elsewhere it is a region of its own, *added*. Both happen: kernels 6.7 to
#   6.11 place every anonymous mapping of 2 MiB or more at a 2 MiB boundary (commit
#   efa7df3e3bb5), which usually leaves a gap, and 6.12 limited that to sizes that
#   are multiples of 2 MiB (commit d4148aeab412). So the cell prints "added, or
#   merged" and finds the region by its size. 64 MiB are mapped, **8 MiB are
#   resident**: only the pages the program wrote.
# - The **`[heap]`** appears at step 2 too: `printf`, called after the first
#   snapshot, allocated its output buffer with a `malloc` of 4 KiB, which glibc serves
#   from the brk heap. The heap's first size is the first request glibc served from
#   it, plus 128 KiB (`M_TOP_PAD`'s default, `sysdeps/generic/malloc-machine.h` line 38
#   at 2.36) and 32 bytes, rounded up to whole pages (`sysmalloc`, `malloc/malloc.c`
#   line 2681 at 2.36). What that first request is depends on the glibc version, so the compared
#   cell prints only "128 KiB + the first request" and the cell under it the size.
#   Up to glibc 2.41 any first `malloc` of a thread first sets up its tcache table
#   (`MAYBE_INIT_TCACHE` in `__libc_malloc`, line 3300 at 2.36; 640 bytes there): that
#   table is the first request, the heap began with 128 + 4 = **132 KiB** here (glibc
#   2.36, and 2.41 in Debian 13), and `printf`'s buffer fits in the rest. glibc 2.42
#   sets the table up only for a first request small enough for the tcache (commit
#   cbfd798810, "malloc: add tcache support for large chunk caching"), and 2.43 at the
#   thread's first `free` (commit 2bf2188fae, "malloc: avoid need for tcache == NULL
#   checks"); so there the first request is the buffer itself: 4 KiB + 16 + 128 KiB +
#   32 bytes, in pages **136 KiB** (measured in Debian unstable, glibc 2.43; 2.42 read
#   from its source). The buffer is the output file's block size (`st_blksize`, 4 KiB
#   here), at most `BUFSIZ`, 8 KiB (`libio/filedoalloc.c`, lines 83-101 at 2.36).
# - **`dlopen`** mapped libz's file in five regions, like libc. (The file is
#   `libz.so.1.2.13` on Debian 12 and `libz.so.1.3.1` on Debian 13, and its code
#   region is a few KiB larger there; the widget shows the sizes. The cell prints
#   `libz.so.1`, the name the program asked for, which both have.)
# - **`mmap` of the file** added one read-only region backed by `data.bin`; reading
#   it made all 4 MiB resident. Those pages belong to the kernel's *page cache*, shared
#   by every process that maps or reads the file (section 4).
#
# ## 2. Reserve, then commit: memory is used when it is touched
#
# `mmap(NULL, size, PROT_NONE, ...)` asks for address space with *no access*: a
# reservation. `mprotect(..., PROT_READ | PROT_WRITE)` makes part of it usable: the
# *commit*. Only when a page is first touched does the processor fault. On the first
# **write**, the kernel finds a physical page, fills it with zeros and maps it: a
# **minor page fault** (minor: no disk read was needed). On a first **read** it faults
# too, but maps the one shared, read-only *zero page* instead, so nothing becomes
# resident until the page is written. `reserve.c steps` does this on a 1 GiB
# reservation and measures each step: VSZ (address space mapped), RSS (resident,
# counted from the page tables in `/proc/self/smaps_rollup`) and minor faults
# (`getrusage`).
#
# **Predict:** reserving 1 GiB adds how much to RSS? Making half of it writable? Writing
# one byte? Reading one byte in each page of 8 MiB: how many faults, how much RSS?
# Then writing them?

# %%
r = lab.run_program([RESERVE, "steps", "1024"])
for line in r.stdout.splitlines():          # the last two columns (absolute VSZ, RSS) vary
    print(line[:62])

# %% [markdown]
# - Reserving 1 GiB: **VSZ +1 GiB, RSS +0, no fault.** Address space is only a
#   promise about numbers.
# - `mprotect` to read/write (the commit): no page and no fault either. But it is not
#   free: the kernel *charges* it, as the next cell shows.
# - One byte written: one fault, one page (4 KiB) resident.
# - 8 MiB read, one byte per page: 2,047 faults (the first page was already there) and
#   **RSS +0**: every page read maps the shared zero page. Writing them then takes
#   2,047 faults *again* (each replaces the zero page by a page of its own) and
#   8,188 KiB more: **one write fault per page**, whatever the program writes into it.
#   Writing the same pages again costs nothing.
# - `madvise(MADV_DONTNEED)` hands the pages back: RSS falls, the address space stays.
#   `munmap` gives the address space back.
#
# (The program's region is marked `MADV_NOHUGEPAGE`, so these counts hold whatever
# the machine's transparent-huge-page setting is. Also: the `VmRSS` line of
# `/proc/self/status` comes from counters the kernel updates in batches (per thread up
# to kernel 6.1, per CPU since 6.2); read while a program was touching pages it was up
# to 192 KiB away from the exact count. `smaps_rollup` walks the page tables and is
# exact, which is why the course reads it.)
#
# ### The commit is charged
#
# Linux keeps a running total of the private writable memory of every process, touched
# or not: `Committed_AS` in `/proc/meminfo`, what the kernel would need if every page
# that may be written were written. Making a private mapping writable
# adds its size to that total. The kernel says so where it does it, in `mprotect`
# (Linux 6.1, `mm/mprotect.c` lines 582-598, `mprotect_fixup`): "If we make a private
# mapping writable we increase our commit", then `security_vm_enough_memory_mm(mm,
# charged)`, which can refuse with `ENOMEM`. A `PROT_NONE` reservation is not charged
# (there is nothing it could write), and neither is one made with `MAP_NORESERVE`
# (except in mode 2, below). `overcommit commit` reads `Committed_AS` around each step.
#
# **Predict:** which steps move `Committed_AS`: the reservation, the `mprotect`, the
# writes, `mprotect` back to `PROT_NONE`, `munmap`?

# %%
# NBVAL_IGNORE_OUTPUT
# Committed_AS is the whole system's: another process starting or ending moves it too
commit_run = lab.run_program([OVERCOMMIT, "commit"], timeout=60)
print(commit_run.stdout)

# %%
def commit_deltas(text):
    """{(section, step): change of Committed_AS in MiB} from `overcommit commit`."""
    out, section = {}, None
    for line in text.splitlines():
        m = re.match(r"(.+?)\s+Committed_AS\s+([+-]\d+) KiB$", line)
        if line.startswith("#"):
            section = line[2:]
        elif m:
            out[section, m.group(1)] = int(m.group(2)) / 1024
    return out


# two more runs, and each step's median of the three: one process starting elsewhere
# during one step moves that step's reading, not the median
runs = [commit_deltas(commit_run.stdout)]
runs += [commit_deltas(lab.run_program([OVERCOMMIT, "commit"], timeout=60).stdout) for _ in range(2)]
COMMIT = "mprotect 256 MiB READ|WRITE (commit)"
# in mode 2 with less than 256 MiB left under CommitLimit the mprotect is refused
# ("refused (ENOMEM)" above, no Committed_AS line): nothing charged, nothing written;
# so it is under a data limit (ulimit -d, RLIMIT_DATA) too small for it, in any mode
charged = [run for run in runs if ("plain reservation", COMMIT) in run]
data_limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
small_data_limit = data_limit != resource.RLIM_INFINITY and data_limit < 512 << 20


def median(step, among):
    values = [run["plain reservation", step] for run in among if ("plain reservation", step) in run]
    return statistics.median(values) if values else 0.0


among = charged or runs
strict = open("/proc/sys/vm/overcommit_memory").read().strip() == "2"
print("reserve 1 GiB PROT_NONE charged about 0 MiB:", abs(median("mmap 1 GiB PROT_NONE (reserve)", among)) < 32)
print("mprotect 256 MiB READ|WRITE charged about 256 MiB, or was refused (mode 2 at its CommitLimit, "
      "or a small ulimit -d):",
      abs(median(COMMIT, charged) - 256) < 32 if charged else strict or small_data_limit)
print("writing 8 MiB of it charged nothing more:", abs(median("write 8 MiB of it", charged)) < 32)
print("munmap gave back what the mprotect charged:",
      abs(median("munmap", among) + median(COMMIT, charged)) < 32)

# %% [markdown]
# The reservation costs nothing; the **`mprotect` is the charge** (256 MiB, before a
# single page is touched); writing costs pages but no further charge; `munmap` gives
# the charge back. Turning the pages back to `PROT_NONE` did *not* return it here
# ("cannot reduce our commit if we make it unwritable again", the same comment).
# With `MAP_NORESERVE` (the second half of the output) nothing is charged while the
# overcommit mode is 0 or 1. In mode 2 the charge is also a limit: with less than
# 256 MiB left under `CommitLimit` (a little more, in fact: a process without
# `CAP_SYS_ADMIN` must leave `vm.admin_reserve_kbytes` for root, and every process
# 1/32 of its own mapped size or `vm.user_reserve_kbytes`, whichever is smaller;
# `__vm_enough_memory`, `mm/util.c` lines 1008-1025 in Linux 6.1), the `mprotect`
# itself fails, and the program prints `refused (ENOMEM)` for that step (nothing was
# charged, so nothing is written and `munmap` gives nothing back), in both halves,
# since mode 2 ignores `MAP_NORESERVE`. A data limit (`ulimit -d`, `RLIMIT_DATA`)
# smaller than the process's writable private memory plus 256 MiB refuses it too, in
# any mode (`may_expand_vm`, `mm/mprotect.c` lines 589-591), and the compared line
# accepts that refusal as well. The four lines above hold either way. So Linux has
# Windows' two steps, reserve and commit, and charges the commit as Windows does; what
# differs is what happens when the total passes the limit (section 3).
#
# ### Transparent huge pages
#
# The processor can also map 2 MiB with one page-table entry. Linux's *transparent
# huge pages* (THP) do that for anonymous memory on their own, depending on a setting:

# %%
# NBVAL_IGNORE_OUTPUT
try:
    thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
except OSError:                      # a kernel built without THP, or a sandbox such as gVisor
    thp = "(not available on this kernel)"
print("transparent_hugepage/enabled:", thp, "(the choice in [brackets] is active)")
print(lab.run_program([RESERVE, "thp"]).stdout)

# %% [markdown]
# When this lesson was built, THP was `madvise` here: only regions that ask with
# `madvise(MADV_HUGEPAGE)` get huge pages. Without advice one byte cost one 4 KiB page; with it, **one fault
# mapped 2 MiB** (`AnonHugePages` counts it) — cheaper faults, more memory per touch.
# With `always` (common on other distributions) the first line would look like the
# second, and RSS grows in 2 MiB steps
# ([kernel docs: transhuge](https://docs.kernel.org/admin-guide/mm/transhuge.html)).
#
# ### The same on Windows: `VirtualAlloc`
#
# Windows makes the two steps explicit. `VirtualAlloc(..., MEM_RESERVE, PAGE_NOACCESS)`
# reserves address space; `VirtualAlloc(..., MEM_COMMIT, PAGE_READWRITE)` commits
# part of it; `VirtualFree(..., MEM_DECOMMIT)` and `MEM_RELEASE` undo them.
# Microsoft's documentation of `MEM_COMMIT`: it "allocates memory charges (from the
# overall size of memory and the paging files on disk)" and "actual physical pages are
# not allocated unless/until the virtual addresses are actually accessed"
# ([VirtualAlloc](https://learn.microsoft.com/en-us/windows/win32/api/memoryapi/nf-memoryapi-virtualalloc)).
# So on Windows, *commit* is where the charge happens, and *touch* is where physical
# memory is used: the same two steps as Linux's `mprotect` and first write.
#
# `win_reserve.c` does the steps with the Windows API; we build it with MinGW-w64 and
# run it under **Wine**, which implements these calls on top of Linux's `mmap` and
# `mprotect`: it reserves with a plain private anonymous `mmap` (`anon_mmap_alloc`)
# whose pages stay `PROT_NONE` until they are committed (`get_unix_prot`, both in
# Wine's `dlls/ntdll/unix/virtual.c`), so Wine's `MEM_COMMIT` *is* the charged
# `mprotect` above. Wine is not Windows: the calls behave as documented, the *numbers*
# are Wine's.
#
# **Predict:** writing to a page that is reserved but not committed. What happens on
# Windows?

# %%
WINDOWS = winlab.ready()
if WINDOWS:
    WIN_EXE = winlab.build([SRC / "win_reserve.c"], OUT / "win_reserve.exe", compiler="mingw",
                           ldflags=["-lpsapi"])
    win = winlab.run_wine(WIN_EXE, timeout=60)
    print(win.status())
    # the lines whose numbers do not vary; the counters follow in the next cell
    print("\n".join(l for l in win.stdout.splitlines()
                    if l.startswith(("VirtualAlloc", "  ")) and "CommitLimit" not in l))

# %% [markdown]
# All calls succeed, `VirtualQuery` reports the states Windows defines
# (`MEM_RESERVE`, then `MEM_COMMIT` for the first 64 MiB), and the write into reserved
# memory raises an **access violation** (`0xC0000005`, `EXCEPTION_ACCESS_VIOLATION`):
# the program's vectored exception handler commits that one page and lets the write
# run again. (Windows' own thread stacks grow with a different mechanism: a page marked
# `PAGE_GUARD` raises `STATUS_GUARD_PAGE_VIOLATION`, 0x80000001, which the system
# handles by committing the next page; see Microsoft's "Creating Guard Pages".)
#
# Now the counters Windows keeps, as Wine reports them:

# %%
# NBVAL_IGNORE_OUTPUT
if WINDOWS:
    print("\n".join(l for l in win.stdout.splitlines() if "working set" in l or "CommitLimit" in l))

# %%
def win_counters(text):
    """{step: (working set KiB, private bytes KiB, PagefileUsage KiB, faults)} from win_reserve."""
    out = {}
    for l in text.splitlines():
        m = re.match(r"(.+?)\s+working set\s+(\d+) KiB\s+private bytes\s+(\d+) KiB\s+commit "
                     r"\(PagefileUsage\)\s+(\d+) KiB\s+faults\s+(\d+)", l)
        if m:
            out[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return out


if WINDOWS:
    wc = win_counters(win.stdout)
    s0, s1, s2, s3 = (wc[k] for k in ("start", "after MEM_RESERVE 1 GiB", "after MEM_COMMIT 64 MiB",
                                      "after writing 8 MiB of it"))
    print(f"under Wine, MEM_COMMIT of 64 MiB changed PagefileUsage by {round((s2[2] - s1[2]) / 1024)} MiB")
    print(f"under Wine, writing 8 MiB changed PagefileUsage by {round((s3[2] - s2[2]) / 1024)} MiB, "
          f"the working set by {round((s3[0] - s2[0]) / 1024)} MiB")
    print(f"under Wine, private bytes stayed {s3[1]} and the fault count {s3[3]}")
else:
    print(lab.missing("wine"))

# %% [markdown]
# Where Wine's accounting differs from Windows':
#
# | counter (`PROCESS_MEMORY_COUNTERS_EX`) | Windows | Wine (8.0 and 10.0 measured) |
# |---|---|---|
# | `PagefileUsage`, `PrivateUsage` ("private bytes", the process's **commit charge**) | grows by 64 MiB at `MEM_COMMIT`, before any page is touched | grows only when pages are *touched*: Wine computes it from Linux's `RssAnon` + `VmSwap` (the anonymous memory of section 5); `PrivateUsage` stays 0 through `GetProcessMemoryInfo`. The commit itself *was* charged, to Linux's `Committed_AS`, which has no per-process counter to report |
# | `WorkingSetSize` | grows when pages are touched | the same: Linux's `VmRSS` |
# | `PageFaultCount` | one more per page first touched | stayed 0 |
#
# Wine reads these from `/proc/self/status` (its `fill_vm_counters` in
# [`dlls/ntdll/unix/process.c`](https://gitlab.winehq.org/wine/wine/-/blob/wine-8.0/dlls/ntdll/unix/process.c));
# for Windows see
# [PROCESS_MEMORY_COUNTERS_EX](https://learn.microsoft.com/en-us/windows/win32/api/psapi/ns-psapi-process_memory_counters_ex).
# To study commit charge, measure on Windows itself.

# %% [markdown]
# ### Exercise 1: predict RSS and faults
#
# `reserve every PAGES N` reserves and commits `PAGES` pages, then writes one byte into
# every `N`-th page: pages 0, N, 2N, ... below `PAGES`. It prints how much RSS grew (KiB)
# and how many minor faults the loop took.
#
# Write `predict(pages, n, page)` returning `(rss_growth_kib, faults)` for pages of
# `page` bytes. The check calls it with `page = PAGE` (this machine's page size), runs
# the program for real for each case and compares; then it calls it once with
# `page = 16384`, as on a machine with 16 KiB pages (65536 where pages are 16 KiB
# already). The region has no huge pages.

# %% tags=["solution"]
def predict(pages, n, page):
    rss_kib, faults = 0, 0
    ### BEGIN SOLUTION
    touched = (pages + n - 1) // n            # pages 0, n, 2n, ... below `pages`
    rss_kib, faults = touched * page // 1024, touched
    ### END SOLUTION
    return rss_kib, faults

# %% tags=["check"]
from labsupport.lessons.virtual_memory import check_predict

check_predict(predict)

# %% [markdown]
# The check ran `reserve every` for real for each case, two of them chosen at random,
# and one more with `page = 16384`, as on a machine with 16 KiB pages (some arm64
# machines have them), so the answer must use its `page` argument. It also refuses a
# `predict` that runs the experiment instead of predicting it.

# %% [markdown]
# ## 3. Overcommit and the commit limit
#
# Every commit is charged to `Committed_AS`. What the kernel does when a new charge
# would be too much is its overcommit policy, `vm.overcommit_memory`
# ([overcommit accounting](https://docs.kernel.org/mm/overcommit-accounting.html);
# the code is `__vm_enough_memory` in `mm/util.c`, lines 999-1031 in Linux 6.1):
#
# | mode | name | refuses a new charge when |
# |---|---|---|
# | `0` (the default) | heuristic | the *one* request is larger than all of RAM + swap (since Linux 5.2, commit 8c7829b04c52; before it, mode 0 compared with the free and reclaimable memory, so a smaller request could fail on a busy machine) |
# | `1` | always | never |
# | `2` | strict | the total would pass `CommitLimit` (swap + `overcommit_ratio`, 50 % by default, of RAM), less the reserves of section 2 (`vm.admin_reserve_kbytes`, `vm.user_reserve_kbytes`); `MAP_NORESERVE` is ignored |
#
# Mode 2 is the guarantee Windows gives: a commit that succeeded can always be
# touched. Machines differ: a Kubernetes node runs mode 1 (the kubelet sets
# `vm.overcommit_memory=1` itself), some databases ask for mode 2. This machine:

# %%
# NBVAL_IGNORE_OUTPUT
# the mode is the host's choice (a Kubernetes node runs 1): the cells below say what each mode does
mode = open("/proc/sys/vm/overcommit_memory").read().strip()
print("vm.overcommit_memory =", mode, {"0": "(heuristic)", "1": "(always)", "2": "(strict)"}.get(mode, ""))

# %%
# NBVAL_IGNORE_OUTPUT
meminfo = dict(re.findall(r"^(\w+):\s+(\d+) kB", open("/proc/meminfo").read(), re.M))
for key in ("MemTotal", "SwapTotal", "CommitLimit", "Committed_AS"):
    print(f"{key:13} {int(meminfo[key]) / 1024 ** 2:7.1f} GiB")

# %% [markdown]
# `Committed_AS` is what the kernel *would* need if every process touched everything
# it may write; `CommitLimit` is enforced only in mode 2.
#
# **Predict** for your machine's mode: one `mmap` of read/write memory of half of RAM
# + swap? Of twice RAM + swap? Twice, as a `PROT_NONE` reservation? That reservation
# made writable with `mprotect`? Eight `malloc`s of half each? (`overcommit sizes`
# asks for them and touches none.)

# %%
# NBVAL_IGNORE_OUTPUT
# which requests succeed depends on the overcommit mode (and, in mode 2, on the load)
sizes_run = lab.run_program([OVERCOMMIT, "sizes"])
print(sizes_run.stdout)

# %%
from labsupport.lessons.virtual_memory import overcommit_outcomes

verdict = overcommit_outcomes(sizes_run.stdout, mode)
for request, (got, expected) in verdict.items():
    if got != expected and expected != "either":
        print(f"UNEXPECTED: {request}: {got}, the mode predicts {expected}")
print("every outcome is the one this machine's overcommit mode predicts:",
      all(e in (g, "either") for g, e in verdict.values()))

# %% [markdown]
# In mode 0 (the usual default) only what is larger than RAM + swap *in one request* is
# refused ("Cannot allocate memory", `ENOMEM`): the writable 2x `mmap`, and the 2x
# reservation at the moment `mprotect` commits it. The reservation alone, and
# `MAP_NORESERVE`, are not charged, and eight requests of half each, **four times**
# what the machine has, all succeed, because each is judged alone. In mode 1 every
# line succeeds; in mode 2 everything writable beyond `CommitLimit` fails, the
# reservation made writable and `MAP_NORESERVE` included. A `malloc` that succeeds has
# *address space* and a commit charge behind it, not memory. The bill comes when pages
# are touched: if RAM and swap run out then, the kernel's out-of-memory killer ends a
# process (not necessarily the one that asked; in a container, the cgroup's own OOM
# killer acts at the cgroup's limit).
#
# **Windows refuses at the limit, always.** Every `MEM_COMMIT` is counted against the
# system commit limit (RAM + page files) and fails when it would pass it, like mode 2:
# a program that committed memory can always touch it
# ([Memory limits for Windows releases](https://learn.microsoft.com/en-us/windows/win32/memory/memory-limits-for-windows-releases);
# *Windows Internals*, chapter 5). The last two lines of the Wine run show the same
# request both ways:

# %%
# NBVAL_IGNORE_OUTPUT
# Wine's commit of 2 x CommitLimit is Linux's mprotect: its outcome follows the overcommit mode
if WINDOWS:
    print("\n".join(l for l in win.stdout.splitlines() if "2 x CommitLimit" in l))

# %% [markdown]
# The reservation succeeds. The commit of twice the limit is Linux's `mprotect` under
# Wine, so it follows this machine's mode: refused in mode 0 and 2 (error 8,
# `ERROR_NOT_ENOUGH_MEMORY`, is Wine's translation of `ENOMEM`), *accepted* in mode 1,
# where Windows would still refuse it. Wine's `CommitLimit` is computed from Linux's
# RAM and swap, not from a page file.
#
# ### A child that touches more than it may
#
# The course runs every experiment under a memory cap (`max_rss_mb`, lesson 00): the
# parent watches the child's resident memory and kills it past the cap. **Predict:** a
# child that `malloc`s 1 GiB under a 64 MB cap: does the `malloc` fail, or something
# else?

# %%
r = lab.run_program([OVERCOMMIT, "touch", "1024"], max_rss_mb=64, timeout=30)
got = max((int(m) for m in re.findall(r"touched (\d+) MiB", r.stdout)), default=0)
malloc_ok = "succeeded" in r.stdout.split("\n", 1)[0]
capped = r.stopped_by is not None and got < 1024
# modes 0 and 1 grant the gigabyte and the cap stops the touching; mode 2 may refuse the malloc
print("the child never touched all 1024 MiB:", got < 1024)
print("what happened is what this machine's overcommit mode allows:", capped if malloc_ok else mode == "2")

# %%
# NBVAL_IGNORE_OUTPUT
print(r.stdout.splitlines()[0] if r.stdout else "(no output)")
print(r.status())
print(f"its last report: touched {got} MiB (the cap looks every 20 ms, so where it stops varies)")

# %% [markdown]
# In mode 0 or 1 the `malloc` succeeds — the cap counts resident memory, not address
# space — and the child is stopped only when its touched pages pass 64 MB (the output
# above). In mode 2 the `malloc` itself can be refused (`returned NULL`), when the
# gigabyte would take `Committed_AS` past `CommitLimit`; then nothing was touched.
# Without the cap the kernel's out-of-memory killer would be the last line of defence,
# and on a shared machine it might pick someone else's process.
#
# ## 4. Memory-mapped files
#
# `mmap` of a file makes its bytes addressable: reading `p[i]` reads the file. The
# first access to a page faults, and the kernel maps the file's page from the **page
# cache** (reading it from disk first when it is not cached: a *major* fault).
# `mapfile faults` writes a 16 MiB file, asks the kernel to drop it from the cache
# (`posix_fadvise(POSIX_FADV_DONTNEED)`), then maps it and reads one byte per page —
# twice, with a fresh mapping each time. `mincore` reports how many of the file's pages
# are in the cache.
#
# **Predict:** 4,096 pages. How many page faults for the first pass? For the second,
# when every page is already cached?

# %%
# NBVAL_IGNORE_OUTPUT
scratch = OUT / "mapped.bin"
r = lab.run_program([MAPFILE, "faults", scratch, "16"], timeout=60)
print(r.stdout)

# %%
passes = [tuple(int(x) for x in re.findall(r"\d+", l)) for l in r.stdout.splitlines()]
for (pages, cached_before, faults, major, cached_after), name in zip(passes, ("first", "second")):
    print(f"{name} pass: {pages} pages read, at least 8 pages per fault: {pages / faults >= 8}; "
          f"all pages cached afterwards: {cached_after == pages}")

# %% [markdown]
# Far fewer faults than pages: here about **one fault per 16 pages**, in both passes. For a
# file the kernel does *fault-around*: on a read fault it also maps the neighbouring
# pages that are already in the page cache, 64 KiB at a time by default
# (`fault_around_bytes` in the kernel's `mm/memory.c`). In the first pass readahead
# brought the file in, so few faults are *major*: the kernel counts a fault as major
# only when it had to start the read itself (a fault that finds a page still being read
# ahead waits for the disk too, yet counts as minor). Anonymous memory (section 2) has no page cache to map from: one
# fault per page. (How much was cached before the first pass depends on the machine
# and on other programs, so the cell above is not compared.)
#
# ### Two processes, one file
#
# `mapfile share` forks; parent and child each map the same 4-page file themselves.
# The child writes into page 0 of its `MAP_SHARED` mapping; the parent writes page 1;
# the parent also has a `MAP_PRIVATE` mapping of the file and writes page 3 into it.
#
# **Predict:** does the parent see the child's write? Does `read()` of the file see the
# parent's write before `msync`? Does the child see the parent's *private* write?

# %%
r = lab.run_program([MAPFILE, "share", OUT / "shared.bin"])
print(r.stdout)

# %% [markdown]
# - `MAP_SHARED`: both processes map **the same physical pages** (the file's page-cache
#   pages), so each sees the other's writes at once, and so does `read()` — on Linux
#   the page cache is the one copy. `msync(MS_SYNC)` is about *durability*: it waits
#   until the dirty pages are written to the disk
#   ([msync(2)](https://man7.org/linux/man-pages/man2/msync.2.html)).
# - `MAP_PRIVATE`: reads come from the same cached pages (the parent even saw the
#   child's write into page 2, a page it had not written — POSIX leaves that
#   unspecified, Linux does it). The first **write** to a page copies that one page:
#   `Private_Dirty 4 kB` in the parent's smaps, exactly one page; the file and the child
#   never see it ([mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html)).
#
# ### Library pages shared by two processes: RSS and PSS
#
# `libtable.so` is a small library with 1 MiB of read-only data. `numbers` (next
# section) reads all of it, then forks a child that reads it too. The smaps of the
# parent count that data's region as `Rss` (resident and mapped) and `Pss`
# (*proportional*: each page divided by the number of processes mapping it).
#
# **Predict** the parent's Pss of the table after the fork.

# %%
r = lab.run_program([NUMBERS, OUT / "numbers.bin"], timeout=60)
rows = [l.split() for l in r.stdout.splitlines()]
header, table = rows[0], {" ".join(row[:-9]): list(map(int, row[-9:])) for row in rows[1:]}
for step in ("map a 16 MiB file, read it", "read libtable's 1 MiB", "fork: child shares pages",
             "child exits"):
    t_rss, t_pss = table[step][-2:]
    print(f"{step:28} libtable's data: Rss {round(t_rss / 1024)} MiB, Pss/Rss = "
          + (f"{t_pss / t_rss:.1f}" if t_rss else "-"))

# %% [markdown]
# The library's data became resident when the program read it (fewer faults than its
# 256 pages: fault-around again), and stayed resident in the parent. While two processes map
# those pages, each is charged half: **Pss halves**, then returns to the whole when the
# child has gone. Summing RSS over processes counts a shared page once per process;
# summing PSS counts it once.
#
# (A trap met while writing this lesson: had `numbers.c` named the library's array
# directly (`extern const unsigned char table[]`), the linker would have made a *copy
# relocation*: the array reserved in the program's own writable data and copied there
# by the loader at start. The loader reads every page of the library's copy to do that,
# so they are all resident before the first row, and the program then works on *its
# own* copy, which the child shares instead of the library's pages. `libtable.c` keeps
# the array `static` and hands out its address.)
#
# ## 5. One process, several numbers called "memory"
#
# Each line of `numbers` is one step; each column one way of counting (KiB; faults
# since the start):
#
# | number | what it counts | from |
# |---|---|---|
# | **VSZ** | address space mapped, touched or not | `VmSize` in `/proc/PID/status` |
# | **RSS** | pages mapped and resident now, shared ones included | `Rss` in `smaps_rollup` |
# | **PSS** | RSS with each shared page divided by its number of sharers | `Pss` |
# | **USS** | pages only this process maps, file pages included (these stay in the page cache after it exits) | `Private_Clean + Private_Dirty` |
# | **Anon** | its anonymous pages in memory: heap, stacks, written private pages, whoever else shares them after a fork | `Anonymous` (`RssAnon` in `status`) |
# | **swap** | its anonymous pages now in swap (this machine may have none) | `Swap` |
# | Windows **working set** | ≈ RSS | `WorkingSetSize` |
# | Windows **private bytes** / **commit charge** | private memory committed, touched or not | `PrivateUsage` / `PagefileUsage` |
#
# **Predict** for each step which columns move: reserve 256 MiB; commit 64 MiB of it;
# write 32 MiB; `malloc(32 MiB)` without writing; map a 16 MiB file and read it; fork.

# %%
# NBVAL_IGNORE_OUTPUT
print(r.stdout)

# %%
cols = {name: i for i, name in enumerate(header[1:])}
steps = list(table)
print(f"{'step':28} {'VSZ':>7} {'RSS':>7} {'PSS':>7} {'USS':>7} {'Anon':>7}   (change, MiB, to the nearest 0.5)")
for prev, step in zip(steps, steps[1:]):
    d = [round((table[step][cols[c]] - table[prev][cols[c]]) / 512) / 2
         for c in ("VSZ", "RSS", "PSS", "USS", "Anon")]
    print(f"{step:28} " + " ".join(f"{x:+7.1f}" for x in d))

# %% [markdown]
# - **Reserve / commit**: only VSZ moves among these columns. The commit *was*
#   charged, to the system's `Committed_AS` (section 2), which Linux keeps for the whole
#   system, not per process; on Windows the 64 MiB would enter this process's commit
#   charge now.
# - **Write 32 MiB**: RSS, PSS, USS and Anon +32 MiB, and about 8,192 minor faults.
# - **`malloc(32 MiB)` not written**: VSZ +32 MiB, nothing else (Windows: the heap
#   commits it, so private bytes would grow).
# - **The file**: RSS, PSS and USS +16 MiB (no other process maps it), Anon +0: these
#   are page-cache pages, clean, so the kernel can drop them and read them again, any
#   process that maps the file shares them, and they stay cached after the process
#   exits: its exit would not free them.
# - **Fork**: the child shares the parent's 32 MiB of written anonymous pages
#   (copy-on-write) and maps libtable's data: the parent's PSS falls by half of that and
#   USS by all of it, though the parent did nothing; RSS and Anon stay where they
#   were. (The file's pages stay the parent's alone: the kernel does not copy a shared file mapping's page-table entries
#   at fork; the child would fault them in when it touched them.) When the child writes
#   16 MiB, those pages are copied and the parent's 16 MiB are its own again.
# - **`MADV_DONTNEED`, `free`, `munmap`**: RSS falls with `MADV_DONTNEED`, VSZ with
#   `munmap`.
#
# **Which to watch for a leak?** Memory that a process allocates and never frees is
# anonymous, and grows: watch **anonymous + swap** over time on Linux (`Anonymous` +
# `Swap` in `smaps_rollup`, or `RssAnon` + `VmSwap` in `status`; swap counts because a
# leaked page that was swapped out is still leaked), **private bytes** on Windows. Wine
# computes Windows' `PagefileUsage` from exactly `RssAnon` + `VmSwap`. In the table,
# Anon stayed flat through the file, the fork, the child's copy-on-write and its exit,
# and moved only when this process wrote or released anonymous memory. USS does not
# work for this: it fell by 33 MiB at the fork although the parent did nothing, and
# rose with the file's page cache. VSZ grows with every reservation and says little;
# RSS also counts the file's page cache.

# %%
import matplotlib.pyplot as plt

x = range(len(steps))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
for c in ("RSS", "PSS", "USS", "Anon"):
    ax1.plot(x, [table[s][cols[c]] / 1024 for s in steps], marker="o", label=c)
ax1.set_ylabel("MiB")
ax1.legend(fontsize=8)
ax2.bar(x, [table[s][cols["faults"]] for s in steps], color="#937860")
ax2.set_ylabel("page faults (cumulative)")
for ax in (ax1, ax2):
    ax.set_xticks(list(x))
    ax.set_xticklabels(steps, rotation=60, ha="right", fontsize=7)
fig.suptitle("one process, step by step (numbers.c)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### The numbers the tools show
#
# The tools you meet read the same kernel counters under other names. `tools.c` writes
# 32 MiB of anonymous memory, maps and reads a 16 MiB file, and then asks `ps` and
# `pmap` about itself, reads its own peak with `getrusage`, and prints the lines of
# `/proc/self/status` behind them. The cell also runs it under `/usr/bin/time -v`.
#
# **Predict:** which of these count the file's 16 MiB?

# %%
# NBVAL_IGNORE_OUTPUT
# sizes depend on the libraries' versions and on the tools installed
TOOLS = program("tools")
r = lab.run_program([TOOLS, OUT / "tools.bin"], timeout=60)
print(r.stdout)
if os.path.exists("/usr/bin/time"):
    timed = lab.run_program(["/usr/bin/time", "-v", TOOLS, OUT / "tools.bin"], timeout=60)
    print("\n".join(ln.strip() for ln in timed.stderr.splitlines() if "Maximum resident" in ln))
else:
    print("/usr/bin/time is not installed (Debian: apt-get install time)")

# %% [markdown]
# | what you see | where it comes from | counts the file's pages? |
# |---|---|---|
# | `ps` VSZ / RSS, `top` VIRT / RES | `VmSize` / `VmRSS` (the kernel's per-process counters, updated in batches) | RSS, RES: yes |
# | `top` SHR | `RssFile` + `RssShmem` | yes: the file is all of it here |
# | `pmap -x` total RSS, Dirty | the sum of `/proc/PID/smaps` (exact) | RSS: yes; Dirty: no (the file was only read) |
# | `smem` USS / PSS | `smaps` as in section 5 | yes |
# | `getrusage().ru_maxrss`, `/usr/bin/time -v` "Maximum resident set size" | the peak of `VmRSS` (`VmHWM`); KiB on Linux, **bytes on macOS** | yes |
# | `RssAnon` (+ `VmSwap`) | anonymous pages (and those swapped out) | no: this is the leak number |
#
# Every "resident" number includes the file: only the anonymous line does not.
# Python's `resource.getrusage(resource.RUSAGE_SELF).ru_maxrss` is the same peak,
# with the same units trap between Linux and macOS.
#
# ### Containers: the cgroup's numbers
#
# In a container (Docker, a Kubernetes pod, a JupyterHub spawner) the limit that
# matters is the cgroup's, and its counter is not any process's RSS: it charges the
# **page cache** the cgroup's processes bring in, too, and keeps charging it after the
# process that read the file has closed it, until the kernel reclaims it. `docker stats`
# and `kubectl top` show the *working set*: the usage minus the inactive file pages. At
# the cgroup's limit the kernel first reclaims page cache, then its out-of-memory
# killer picks a process *of that cgroup* (the one with the largest memory use, weighted
# by `/proc/PID/oom_score_adj`, -1000 to 1000), not one anywhere on the machine. The
# next cell reads the cgroup of this notebook's kernel (v2: `memory.current`,
# `memory.stat`; v1: `memory.usage_in_bytes`) before and after reading a 64 MiB file
# with plain `read()` and closing it.

# %%
# NBVAL_IGNORE_OUTPUT
# the cgroup's usage moves with everything else in it; the figures are this machine's
from labsupport.lessons.virtual_memory import cgroup_memory

scratch = OUT / "cgroup.bin"
scratch.write_bytes(b"\1" * (64 << 20))
fd = os.open(scratch, os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)      # out of the page cache
before = cgroup_memory()
while os.read(fd, 1 << 20):
    pass
os.close(fd)
after = cgroup_memory()
scratch.unlink()                                        # deleted: its cached pages go too
gone = cgroup_memory()
if before:
    print(f"cgroup {before['path']} (cgroup v{before['version']})")
    for label, m in (("before", before), ("after reading and closing", after), ("after deleting", gone)):
        print(f"  {label:26} usage {m['usage'] >> 20:6,} MiB   page cache {m['file'] >> 20:6,} MiB   "
              f"working set {m['working_set'] >> 20:6,} MiB")
else:
    print("no cgroup memory controller readable here")
print("this kernel's oom_score_adj:", open("/proc/self/oom_score_adj").read().strip(),
      " oom_score:", open("/proc/self/oom_score").read().strip())

# %% [markdown]
# Here the usage rose by about the file's 64 MiB when it was read, stayed there after
# the file was closed (no process maps it any more: it is the page cache), and fell when
# the file was deleted; the working set did not move, because pages read once wait on
# the *inactive* list. A container's usage can therefore grow from files it reads, with
# no process's RSS growing. The kernel enforces the limit on the usage, reclaiming such
# page cache before it kills anything; the kubelet decides evictions on the working
# set, which is why `kubectl top` shows that one.

# %% [markdown]
# ## 6. Guard pages and the stack
#
# A page with no access is a *guard page*: any touch faults. The kernel leaves a gap
# below each stack for the same purpose (`stack_guard_gap`, 256 pages by default,
# [kernel parameters](https://docs.kernel.org/admin-guide/kernel-parameters.html)),
# and thread libraries put a `PROT_NONE` page below thread stacks.
#
# **Predict:** a function that calls itself forever, each call using about 1 KiB of
# stack. How does the program end, and after how many calls (the stack limit here is
# `ulimit -s`, 8 MiB by default)?

# %%
r = lab.run_program([GUARD, "stack-plain"])
print(r.status())

# %% [markdown]
# SIGSEGV, with no message: the stack may not grow past its limit, and the access
# below it falls on unmapped addresses. With a handler (on an alternate stack — the
# normal one is full) the child can say where it was:

# %%
r = lab.run_program([GUARD, "stack"])     # an unlimited stack (ulimit -s unlimited) is set to 8 MiB
print(next(line for line in r.stdout.splitlines() if line.startswith("SIGSEGV")).split(";")[1].strip())
used_kib = int(re.search(r"stack used: (\d+) KiB", r.stdout).group(1))
limit_kib = int(re.search(r"\(RLIMIT_STACK\): (\d+) KiB", r.stdout).group(1))
print("si_code:", re.search(r"si_code (\S+)", r.stdout).group(1))
print(f"stack used when it faulted: {used_kib / limit_kib:.0%} of the limit")

# %% [markdown]
# The recursion used (to the nearest percent) its whole stack limit before it faulted; the
# fault address lay just below the deepest frame (`SEGV_MAPERR`: nothing mapped
# there).
#
# A guard page you make yourself: `guard page` maps 4 pages, turns page 2 into
# `PROT_NONE` with `mprotect`, writes page 1, then byte 100 of page 2. The signal
# handler reads the faulting address from `si_addr` and prints it as an offset into
# the mapping. `guard unmapped` writes just past the end of the mapping instead.
#
# **Predict** the offset, and the difference between the two `si_code`s.

# %%
for mode in ("page", "unmapped"):
    r = lab.run_program([GUARD, mode])
    print(f"--- guard {mode}: exit code {r.returncode}\n{r.stdout}")

# %% [markdown]
# Offset 8,292 = page 2 × 4,096 + 100: the exact byte. `SEGV_ACCERR` means "there is a
# mapping, but not with this permission" (a guard page); `SEGV_MAPERR` means "nothing
# is mapped here" ([sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html)).
# Memory debuggers and allocators use exactly this: electric-fence-style allocators put
# each block against a guard page, so an overflow faults on the first byte past the end
# (when the block's size is a multiple of the alignment they keep; otherwise a few bytes
# of padding lie between the end and the guard page).
#
# ### Exercise 2: a bump allocator that commits on demand
#
# Complete `bump_alloc(n)`. The arena is a large reservation (`bump_init` maps it
# `PROT_NONE`); `bump_alloc` hands out the next `n` bytes of it, 16-byte aligned like
# `malloc`, and makes memory readable/writable only as it is handed out: when the end of
# the new block passes `committed`, `mprotect` the next whole `COMMIT_STEP`s
# (64 KiB each; a finer step, whole pages, passes too, at the price of more `mprotect`
# calls) that are needed, but never past the end of the reservation (its size
# need not be a multiple of the step). Return `NULL` when the block does not fit. There
# is no free: a bump allocator releases everything at once.
#
# The check runs your allocator in a child: blocks must come from the reservation and
# be writable, aligned and separate; after 8 MiB of small blocks, the readable/writable
# part of the reservation (read from the child's `/proc/self/maps`) must stay within
# one step of what was used, and RSS near what was written; with a 100 KiB reservation
# nothing past its end may change; a request that does not fit must return `NULL`.

# %% tags=["solution"]
# %%cffi bump
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define COMMIT_STEP (64 * 1024)

static char *base;          /* start of the reservation */
static size_t reserved;     /* its size in bytes */
static size_t used;         /* bytes handed out so far (from base) */
static size_t committed;    /* bytes from base that are readable/writable */

int bump_init(size_t reserve) {
    base = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) { base = NULL; return -1; }
    reserved = reserve;
    used = committed = 0;
    return 0;
}

size_t bump_committed(void) { return committed; }

void *bump_alloc(size_t n) {
    // ### BEGIN SOLUTION
    size_t start = (used + 15) & ~(size_t)15;                 /* 16-byte aligned */
    if (start > reserved || n > reserved - start)
        return NULL;                                          /* does not fit */
    size_t end = start + n;
    if (end > committed) {
        size_t want = (end + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
        if (want > reserved)
            want = reserved;
        if (mprotect(base + committed, want - committed, PROT_READ | PROT_WRITE) != 0)
            return NULL;
        committed = want;
    }
    used = end;
    return base + start;
    // ### END SOLUTION
    return NULL;
}

# %% tags=["check"]
from labsupport.lessons.virtual_memory import check_bump

check_bump(bump)

# %% [markdown]
# The third case is the one that catches the tempting shortcut: `mprotect` the whole
# reservation at once. It "works", and Linux would even keep RSS low, but it turns the
# reservation into committed memory: the whole gigabyte is charged to `Committed_AS`
# at once (section 2; in mode 2 it may be refused), as `MEM_COMMIT` would charge it on
# Windows. (Here `bump_init` reserves with `MAP_NORESERVE`, which modes 0 and 1 do not
# charge even when made writable; in mode 2 they do.) The fourth case catches the
# missing clamp: rounding the last commit up to a whole step reaches past a
# reservation whose size is not a multiple of the step, and `mprotect` then changes
# the permissions of whatever is mapped next to it, or fails. Real
# allocators do what you wrote: mimalloc reserves arenas and commits them in steps
# (its `MIMALLOC_ARENA_RESERVE` option) and commits parts of them as needed — on Windows
# with `MEM_RESERVE` and `MEM_COMMIT`; on Linux it may commit eagerly when the system
# overcommits anyway.
#
# ## Summary
#
# - A process's address space is a list of regions, each backed by something: the
#   program's file, a library's file, another file, or nothing (anonymous: heap, stack,
#   big mallocs). `/proc/PID/maps` lists them; `smaps` adds what is resident.
# - Reserving address space costs nothing; committing (Linux: `mprotect` to writable;
#   Windows: `MEM_COMMIT`) is charged (`Committed_AS`; the commit charge); **writing**
#   a page is what uses memory: one minor fault and one page each for anonymous memory
#   (2 MiB with a huge page; a read maps the shared zero page), fewer faults than pages
#   for a cached file (fault-around).
# - What happens at the limit is the overcommit mode: mode 0 refuses only one request
#   larger than RAM + swap, mode 1 nothing, mode 2 (like Windows) everything past the
#   commit limit. A `malloc` that succeeds has address space and a charge behind it, not
#   memory; the bill comes at first touch.
# - `MAP_SHARED` pages are the page cache's, seen by every process and by `read()`;
#   `msync` is for durability. `MAP_PRIVATE` copies one page per first write.
# - VSZ, RSS, PSS, USS, anonymous, swap, working set, private bytes, commit charge: each
#   answers a different question. For a leak watch anonymous + swap (Linux) or private
#   bytes (Windows).
# - Guard pages turn a stray access into a SIGSEGV at the exact byte (`si_addr`), with
#   `SEGV_ACCERR` (mapped, not allowed) or `SEGV_MAPERR` (nothing there).
#
# **Myths corrected**
#
# - *"Virtual memory is RAM plus the page file."* Virtual memory is address space: a
#   process here reserved 1 GiB and, in eight requests, four times the machine's RAM,
#   with none of it in RAM or swap. RAM + page file is Windows' *commit limit*, one
#   particular budget.
# - *"A malloc that succeeds has memory behind it."* On Linux it has address space
#   behind it; memory arrives page by page at first touch, and can be missing then.
# - *"RSS is what the process costs."* RSS counted the 16 MiB file (page cache, shared,
#   droppable, and still cached after the process exits). PSS halved the 32 MiB of
#   anonymous pages while the child shared them, and USS lost them at the fork. What the
#   process alone holds and must give back is its anonymous memory + swap; on Windows the
#   commit charge is what it may cost.
# - *"On Linux, committing memory is free; only Windows charges it."* Linux charges
#   every private writable mapping to `Committed_AS` at `mprotect` or `mmap` time; only
#   the policy at the limit differs.
#
# ## Further reading
#
# - Linux kernel documentation: [Overcommit accounting](https://docs.kernel.org/mm/overcommit-accounting.html);
#   [`/proc` (smaps, smaps_rollup, status)](https://docs.kernel.org/filesystems/proc.html);
#   [`vm.overcommit_memory` and friends](https://docs.kernel.org/admin-guide/sysctl/vm.html);
#   [Transparent huge pages](https://docs.kernel.org/admin-guide/mm/transhuge.html).
# - Linux kernel source (6.1): `mm/mprotect.c` (`mprotect_fixup`, the commit charge),
#   `mm/util.c` (`__vm_enough_memory`, the three overcommit modes), `mm/mmap.c`
#   (`MAP_NORESERVE` honoured only outside mode 2); and the cgroup v2 documentation,
#   [memory controller](https://docs.kernel.org/admin-guide/cgroup-v2.html#memory).
# - Wine: `dlls/ntdll/unix/virtual.c` (`anon_mmap_alloc`, `get_unix_prot`: a commit is
#   an `mprotect`) and `dlls/ntdll/unix/process.c` (`fill_vm_counters`).
# - Manual pages: [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [mprotect(2)](https://man7.org/linux/man-pages/man2/mprotect.2.html),
#   [mincore(2)](https://man7.org/linux/man-pages/man2/mincore.2.html),
#   [proc_pid_smaps(5)](https://man7.org/linux/man-pages/man5/proc_pid_smaps.5.html).
# - Microsoft Learn: [VirtualAlloc](https://learn.microsoft.com/en-us/windows/win32/api/memoryapi/nf-memoryapi-virtualalloc),
#   [Reserving and committing memory](https://learn.microsoft.com/en-us/windows/win32/memory/reserving-and-committing-memory),
#   [Memory limits for Windows releases](https://learn.microsoft.com/en-us/windows/win32/memory/memory-limits-for-windows-releases),
#   [PROCESS_MEMORY_COUNTERS_EX](https://learn.microsoft.com/en-us/windows/win32/api/psapi/ns-psapi-process_memory_counters_ex),
#   [Introduction to the page file](https://learn.microsoft.com/en-us/troubleshoot/windows-client/performance/introduction-to-the-page-file)
#   (the system commit limit: RAM plus page files).
# - Pavel Yosifovich, Alex Ionescu, Mark Russinovich, David Solomon: *Windows
#   Internals*, 7th edition, Part 1, chapter 5 "Memory management" (reserve/commit,
#   commit charge and limit, working sets).
#
# **Next:** lesson 04, *Cross-module free*.
