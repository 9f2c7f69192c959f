# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 09 · Measuring allocators, and a malloc lab
#
# "mimalloc is 3× faster than glibc." Faster *at what*, *on which machine*, and
# *measured how*? This lesson measures allocators yourself, honestly, on a
# machine that other people are using at the same time — and then lets you
# build one and score it the way CS:APP's malloc lab does.
#
# **In this notebook (about 75 minutes, of which about 3 minutes are the machine
# measuring)** you will:
# 1. run five small C workloads (mixed small objects, large blocks, many threads,
#    producer/consumer with cross-thread frees, fragmentation) under glibc,
#    glibc without its tcache, mimalloc and lesson 01's teaching allocator;
# 2. learn why one timing means nothing on a shared machine, and measure the
#    right way: warm-up, interleaved runs, medians, paired ratios with their spread,
#    CPU time next to wall time, memory next to time;
# 3. predict the winners, check your predictions against your own run, and
#    compare with the mimalloc paper and its benchmark suite;
# 4. explain the numbers: per-thread caches, free-list sharding, cross-thread
#    frees, system calls and page faults;
# 5. score allocators in a **malloc lab** — correctness first, then utilisation
#    and throughput — on lesson 01's traces and on a trace recorded from a real
#    program, and improve the teaching allocator.
#
# **Prerequisites:** lessons 00 and 01 (chunks, tcache, the teaching allocator,
# fragmentation); lesson 05 helps (`LD_PRELOAD`).
#
# **A warning that is the lesson.** Every timing below comes from this machine,
# now. Your numbers will differ — that is expected, and part of what you learn.
# The cells that show timings are not compared by the course's tests; the
# cells that show *verdicts* (which allocator is correct) are.

# %%
import labsupport as lab
# %load_ext labsupport
from labsupport import allocbench as ab

# %% [markdown]
# `labsupport.allocbench` is this lesson's helper (source in
# `labsupport/allocbench.py`): it builds the workloads, runs them through
# `lab.run_program` (a fresh process each time, with a timeout), and does the
# bookkeeping of medians and ratios. The C is in
# `native_examples/09_measuring_allocators/`.
#
# Allocators change between versions, so every figure below is this machine's.
# The versions it ran with (not compared when the book is re-run: they are
# whatever the machine has):

# %%
# NBVAL_IGNORE_OUTPUT
import os
import platform
import subprocess
awk_version = subprocess.run(["awk", "-W", "version"], capture_output=True, text=True).stdout.splitlines()
print("glibc", platform.libc_ver()[1] or "?", "| mimalloc", lab.mimalloc().version,
      "| awk:", awk_version[0] if awk_version else "?", "|", os.uname().machine)

# %% [markdown]
# ## 1. Five workloads, four allocators
#
# Each workload is a small C program with parameters on its command line. It
# times only its own measured loop and prints one line: wall time, CPU time
# (user + system), peak resident memory, page faults, and a checksum of the
# data it wrote (so the compiler cannot delete the work).

# %%
for w in ab.WORKLOADS.values():
    print(f"{w.name:9} {w.source:11} quick args {' '.join(w.quick):28} {w.what}")

# %% [markdown]
# The allocators are not rebuilt into the programs: the *same binary* runs under
# four settings of its environment (lesson 05 showed how this works):
#
# | name | how | what it is |
# |---|---|---|
# | `glibc` | nothing | glibc's malloc (version printed above): arenas, bins, tcache |
# | `glibc-no-tcache` | `GLIBC_TUNABLES=glibc.malloc.tcache_count=0` | the same, without its per-thread cache |
# | `mimalloc` | `LD_PRELOAD=` the wheel's `libmimalloc.so` | mimalloc 3.4: per-thread heaps, pages of one size class, sharded free lists |
# | `talloc` | `LD_PRELOAD=` `talloc_preload.c` + lesson 01's `talloc.c` | the teaching allocator, unchanged: one arena, first fit, one free list, and one lock for all threads |
#
# `talloc_preload.c` is about 120 lines: `malloc`, `free`, `calloc`, `realloc` and
# the aligned variants on top of `ta_malloc`/`ta_free`, with a spin lock.
#
# One run, to see what a workload reports:

# %%
# NBVAL_IGNORE_OUTPUT
one = ab.run_workload("churn", "glibc")
print(one)

# %% [markdown]
# `wall` is how long the loop took on the clock on the wall; `cpu` is how much
# processor time the whole process got, start-up included (loading the program
# and its libraries: a few milliseconds). On a quiet machine and one thread,
# `cpu` is therefore a little *more* than `wall`. On this course's build machine
# (2 cores shared with other jobs) `wall` was at busy moments two or three times
# `cpu`: the program was *waiting for a core*.
#
# Peak memory comes from `VmHWM` in `/proc/self/status`, not from `getrusage`'s
# `ru_maxrss`, and here is why:

# %%
print("ru_maxrss is larger than the program's own peak:", one["ru_maxrss_kb"] > 2 * one["maxrss_kb"])

# %% [markdown]
# On Linux `ru_maxrss` survives `execve`: the workload was started by a fork of
# this notebook's big Python helper process, and `ru_maxrss` still reports that
# process's peak. `VmHWM` belongs to the program's own memory map, which `execve`
# replaced. `man 2 getrusage` says it in one line ("Resource usage metrics are
# preserved across an execve(2)"); the measurement above shows what it means.
#
# ## 2. One timing means nothing here
#
# **Predict:** run the same program, same input, same allocator nine times in a
# row. How far apart will the fastest and slowest run be: 1 %, 10 %, 100 %?

# %%
# NBVAL_IGNORE_OUTPUT
import statistics
runs = [ab.run_workload("churn", "glibc") for _ in range(9)]
walls = [r["wall"] * 1000 for r in runs]
cpus = [r["cpu"] * 1000 for r in runs]
print("wall ms:", " ".join(f"{x:6.1f}" for x in walls))
print("cpu  ms:", " ".join(f"{x:6.1f}" for x in cpus))
for name, xs in [("wall", walls), ("cpu", cpus)]:
    print(f"{name}: median {statistics.median(xs):6.1f} ms, fastest {min(xs):6.1f}, slowest {max(xs):6.1f}, "
          f"spread (max-min)/median = {(max(xs) - min(xs)) / statistics.median(xs):.0%}")
print(f"first run / median of the others (wall): {walls[0] / statistics.median(walls[1:]):.2f}")

# %%
# NBVAL_IGNORE_OUTPUT
from matplotlib.figure import Figure
fig = Figure(figsize=(8, 2.6), layout="constrained")
ax = fig.add_subplot()
ax.plot(range(1, 10), walls, "o-", label="wall")
ax.plot(range(1, 10), cpus, "s-", label="cpu (user + sys)")
ax.set_xlabel("run")
ax.set_ylabel("ms")
ax.set_ylim(bottom=0)
ax.set_title("the same program nine times: churn under glibc", fontsize=10)
ax.legend(fontsize=8)
fig

# %% [markdown]
# What you see depends on what else the machine is doing, and one run cannot
# tell you which case you are in:
#
# - **On a busy machine the spread is large.** Other programs take the cores, the
#   CPU changes its clock speed, caches and the branch predictor hold someone
#   else's data. During most builds of this book, with other jobs on its 2 cores,
#   the nine wall times spread over 70–80 % of their median while CPU time stayed
#   within 5–7 %; in a quiet moment both stayed within 2–3 % (look at your own
#   cell). A single measurement can be off by tens of percent — more than many
#   "speed-ups" people publish.
# - **CPU time varies less than wall time** for a single thread: it leaves out the
#   time spent waiting for a core. It is what to compare for one-thread work on a
#   busy machine. For many threads, wall time is what users feel, but it also
#   measures the scheduler: on 2 cores, 4 threads wait for each other whatever
#   the allocator does.
# - **The first run can be slower** (warm-up): the program's pages not yet in
#   memory, caches, CPU frequency. In the run that built this book it was not:
#   the program and its libraries were already in the page cache from the cell
#   before. Throw it away anyway; it costs one run.
#
# So the rules this lesson follows, in every measurement below:
#
# 1. **Warm up**, then measure several times, and report the **median** (a burst of
#    load moves the mean, not the median) with the **spread** (min..max).
# 2. **Interleave** A and B: run A, B, A, B… rather than A, A, A, B, B, B. A load
#    burst then hurts both, and each *pair* of runs is compared at the same moment:
#    the ratio A/B per pair is much steadier than either time alone.
# 3. Report **ratios** measured side by side in one run, never absolute times from
#    another machine (or another day): a ratio from a 16-core Zen 3 does not
#    transfer to a 2-core virtual machine, and a millisecond count transfers even less.
# 4. Put **memory next to time**: an allocator can buy speed with memory.
#
# `ab.compare(workloads, allocators, repeats)` does all of this: one warm-up
# round (thrown away), then `repeats` rounds; inside each round every workload
# runs under every allocator, in an order that rotates from round to round. It
# shows its progress while it runs.
#
# ### Exercise 1: predict the winners
#
# For each workload, which is faster here, **glibc or mimalloc** (median wall
# time), and **by what factor** (slower time / faster time, so at least 1)? Write
# your guesses *before* running the comparison below; the check compares them with
# **your own run**: the winner must match where your run shows a clear winner
# (at least 1.3×), and your factor must be within a factor 2 of the measured one.
# Think about: one thread or many, small or large blocks, who frees what.

# %% tags=["solution"]
predictions = {            # workload: (winner, factor)
    ### BEGIN SOLUTION
    "churn": ("mimalloc", 1.5),
    "large": ("mimalloc", 6.0),
    "threads": ("mimalloc", 2.0),
    "prodcons": ("mimalloc", 2.5),
    "frag": ("mimalloc", 2.0),
    ### END SOLUTION
}

# %% [markdown]
# The real thing: all five workloads, all four allocators, five rounds after a
# warm-up round (about a minute here). Change `repeats`, the allocators, or a
# workload's parameters (`args={"prodcons": ("2", "500000", "16", "256")}`: two
# pairs, batches of 16) and run it again. The last lines check your predictions.

# %%
# NBVAL_IGNORE_OUTPUT
res = ab.compare(list(ab.WORKLOADS), ab.ALLOCATORS, repeats=5)
print(res.table())
ab.check_predictions(predictions, res)

# %% [markdown]
# How to read the table: `median wall` of the five rounds; `spread` =
# (slowest − fastest) / median of those rounds; `glibc/this` = the median of the
# five *paired* ratios (glibc's time in a round divided by this allocator's in the
# same round: above 1 means faster than glibc) and their range; `cpu s`; peak RSS
# (`VmHWM`); minor page faults. The same as a picture, on log scales:

# %%
# NBVAL_IGNORE_OUTPUT
res.plot()

# %% [markdown]
# ## 3. What explains the numbers
#
# Read your own table while you go through this; the figures quoted are from the
# run that built this book, on a 2-core shared virtual machine.
#
# **Small objects, one thread (`churn`).** mimalloc's fast path is "pop the head
# of this page's free list" (lesson 01, section 4) and a free is "push onto the
# page's local list": no search, no header to update, no lock. glibc with tcache
# is close to that for sizes up to 1,032 bytes while its 7-entry caches have room;
# without tcache (`glibc, no tcache`) every malloc and free goes through the bins
# with the arena lock, and it was about **2× slower** than with it — that is what a
# per-thread cache buys. The teaching allocator searches one free list and
# coalesces on every free: about 2× slower than glibc, which is not bad for 150
# lines.
#
# **Large blocks (`large`).** Look at the page faults, not only the time: glibc
# gives memory back to the kernel — when more than 128 KiB is free at the top
# of its heap it *trims* it (`brk` down; `M_TRIM_THRESHOLD`), and blocks above
# the mmap threshold are `munmap`ped at `free` — and the next allocation faults
# the pages in again, one 4 KiB page at a time: about 90,000 faults for 6,000
# allocations. mimalloc keeps freed memory for a while before it "purges" it
# (`purge_delay`: 1,000 ms in this version; `MIMALLOC_VERBOSE=1` lists every
# option) and lets the kernel back its memory with 2 MiB transparent huge pages
# (`allow_thp`: 1), so a few hundred faults map tens of megabytes. Measured
# outside the notebook: with `MIMALLOC_ALLOW_THP=0` the same run took about
# 10,000 faults instead of about 150, and its peak RSS fell from 51 to 41 MB. The
# teaching allocator never returns anything: as fast as mimalloc here, and it
# keeps every page it ever touched. mimalloc paid for its speed with about **5×
# glibc's peak memory** on this workload.
#
# **Independent threads (`threads`).** glibc gives threads their own *arenas*
# (up to 8 per core) and each thread its own tcache; mimalloc gives each thread
# its own heap. Both scale; the teaching allocator's single lock serialises
# everything and it was **3 to 6× slower** than glibc over our runs. With 4 threads on 2
# cores, wall time also includes waiting for a core: compare `cpu s`.
#
# **Cross-thread frees (`prodcons`).** The consumer frees blocks the producer
# allocated. In glibc, `free` first puts the chunk into the *freeing* thread's
# tcache (whatever arena it came from), and once that holds 7 chunks of the size,
# into the owning arena — taking that arena's lock, which the producer needs for
# its mallocs: the two threads contend on one lock. In mimalloc, a free from
# another thread is one atomic push onto the page's separate **thread-free list**
# (free-list *multi*-sharding, lesson 01); the owner collects the whole list
# later in one step, so the threads hardly ever touch the same word. Expect a
# large spread on the thread workloads: two or four threads on two busy cores.
#
# **Fragmentation (`frag`).** Look at peak RSS: the teaching allocator (first
# fit, one arena, nothing ever returned) needed about **9× glibc's memory**;
# the holes pinned by surviving small blocks are too small for the later, bigger
# requests, so it grows the arena. glibc's size-segregated bins and mimalloc's
# size-class pages keep the small survivors together, away from the big blocks.
#
# ### System calls, counted
#
# **Predict:** how many `mmap`, `munmap` and `brk` calls does `large` make under
# glibc, and under mimalloc? `strace -c` counts them (it slows the program down a
# lot, so only the counts mean something, not the times):

# %%
# NBVAL_IGNORE_OUTPUT
if lab.have("strace"):
    for alloc in ("glibc", "mimalloc"):
        calls = ab.syscall_counts("large", alloc)
        memory = {k: v for k, v in sorted(calls.items()) if k in ("brk", "mmap", "munmap", "madvise", "mprotect")}
        print(f"{alloc:9} {sum(calls.values()):7,} system calls; memory-related: {memory}")
else:
    print(lab.missing("strace"))

# %% [markdown]
# glibc made about 700 system calls, nearly all of them `brk`: the top of its
# heap going up and down as big blocks come and go (the mmap threshold rises
# after the first big `free`, so after that the big blocks come from the heap).
# mimalloc made about 90: it maps big regions once and manages them itself. Each
# system call and each page fault costs microseconds, which is a lot next to a
# malloc fast path of a few nanoseconds. (`perf stat -e page-faults,syscalls:...`
# would count without slowing the program, but on virtual machines and in
# containers `perf` often lacks the permission or the hardware counters; the
# page-fault column of the table comes from `getrusage` and needs nothing.)
#
# ### Comparing with the mimalloc paper and mimalloc-bench
#
# The mimalloc technical report (Leijen, Zorn, de Moura, MSR-TR-2019-18; APLAS
# 2019) and the benchmark suite it uses, `mimalloc-bench` (where glibc is called
# `sys`), show mimalloc ahead of or close to every other allocator on nearly
# every benchmark, with the biggest margins on multi-threaded ones that move
# objects between threads (`larsonN`, `mstressN`, `xmalloc-testN`) and small
# margins on single-threaded programs such as `cfrac` and `redis` ("all
# allocators do well on such common usage", in mimalloc's README). Two details
# from the README worth knowing: on `xmalloc-testN` (threads that only allocate
# and threads that only free) "only rpmalloc, tbb, and glibc also scale well",
# and results are "relative to mimalloc (where 1.2 means it took 1.2× longer)".
# What to expect when you compare your ratios with theirs:
#
# - **The direction agrees, the size does not.** Here mimalloc also won the
#   single-threaded small-object churn, by a modest factor (between about 1.3
#   and 2× over the runs we made), and won on the cross-thread workload by about
#   2–3× — with a wide spread between
#   rounds (in some runs below 1), because two busy cores decide more than the
#   allocator.
# - **Their machines are not yours.** The README's 2021 results come from a
#   16-core AMD 5950x and a 2×18-core Xeon, idle, with benchmarks that run for
#   seconds, and "`N`" means all logical cores in parallel. A 2-core shared
#   virtual machine cannot show scalability at all.
# - **Their glibc is not yours.** The README's 2021 figures used glibc 2.31; the
#   tcache arrived in 2.26 and glibc keeps changing. Ours is printed at the top.
# - **Their workloads are not these.** `xmalloc-testN` runs allocating and
#   freeing threads on every core; our `prodcons` has one pair with batches of 64. Short
#   runs (tens of milliseconds here) also weigh start-up costs that seconds-long
#   benchmarks hide.
# - **Speed is not all they report.** The README also plots peak working set:
#   mimalloc is not always the smallest, as our `large` row shows.
#
# The honest summary of a comparison is therefore of the form "on *this* machine,
# for *this* workload, glibc took 1.45× mimalloc's time (1.1..1.5 over 5 paired
# runs)" (an example: read your own table) — not "mimalloc is 3× faster".
#
# ## 4. A malloc lab
#
# Speed is only one score. CS:APP's malloc lab (Bryant and O'Hallaron, chapter 9.9)
# scores a student's allocator on **correctness** first (an incorrect allocator
# gets nothing), then **utilisation** (how much of the memory it holds is
# really in use) and **throughput**. This lesson's driver does the same. An
# allocator is one C file implementing five functions:

# %%
print(ab.here("mm.h").read_text().split("#ifndef")[0].strip().replace("/* ", "").replace(" */", ""))
print()
print("\n".join(line for line in ab.here("mm.h").read_text().splitlines() if line.startswith(("int", "void", "size_t"))))

# %% [markdown]
# The driver, `mdriver.c`, replays a trace (`alloc ID SIZE`, `free ID`, and now
# `realloc ID SIZE`) three times:
#
# 1. **Correctness**, checked after every operation: the payload is aligned
#    (16 bytes; a request under 16 bytes needs only the alignment of the biggest
#    power of two that fits in it, which is all C23 asks); it overlaps no live
#    block (a balanced tree of live blocks); every block is filled with a
#    pattern, checked when it is freed or resized, so an allocator that writes
#    its bookkeeping into a live block is caught; `realloc` keeps the old bytes.
#    The first failing operation is named, and a crash inside the allocator is
#    caught and named the same way.
# 2. **Utilisation** = peak live bytes requested / peak footprint, in the same pass.
#    The footprint is what `mm_footprint()` says: for the teaching allocator, the
#    arena up to the end of the highest block ever handed out; for glibc,
#    `mallinfo2()` (bytes from the system minus the free top chunk); for
#    mimalloc, resident memory (whole pages: small traces look bad on it).
# 3. **Throughput**: the trace replayed without checks, one warm-up replay and the
#    median of five. Reported relative to glibc in the same run.
#
# The driver's own memory comes from `mmap`, never `malloc`, so it does not
# disturb what it measures.
#
# **Predict:** `mm_broken.c` is the teaching allocator with one slip: it asks
# `talloc` for 16 bytes less than requested (it "forgot" the header and footer).
# On which trace does the driver catch it, and how?

# %%
for trace in ["intro", "fragment", "random1000"]:
    s = ab.score("broken", trace, repeats=0)
    print(f"{trace:11}", "correct" if s.ok else "REJECTED: " + s.message)

# %% [markdown]
# On `intro` the slip went unnoticed: the overflow there only hit bytes nobody
# read again, so every check passed. That is why a driver needs several traces,
# and why "it passed my test" proves little about an allocator. On `fragment`
# and `random1000` a write past a block's end changed the header of the block
# after it, and talloc's own next call crashed on that header. The operation
# and the line of the trace are named: that is where to start reading.
#
# ### A trace from a real program
#
# Lesson 01's traces are small and synthetic. `tracerec.c` is a small `LD_PRELOAD`
# library (about 200 lines) that records every `malloc`, `calloc`, `realloc` and
# `free` of a running program in the same format: each block gets a number, and
# its own bookkeeping uses `mmap`, so it does not record itself. Here it records
# `awk` counting 20,000 lines into a table and building a long string:

# %%
words = lab.cache_dir() / "traces" / "words.txt"
words.parent.mkdir(parents=True, exist_ok=True)
words.write_text("".join(f"{i} word{i % 97}\n" for i in range(20000)))
awk_trace = ab.record(["awk", "{ count[$1 % 3000]++; s = s $2 } END { print length(s) }", str(words)], "awk")
kinds = {k: sum(1 for op in awk_trace.ops if op[0] == k) for k in ("alloc", "realloc", "free")}
# the exact counts depend on the awk and libc installed: compared here is what every
# version shows; the next cell prints them exactly
print(f"recorded about {round(len(awk_trace), -3):,} operations:",
      ", ".join(f"{k} {kinds[k] / len(awk_trace):.0%}" for k in ("alloc", "free")),
      f"| fewer than 10 realloc: {kinds['realloc'] < 10}")

# %%
# NBVAL_IGNORE_OUTPUT
# exact figures: they differ between awk and libc versions (see the version line at the top)
print(f"recorded {len(awk_trace):,} operations: {kinds}")
print("first operations:", "; ".join(f"{k} {i} {n}" if k != "free" else f"free {i}" for k, i, n, _ in awk_trace.ops[:6]))

# %% [markdown]
# (The exact counts depend on the `awk` and the C library installed: Debian's
# default `awk` is `mawk`, and Debian 13's newer `mawk` makes a few different
# requests at start-up than Debian 12's. The shape is the same: one `free` for
# almost every `malloc`, a few `realloc`s.)
# A second realistic shape: `ab.grow_trace()` — six buffers grown by small
# steps with `realloc` (a string builder, a vector), with short-lived small
# blocks allocated in between, which is what makes a naive `realloc` (allocate,
# copy, free) waste memory.
#
# **Predict:** on which traces will the teaching allocator have better
# utilisation than glibc? Which allocator is fastest on the recorded trace?

# %%
grow = ab.grow_trace()
lab_traces = ["intro", "fragment", "exercise", "random1000", grow, awk_trace]
allocators = {"glibc, no tcache": "glibc-no-tcache", "mimalloc": "mimalloc", "teaching": "talloc"}
scores = ab.malloclab(allocators, lab_traces, repeats=5, rounds=3, progress=False)
print(ab.lab_verdicts(scores))

# %%
# NBVAL_IGNORE_OUTPUT
print(ab.lab_table(scores))
ab.lab_plot(scores)

# %% [markdown]
# What this shows (utilisation is deterministic for glibc and the teaching
# allocator: same trace, same code, same result; speed is not):
#
# - **Everyone is correct**, including mimalloc on `intro`, whose `malloc(0)`
#   returns an address that is only 8-byte aligned: mimalloc's smallest size
#   class is 8 bytes, and C23 requires no more for a request that small. A
#   driver that demanded 16 bytes for every request would have failed it.
# - **Utilisation** on the synthetic traces: the teaching allocator (a byte-exact
#   arena, no caches) beats glibc *with* tcache, whose caches keep freed chunks
#   out of circulation (and whose heap starts with the 656-byte tcache block);
#   glibc *without* tcache is the tightest, as lesson 01 found: its bins amount
#   to best fit. On the recorded `awk` trace glibc beats the teaching allocator.
#   mimalloc's figures are whole resident pages, tiny on the small traces: it
#   sets up pages per size class in use, which pays off only with many objects
#   of each size.
# - **Throughput** on the tiny traces is noise (a few hundred nanoseconds in
#   all). The recorded trace holds a surprise: glibc was **many times
#   slower** there than mimalloc and the teaching allocator (the table gives this
#   machine's factor). `awk` builds a string that
#   grows to 118 KB by allocating a bigger copy and freeing the old one; in
#   glibc each round leaves more than 128 KiB free at the top of the heap, so it
#   trims (`brk` down) and grows again (`brk` up) at the next allocation:
#   `strace -c` on one replay (glibc 2.36, Debian 12) counted more than ten
#   thousand `brk` calls. No synthetic trace
#   of this lesson showed that; a recorded one did in its first run.
#
# ### Exercise 2: a better teaching allocator
#
# The teaching allocator's utilisation on the recorded `awk` trace is low (see
# the table). Change the allocator below — it is `mm_talloc.c`, lesson 01's
# allocator behind the lab's interface — so that its utilisation on the recorded
# trace reaches **at least 90 % of glibc's without tcache** on the same trace
# (the check measures both on this machine), while staying correct on every
# lab trace. The driver checks both. Everything in `talloc.h` is yours to use:
# the placement policies and free-list orders of lesson 01
# (`TA_FIRST_FIT`, `TA_NEXT_FIT`, `TA_BEST_FIT`; `TA_LIFO`, `TA_ADDRESS`), the
# block helpers (`ta_block_of`, `ta_next_block`, `ta_is_used`, `ta_size`,
# `ta_set`, `ta_list_remove`, `ta_list_insert`) — or write `mm_realloc` that
# grows a block in place. Then look at the speed in the table the check does
# not show: `ab.malloclab({"yours": my_allocator}, lab_traces)`.

# %% tags=["solution"]
my_allocator = r"""
#include "mm.h"
#include "talloc.h"

#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)256 << 20)

static ta_heap heap;
static unsigned char *arena;
static size_t high;                       /* footprint: highest block end, from the arena start */

static void note(void *p)
{
    if (!p) return;
    size_t end = (size_t)((unsigned char *)ta_next_block(ta_block_of(p)) - heap.base);
    if (end > high) high = end;
}

int mm_init(void)
{
    int policy = TA_FIRST_FIT, order = TA_LIFO;
    if (!arena) {
        arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (arena == MAP_FAILED) { arena = NULL; return -1; }
    }
    high = 0;
    // ### BEGIN SOLUTION
    /* Best fit: a small request takes the smallest hole that fits instead of
       cutting into the big free block at the front of the LIFO list. */
    policy = TA_BEST_FIT;
    // ### END SOLUTION
    return ta_init(&heap, arena, ARENA, policy, order, 1);
}

void *mm_malloc(size_t n) { void *p = ta_malloc(&heap, n); note(p); return p; }
void mm_free(void *p) { if (p) ta_free(&heap, p); }
size_t mm_footprint(void) { return high; }

void *mm_realloc(void *p, size_t n)
{
    if (!p) return mm_malloc(n);
    size_t have = ta_size(ta_block_of(p)) - TA_OVERHEAD;     /* usable bytes of the old block */
    void *q = mm_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, have < n ? have : n);
    mm_free(p);
    return q;
}
"""

# %%
ab.check_utilisation(my_allocator, awk_trace, ["intro", "fragment", "exercise", "random1000", grow],
                     factor=0.9, versus="glibc-no-tcache")

# %% [markdown]
# Best fit lifts the utilisation on the recorded trace to about glibc's without
# tcache (a factor of 1.5 over the original with Debian 12's `mawk` and glibc 2.36,
# 1.3 with Debian 13's), and so does address-ordered first fit: both keep small requests out of the big
# free blocks, as Wilson et al. found for many real programs (lesson 01). Growing
# in place in `mm_realloc` sounds like the obvious fix for a `realloc`-heavy
# trace, but try it on `grow`: with a LIFO first-fit list it made utilisation
# *worse* there, because the remainder of the block it grew into goes to the
# front of the free list and the next small allocation lands right behind the
# buffer, blocking its next growth. Measure, don't assume. And look at the
# speed column: address order makes every free walk the list — the same memory,
# and about 7 times slower than the original first fit on the recorded trace
# in the run that built this book (best fit: about 2 times). Utilisation and throughput pull
# in opposite directions; the malloc lab scores both for that reason.
#
# ## Summary
#
# - On a shared machine one timing means nothing: warm up, repeat, interleave,
#   report medians and the spread of *paired* ratios; compare CPU and wall time;
#   never compare absolute times across machines.
# - mimalloc beat glibc here on most workloads, by factors from about 1.3× (small
#   objects, one thread) to several times (large blocks, cross-thread frees) — with
#   a spread that on two busy cores can cross 1. It bought part of that with memory.
# - The mechanisms behind the numbers: per-thread caches (glibc's tcache alone was
#   worth about 2×), free-list sharding and a separate thread-free list
#   (cross-thread frees without a shared lock), keeping pages instead of returning
#   them (fewer system calls and page faults, more resident memory).
# - A malloc lab scores correctness first — with several traces, since one trace
#   let a broken allocator pass — then utilisation and throughput, which pull in
#   opposite directions.
#
# **Myths corrected**
#
# - *"A faster allocator is always better."* mimalloc was faster on `large` and
#   held about 5× the memory; the teaching allocator was fastest there too and
#   never gives memory back. Speed, memory and predictability are traded against
#   each other; which matters depends on the program.
# - *"The paper's benchmarks hold on your machine."* The direction mostly did,
#   the factors did not: different cores, load, glibc version, workloads and run
#   lengths. Measure your program, on your machine, with the method above.
# - *"A test that passes proves the allocator is correct."* The broken allocator
#   passed `intro`.
#
# ## Further reading
#
# - D. Leijen, B. Zorn, L. de Moura, [*Mimalloc: Free List Sharding in Action*](https://www.microsoft.com/en-us/research/publication/mimalloc-free-list-sharding-in-action/),
#   APLAS 2019; the longer technical report MSR-TR-2019-18 has the benchmarks.
# - [mimalloc-bench](https://github.com/daanx/mimalloc-bench): the benchmark suite
#   (glibc is `sys` there); mimalloc's [README, "Performance"](https://github.com/microsoft/mimalloc#performance)
#   and its options (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_ALLOW_THP`).
# - P. R. Wilson, M. S. Johnstone, M. Neely, D. Boles, [*Dynamic Storage Allocation: A Survey and Critical Review*](https://www.cs.hmc.edu/~oneill/gc-library/Wilson-Alloc-Survey-1995.pdf),
#   IWMM 1995: policies, fragmentation, and why synthetic traces mislead.
# - R. E. Bryant, D. R. O'Hallaron, *Computer Systems: A Programmer's Perspective*,
#   3rd ed., section 9.9 (dynamic memory allocation) and its malloc lab.
# - glibc: [MallocInternals](https://sourceware.org/glibc/wiki/MallocInternals)
#   (arenas, tcache) and the [tunables](https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html).
# - `man 2 getrusage` (`ru_maxrss`), `man 5 proc` (`VmHWM`), `man 1 strace`.
# - WG14 [N2293](https://www.open-std.org/jtc1/sc22/wg14/www/docs/n2293.htm):
#   the alignment of `malloc` for small sizes, adopted in C23.
