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
# # 06 · Static versus dynamic mimalloc, from the link error to the crash (the Drogon case)
#
# In April 2024 a user of the Drogon C++ web framework on macOS created a new project
# and got `ld: library not found for -lmimalloc-static` (drogon issue #1994). With the
# *dynamic* mimalloc it built and ran. With the *static* one installed it built, but
# the server crashed when it loaded its JSON config (`loadConfigFile`), and a Drogon
# tool printed `pointer being freed was not allocated` (issue #2022). This lesson
# rebuilds each step for real on Linux, with real CMake, and says exactly where macOS
# differs.
#
# **You will learn to**
# - read a CMake link error: *target names* (`mimalloc-static`) versus *file names*
#   (`libmimalloc.a`), and how an unknown target silently becomes `-lmimalloc-static`,
#   even from a line you never wrote (another library's CMake package);
# - take a built program apart (`ldd`, `readelf -d`, `nm`, size) and tell which
#   allocator serves it, a library it uses, and a library it opens later;
# - reproduce the crash: a config library on jsoncpp hands the program strings whose
#   memory comes from *another* allocator, as mimalloc's static archive does on macOS;
# - explain why only the config path crashes, why short strings hide it (SSO), and fix
#   it three ways: the dynamic library, one allocator, an API that frees where it allocates;
# - explain why on macOS `mimalloc.o` takes over malloc and `libmimalloc.a` does not: a
#   linker copies an archive member only when something refers to it.
#
# **Time:** about 75 minutes (the first run builds about twenty small CMake projects: two to
# three minutes; later runs use the cache).
# **Builds on:** 04 (two allocators in one process, private binding), 05 (who serves a
# pointer; static override with `mimalloc.o`; C++ `new`/`delete`).

# %% [markdown]
# ## Setup
#
# The projects live in `native_examples/06_static_vs_dynamic/`. CMake is the one from
# the `cmake` wheel on PyPI (so a learner needs no system CMake); mimalloc's own CMake
# package comes with the `cmeel-mimalloc` wheel. `lab.cmake_build` configures and
# builds a project once and caches the result by a hash of its files, its options and
# the tools' versions: running the notebook again does not rebuild.

# %%
import re
from pathlib import Path

import labsupport as lab
from labsupport.lessons import static_dynamic as sd

SRC = lab.example_path("06_static_vs_dynamic")
MI = lab.mimalloc()
CONFIG_JSON = str(SRC / "config" / "config.json")
print("mimalloc", MI.version, "from the cmeel-mimalloc wheel")
CMAKE = lab.have("cmake")
CXX = CMAKE and lab.have("jsoncpp") and lab.have("g++")
for tool in ["cmake", "jsoncpp", "g++"]:
    print(f"{tool:8}", "found" if lab.have(tool) else lab.missing(tool))
if CMAKE:
    r = lab.run_program([lab.cmake_path(), "--version"], timeout=30)
    print("cmake used here:", r.stdout.split()[2], "(the PyPI wheel)")

# %% [markdown]
# mimalloc's CMake package is a folder of `.cmake` files. The one that matters says
# which **targets** exist and which **files** they stand for:

# %%
pkg = next((MI.lib_dir / "cmake").glob("mimalloc-*"))
print("package folder: <mimalloc wheel>/lib/cmake/" + pkg.name)
release = (pkg / "mimalloc-release.cmake").read_text()
for target, location in re.findall(r'Import target "([^"]+)".*?IMPORTED_LOCATION_RELEASE "([^"]+)"',
                                    release, re.S):
    print(f"  target {target:16} -> file {location.replace('${_IMPORT_PREFIX}', '<prefix>')}")

# %% [markdown]
# ## 1. The link error
#
# Two projects, the same line `target_link_libraries(hello PRIVATE mimalloc-static)`.
# `with_find_package/CMakeLists.txt` first calls `find_package(mimalloc 3.4 CONFIG
# REQUIRED)`; `without_find_package/CMakeLists.txt` does not.
#
# **Predict:** does CMake stop with an error about the unknown `mimalloc-static` in the
# second project? If not, what reaches the linker?

# %%
LINK = {}
if CMAKE:
    for name in ["with_find_package", "without_find_package"]:
        b = lab.cmake_build(SRC / "link_error" / name)
        LINK[name] = b
        print(f"--- {name}: {'builds' if b.ok else 'fails at the ' + b.stage + ' step'}")
        # CMake adds -Wl,--dependency-file=... (for its own rebuild tracking) when the
        # linker supports it: with Debian 13's GNU ld 2.44, not with Debian 12's 2.40.
        # Not part of the story: left out so the line reads the same everywhere.
        print("link line:", re.sub(r" -Wl,--dependency-file=\S+", "", b.link_line("hello")))
        if not b.ok:
            print(b.errors())
else:
    print(lab.missing("cmake"))

# %% [markdown]
# CMake configured the second project without a word. In `target_link_libraries`, a
# name is first looked up as a **target**; `find_package(mimalloc)` is what creates the
# imported targets `mimalloc` and `mimalloc-static` (the file printed in Setup). Without
# it there is no such target, and CMake treats the name as a plain library name: the
# generated link line "will ask the linker to search for the library (e.g. `foo` becomes
# `-lfoo` or `foo.lib`)" (CMake documentation of `target_link_libraries`). The linker then looks for
# `libmimalloc-static.so` or `libmimalloc-static.a`, files that do not exist under any
# install of mimalloc: the static library's **file** is `libmimalloc.a`. GNU ld says
# `cannot find -lmimalloc-static`; Apple's linker says `library not found for
# -lmimalloc-static` (the line in drogon #1994), or in its newer versions
# `library 'mimalloc-static' not found` (mimalloc pull request #1082).
#
# With the target, the link line names the archive by its full path and adds what the
# target says it needs (`-lpthread -lrt -latomic`, from `INTERFACE_LINK_LIBRARIES` in
# `mimalloc.cmake`). mimalloc's readme (*Using the library*) gives exactly this pair:
# `find_package(mimalloc 1.8 REQUIRED)`, then `target_link_libraries(myapp PUBLIC
# mimalloc-static)`; copy the second line without the first and you get the error above.
#
# The same error has a second cause: the target exists only if mimalloc was built and
# installed with its static library. mimalloc's CMake option `MI_BUILD_STATIC` (default
# `ON` in mimalloc's `CMakeLists.txt`, checked in v3.4.3) controls it; a package built
# with `-DMI_BUILD_STATIC=OFF` installs no `libmimalloc.a` and its CMake package defines no
# `mimalloc-static`. mimalloc's own test programs once failed exactly like this with
# `MI_BUILD_STATIC=OFF`: `ld: library 'mimalloc-static' not found` (mimalloc pull request
# #1082, 2025-05-04).
#
# **A third route: through another library.** In drogon #1994 the user had written no
# CMake at all: `drogon_ctl create project` generated the project, and the user asked
# whether the new Drogon must be bound to mimalloc. The generated `CMakeLists.txt` names
# one library: `find_package(Drogon CONFIG REQUIRED)` and
# `target_link_libraries(${PROJECT_NAME} PRIVATE Drogon::Drogon)` (Drogon's template
# `drogon_ctl/templates/cmake.csp`, lines 31-32, snapshot of 2026-07-23). The
# maintainer's whole answer was "不必须，它找到了才会连" ("not required; it links it only
# if it finds it"). The first half is borne out: Drogon's own code never mentions
# mimalloc (its git history has no commit touching the word), so the second half cannot
# describe Drogon itself; the thread does not show which installed package named
# `mimalloc-static`. A generated project that never names mimalloc gets it one way: from
# the CMake package of a library it uses (here `Drogon::Drogon`, or one of its
# dependencies, as the user had built them).
# `transitive/framework` builds a static library that links `PRIVATE mimalloc-static`
# and writes its export file (what `install(EXPORT)` writes for the projects that use
# it); `transitive/app` uses the framework and never mentions mimalloc.
#
# **Predict:** does `app` link? Its own `CMakeLists.txt` has no mimalloc in it.

# %%
TRANSITIVE = {}
if CMAKE:
    fw = lab.cmake_build(SRC / "transitive" / "framework")
    exported = (fw.build_dir / "fwTargets.cmake").read_text()
    print("framework:", "builds" if fw.ok else fw)
    print("its export file says:", *[l.strip() for l in exported.splitlines() if "mimalloc" in l])
    for label, opts in [("app", {}), ("app, mimalloc found first", {"FIND_MIMALLOC": "ON"})]:
        b = lab.cmake_build(SRC / "transitive" / "app", options={"FW_DIR": fw.build_dir, **opts},
                            name="app-" + "-".join(opts) if opts else "app")
        TRANSITIVE[label] = b
        line = re.sub(r" -Wl,--dependency-file=\S+", "", b.link_line("app")).replace(str(fw.build_dir), "<framework>")
        print(f"--- {label}: {'builds' if b.ok else 'fails at the ' + b.stage + ' step'}\nlink line: {line}")
        if not b.ok:
            print(b.errors())

# %% [markdown]
# A static library is only a bag of object files: whatever it needs, even privately,
# the program that links it must link too. So CMake writes `$<LINK_ONLY:mimalloc-static>`
# into the framework's `INTERFACE_LINK_LIBRARIES`, and in the `app` project, where no
# `find_package(mimalloc)` ran, that name is no target: `-lmimalloc-static` again, from a
# line the user never wrote. The cure belongs to the framework's package: its
# `...Config.cmake` must call `find_dependency(mimalloc)` (CMake's
# `CMakeFindDependencyMacro`) before it includes its targets, which is what the second
# build does by hand with `find_package`.
#
# **A guard.** CMake 3.23 added the target property `LINK_LIBRARIES_ONLY_TARGETS`, which
# makes CMake "verify that link items that might be target names actually name existing
# targets": a name that could be a target but is not one becomes a configure error
# instead of a silent `-l`. The variable `CMAKE_LINK_LIBRARIES_ONLY_TARGETS` switches it
# on for every target the project creates. **Predict:** with the variable `ON`, does it
# catch both cases?

# %%
if CMAKE:
    guarded = {"without_find_package": lab.cmake_build(SRC / "link_error" / "without_find_package",
                                                       options={"CMAKE_LINK_LIBRARIES_ONLY_TARGETS": "ON"},
                                                       name="without-guarded"),
               "transitive app": lab.cmake_build(SRC / "transitive" / "app",
                                                 options={"FW_DIR": fw.build_dir,
                                                          "CMAKE_LINK_LIBRARIES_ONLY_TARGETS": "ON"},
                                                 name="app-guarded"),
               "transitive app, property set on fw": lab.cmake_build(SRC / "transitive" / "app",
                                                                     options={"FW_DIR": fw.build_dir,
                                                                              "GUARD_FW": "ON"},
                                                                     name="app-guard-fw")}
    for name, b in guarded.items():
        said = [l.strip() for l in b.log.splitlines()
                if "LINK_LIBRARIES_ONLY_TARGETS" in l or "cannot find" in l or l.strip() == "mimalloc-static"]
        print(f"--- {name}: fails at the {b.stage} step\n" + "\n".join(said))

# %% [markdown]
# The variable catches the name written in the project's own `target_link_libraries` (a
# configure error that names `mimalloc-static` before anything is built), not the one that
# arrives inside an imported target's interface. CMake's documentation of the property
# says why, and what to do: "This property is initialized by the value of the
# `CMAKE_LINK_LIBRARIES_ONLY_TARGETS` variable when a non-imported target is created.
# The property may be explicitly enabled on an imported target to check its link
# interface." The third build does that, with one line after the framework's export file
# is included (`transitive/app/CMakeLists.txt`, `-DGUARD_FW=ON`):
# `set_property(TARGET fw PROPERTY LINK_LIBRARIES_ONLY_TARGETS ON)`. Now the configure
# step stops and names `mimalloc-static`, which only the export file mentions. (The
# same page warns that names inside generator expressions such as `$<LINK_ONLY:...>` "may
# not always" be detected; here, with this CMake, it was.) mimalloc's targets carry no namespace
# (`mimalloc-static`, not `mimalloc::static`: `install(EXPORT mimalloc ...)` without
# `NAMESPACE`, `CMakeLists.txt` lines 701 and 753 at v3.4.3), so a
# name with `::`, which CMake always treats as a target, is no protection here either.

# %% [markdown]
# ## 2. What each build contains
#
# `who/CMakeLists.txt` builds one small C program, `who.c`, four ways: without mimalloc;
# linked to the `mimalloc` target (`libmimalloc.so`); to `mimalloc-static`
# (`libmimalloc.a`); and with `mimalloc.o` as its first object (lesson 05). It also builds
# `liblinked.so` (the program is linked against it) and `opened.so` (opened later with
# `dlopen(RTLD_LOCAL)`).
#
# **Predict:** which of the four executables have `libmimalloc.so` as a `NEEDED` entry?
# Which define `malloc` themselves, and which *export* it to other modules?

# %%
WHO = lab.cmake_build(SRC / "who") if CMAKE else None
KINDS = ["plain", "dynamic", "archive", "object"]


def tool_lines(argv):
    r = lab.run_program(argv, timeout=30)
    return r.stdout.splitlines()


def anatomy(path):
    needed = [l.split("[")[1].rstrip("]") for l in tool_lines(["readelf", "-d", str(path)])
              if "(NEEDED)" in l]
    defined = {l.split()[-1] for l in tool_lines(["nm", str(path)]) if re.search(r" [TW] \w+$", l)}
    exported = {l.split()[-1] for l in tool_lines(["nm", "-D", "--defined-only", str(path)])}
    return needed, defined, exported


if WHO and WHO.ok:
    print(f"{'build':8} {'size KiB':>8}  {'defines malloc/free/new':24} {'exports malloc':15} NEEDED")
    for kind in KINDS:
        exe = WHO.path(f"who_{kind}")
        needed, defined, exported = anatomy(exe)
        mine = "/".join(s for s, sym in [("malloc", "malloc"), ("free", "free"), ("new", "_Znwm")]
                        if sym in defined) or "-"
        print(f"{kind:8} {exe.stat().st_size // 1024:8}  {mine:24} {'yes' if 'malloc' in exported else 'no':15} "
              f"{', '.join(needed)}")
elif CMAKE:
    print(WHO)

# %% [markdown]
# - **dynamic**: 16 KiB; mimalloc is *not inside*, it is a `NEEDED` entry
#   (`libmimalloc.so.3`), listed before `libc.so.6`. `ldd` shows where the loader finds it:

# %%
if WHO and WHO.ok:
    for line in tool_lines(["ldd", str(WHO.path("who_dynamic"))]):
        name = line.split()[0]
        if "=>" in line:
            where = line.split("=>")[1].split("(")[0].strip()
            # /lib is /usr/lib (a symbolic link): Debian 12 and 13's loader cache names
            # /lib/..., Debian unstable's /usr/lib/...; printed one way here
            where = re.sub(r"^/usr/lib/", "/lib/", where)
            where = "<mimalloc wheel>/lib/" + Path(where).name if "cmeel" in where else (
                "<build>/" + Path(where).name if str(WHO.build_dir) in where else where)
            print(f"  {name:20} => {where}")

# %% [markdown]
# - **archive** and **object**: about 240 KiB bigger; all of mimalloc was copied in, and
#   `nm` shows `malloc`, `free` and `operator new` (`_Znwm`) defined (`T`) in the
#   executable itself. They *export* `malloc`: GNU ld puts a symbol the executable
#   defines into its dynamic symbol table when a shared library it links, and keeps as
#   `NEEDED`, refers to that name (here `libc.so.6`) **or defines it too**, so that the
#   executable's copy can interpose. "Keeps" matters: Debian's gcc passes `--as-needed`
#   to the linker by default (`gcc -dumpspecs` on Debian 12's gcc 12.2 shows
#   `%{!fsanitize=*:--as-needed}` in its link spec), and that drops a library nothing
#   refers to. Tried here with GNU ld 2.40: an executable defining `foo`, linked with a
#   library `libl.so` that only defines `foo`, exports `foo` when linked with
#   `gcc main.c -L. -Wl,--no-as-needed -ll` (`libl.so` is `NEEDED`, `nm -D` shows `T foo`);
#   with plain `gcc main.c -L. -ll` the library is dropped and nothing is exported.
#   `libc.so.6`, which every program uses, is always kept.
# - The archive was linked *after* `who.c`'s object (CMake puts target libraries after
#   the objects), so the linker pulled in the archive member that defines `malloc`;
#   lesson 05 showed that the archive placed *first* pulls in nothing.
#
# **Predict:** now run them. For each build, who serves `malloc` in the program, inside
# libc (`asprintf`), in `liblinked.so`, and in `opened.so`?

# %%
def who(kind):
    r = lab.run_program([str(WHO.path(f"who_{kind}")), str(WHO.path("opened.so"))], timeout=10)
    return r.stdout if r.ok else str(r)


if WHO and WHO.ok:
    for kind in KINDS:
        print(f"--- who_{kind}\n{who(kind)}")

# %% [markdown]
# On Linux all three ways of bringing mimalloc give **one allocator for the whole
# process**: whoever defines `malloc` first in the global search order (the executable
# itself, or `libmimalloc.so` before `libc.so.6`) serves every module, a library opened
# later included (ELF symbol interposition, lesson 05). `mi_is_in_heap_region(p)` proves it
# block by block; `dladdr` says which file the *name* `malloc` resolves to.

# %% [markdown]
# **Private binding on Linux, on purpose.** Two switches make a library keep its own
# binding instead of the global order (lesson 04 ran both on a string library):
# `dlopen(..., RTLD_DEEPBIND)` makes the opened library look up symbols in itself and its
# own dependencies *before* the global scope (`dlopen(3)`), and `-Wl,-Bsymbolic` binds a
# shared library's references to its own definitions at link time (GNU ld manual). The
# `who` project also builds `opened_own.so`, the same plugin with `libmimalloc.a` linked
# into it, and `opened_own_symbolic.so`, that plus `-Bsymbolic`.
#
# **Predict:** who serves the plugin's `malloc` in each row below?

# %%
BINDING = [("who_archive", "opened.so", ""), ("who_archive", "opened.so", "deepbind"),
           ("who_dynamic", "opened.so", "deepbind"), ("who_plain", "opened_own.so", ""),
           ("who_archive", "opened_own.so", ""), ("who_plain", "opened_own.so", "deepbind"),
           ("who_plain", "opened_own_symbolic.so", ""), ("who_archive", "opened_own_symbolic.so", "")]
if WHO and WHO.ok:
    print(f"{'program':12} {'opens':24} {'dlopen flags':26} the plugin's malloc is served by")
    for exe, plugin, how in BINDING:
        r = lab.run_program([str(WHO.path(exe)), str(WHO.path(plugin)), *([how] if how else [])], timeout=10)
        served = r.stdout.splitlines()[-1].split(None, 5)[-1] if r.ok else r.status()
        flags = "RTLD_LOCAL" + (" | RTLD_DEEPBIND" if how else "")
        print(f"{exe:12} {plugin:24} {flags:26} {served}")

# %% [markdown]
# - `opened.so` has no allocator of its own. Opened with `RTLD_DEEPBIND`, it finds
#   `malloc` in its own dependency, `libc.so.6`, before the program's mimalloc, static or
#   dynamic: **two allocators** in one process, and a block it hands to the program is
#   freed by the wrong one.
# - `opened_own.so` carries a whole mimalloc, and by default does not even use it: its
#   calls to `malloc` go through the global order like everyone's (glibc in `who_plain`,
#   the program's mimalloc in `who_archive`). `RTLD_DEEPBIND` or `-Bsymbolic` make it use
#   its own copy, whatever the program uses: again two allocators (in `who_archive`,
#   two separate mimallocs, each with its own heap, that know nothing of each other's
#   blocks).
#
# Every switch that makes binding private is a way to get a second allocator, which is
# what the rest of this lesson is about.

# %% [markdown]
# ## 3. A config-loading library across the boundary
#
# `config/` holds a shared library, `libappconfig.so`, in the role of a framework's
# config loader: it parses a JSON file with **jsoncpp** (Drogon's JSON library) and
# offers
#
# ```c++
# std::string config_string(const char *key);          // returned BY VALUE
# void add_listener(const std::string &address, int port);   // copied inside
# ```
#
# and `server.cpp`, a program that uses it. The same `CMakeLists.txt` builds it with
# `-DSETUP=` `none`, `dynamic` (`mimalloc` target), `static` (`mimalloc-static`) or
# `private`: `mimalloc-static` **and** `-Wl,--exclude-libs,ALL` on the executable, which
# keeps mimalloc's `malloc`/`new`/`delete` local to the executable. That is what macOS
# does with mimalloc's static *archive*, `libmimalloc.a` (section 5 says why the archive
# and not `mimalloc.o`): the executable's own calls bind to the copy inside it, every
# library keeps the system allocator it was linked against.
#
# (The project finds jsoncpp by its header and library file, as Drogon's own
# `cmake_modules/FindJsoncpp.cmake` does. Debian 12's `jsoncppConfig.cmake` begins with
# `cmake_policy(VERSION 3.0)`, which CMake 4, the version the PyPI wheel installs here,
# rejects: `find_package(jsoncpp CONFIG)` fails at the configure step.)
#
# `server probe` allocates 4 KiB three ways and asks two witnesses who served it:
# glibc's own counter of bytes in use (`mallinfo2().uordblks`) and, when a mimalloc is
# linked in, `mi_is_in_heap_region`.

# %%
SETUPS = ["none", "dynamic", "static", "private"]
SERVER = {}
if CXX:
    for setup in SETUPS:
        SERVER[setup] = lab.cmake_build(SRC / "config", options={"SETUP": setup}, name=f"config-{setup}")
        print(f"SETUP={setup:8}", "built" if SERVER[setup].ok else SERVER[setup])
else:
    print("\n".join(lab.missing(t) for t in ["cmake", "jsoncpp", "g++"] if not lab.have(t)))


def server(setup, *args, build=None):
    b = build or SERVER[setup]
    return lab.run_program([str(b.path("server")), *map(str, args)], timeout=20)

# %% [markdown]
# **Predict:** with `SETUP=private`, who serves the library's `new`, and jsoncpp's `malloc`?

# %%
if CXX:
    for setup in ["static", "private"]:
        print(f"--- SETUP={setup}\n{server(setup, 'probe').stdout}")

# %% [markdown]
# With `static`, one allocator: mimalloc everywhere (section 2 again). With `private`,
# **two**: the program's `new` is mimalloc, while `libappconfig.so` and `libjsoncpp.so`
# bind to libstdc++'s `operator new` and glibc's `malloc`.
#
# Now the two paths of a web server's start-up. `listen` calls `add_listener("0.0.0.0",
# port)` a thousand times; `config` loads `config.json` and reads three values with
# `config_string`.
#
# **Predict:** with `SETUP=private`, which path crashes, and after which value?

# %%
if CXX:
    print("config.json:\n" + Path(CONFIG_JSON).read_text())
    for setup in ["static", "private"]:
        for mode in ["listen", "config"]:
            r = server(setup, mode, CONFIG_JSON) if mode == "config" else server(setup, mode)
            print(f"=== SETUP={setup}, {mode}\n{r}")

# %% [markdown]
# `listen` is fine in both. `config` with `private` dies in a **SIGSEGV** right after
# printing `app.document_root`, the first *long* value.
#
# Follow one string. `config_string` returns `root["app"][key].asString()`: the
# characters are copied into a new `std::string` **inside `libjsoncpp.so`**, with the
# `operator new` that library binds to (libstdc++'s, on glibc's `malloc`). The caller's
# `std::string` destructor runs **in the executable**, inlined there at `-O3`, and calls
# the executable's `operator delete`: mimalloc's. (Inlined "there" is a compiler's
# choice; section 4 shows that the choice decides the outcome and how `server.cpp` pins
# it.) Freeing a block glibc made, mimalloc
# looks up metadata it never wrote, and faults (lesson 04 saw the same inside `mi_free`).
# `app.name` (`"demo"`) survived because a 4-character string allocates nothing
# (section 4). A debugger, in a child, names the function that faulted:

# %%
# NBVAL_IGNORE_OUTPUT
# gdb needs ptrace: where the doctor's ptrace check fails (a container that forbids it),
# this cell says so instead of printing the frames, so its output depends on the machine
from labsupport import capability

PTRACE = capability.check("ptrace")
if CXX and lab.have("gdb") and PTRACE.ok:
    r = lab.run_program(["gdb", "-q", "-batch", "-ex", "run", "-ex", "bt", "--args",
                         str(SERVER["private"].path("server")), "config", CONFIG_JSON], timeout=60)
    frames = [re.search(r"in (\S+) \(", l) for l in r.stdout.splitlines() if l.startswith("#")]
    for i, m in enumerate(f for f in frames if f):
        print(f"frame {i}: {m.group(1)}")
elif CXX and lab.have("gdb"):
    print(f"gdb is not run here: it needs ptrace ({PTRACE.detail}); {PTRACE.fix}")
elif CXX:
    print(lab.missing("gdb"))

# %% [markdown]
# Here it printed `frame 0: mi_free_size` and `frame 1: main`. `mi_free_size` is
# mimalloc's sized `operator delete(void *, std::size_t)` (C++14 sized deallocation,
# which GCC uses by default; mimalloc 3.4.3 `src/alloc-override.c`, line 283), called
# directly from `main`, where the `std::string` destructor was inlined.
#
# `add_listener` never crashes because **ownership never crosses**: the caller's
# `"0.0.0.0"` is a short string living inside the `std::string` object, and the library
# copies what it keeps into its own vector and frees that itself. Allocation and
# `delete` happen in the same module. That is the whole difference between the two paths
# here, and the most likely reading of the Drogon reports (their threads name no root
# cause): not JSON, not a leak in jsoncpp, but memory allocated in one module and freed in
# another, with two allocators present.
#
# One more module hides in every C++ program: `libstdc++.so`. Some `std::string` code is
# compiled into it once (explicit instantiations) instead of being inlined into callers.
# **Predict:** `listen` with a 40-character address instead of `"0.0.0.0"`; the library
# still copies, nothing crosses our API.

# %%
if CXX:
    long_address = "listener-" + "x" * 31
    for setup in ["static", "private"]:
        print(f"SETUP={setup:8} listen {long_address}: {server(setup, 'listen', long_address).status()}")
    imported = tool_lines(["nm", "-DC", "--undefined-only", str(SERVER["private"].path("server"))])
    # which other string functions GCC leaves out of line differs between GCC versions
    # (GCC 14 also leaves _M_dispose, for code paths not run here): only _M_create matters
    print("the program calls std::string's _M_create in libstdc++.so:",
          any("basic_string" in l and "::_M_create(" in l for l in imported))

# %% [markdown]
# It crashes too. The program turns the `const char *` into a temporary `std::string`.
# The constructor is inlined, but it gets the buffer from `std::string::_M_create`, which
# the program calls *in `libstdc++.so`* (the program's dynamic symbol table lists it as
# undefined, `nm -D`): glibc's `malloc`. The temporary is destroyed by code inlined into
# the program: mimalloc's `delete`. With private binding a replaced `operator new` is only safe if *no* module
# outside the executable ever allocates what the executable frees, which no C++ program
# can promise. Hiding a replacement is not a configuration to make work; it is one to
# avoid.
#
# The picture, drawn from the measurements above (the `probe` lines and whether `config`
# crashed): each module, the allocator its `new` reached, and the string that travels
# from `libjsoncpp.so` to the program.

# %%
def binding_picture(setups=("static", "private")):
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch
    colours = {"mimalloc": "#4C72B0", "glibc": "#DD8452"}
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    for ax, setup in zip(fig.subplots(1, len(setups)), setups):
        probe = dict(re.findall(r"^(.*?)\s{2,}(\w+)$", server(setup, "probe").stdout, re.M))
        crashed = not server(setup, "config", CONFIG_JSON).ok
        modules = [("server (executable)", probe["new in the program"]),
                   ("libappconfig.so", probe["new in libappconfig.so"]),
                   ("libjsoncpp.so", probe["malloc in libjsoncpp.so"])]
        ax.set_xlim(0, 10); ax.set_ylim(0, 11.5); ax.axis("off")
        ax.set_title(f"SETUP={setup}: config path {'CRASHES' if crashed else 'ok'}", fontsize=10)
        for name, x in [("mimalloc", 2.5), ("glibc", 7.5)]:
            ax.add_patch(FancyBboxPatch((x - 2, 0.5), 4, 1.6, boxstyle="round,pad=0.1",
                                        color=colours[name], alpha=0.9))
            ax.text(x, 1.3, name + (" (in server)" if name == "mimalloc" else " (libc.so.6)"),
                    ha="center", va="center", color="white", fontsize=9)
        for i, (name, allocator) in enumerate(modules):
            x = 1.8 + i * 3.2
            ax.add_patch(FancyBboxPatch((x - 1.4, 7.2), 2.8, 1.4, boxstyle="round,pad=0.1",
                                        fc="white", ec=colours[allocator], lw=2))
            ax.text(x, 7.9, name, ha="center", va="center", fontsize=8)
            target = 2.5 if allocator == "mimalloc" else 7.5
            ax.annotate("", xy=(target, 2.3), xytext=(x, 7.0),
                        arrowprops=dict(arrowstyle="->", color=colours[allocator], lw=1.5))
        ax.annotate("", xy=(1.8, 9.0), xytext=(8.2, 9.0),
                    arrowprops=dict(arrowstyle="->", color="crimson" if crashed else "grey",
                                    lw=1.5, ls="--", connectionstyle="arc3,rad=0.25"))
        ax.text(5, 10.7, "a long std::string: new in libjsoncpp.so, delete in server", ha="center", fontsize=8,
                color="crimson" if crashed else "grey")
    return fig


if CXX:
    import io
    from IPython.display import Image
    png = io.BytesIO()
    binding_picture().savefig(png, format="png", dpi=100)
    display(Image(png.getvalue()))

# %% [markdown]
# **The fixes**, each measured here:
#
# 1. the dynamic library (`SETUP=dynamic`): one mimalloc, interposed for every module;
# 2. one allocator for the whole process: the static library *without* hiding it, on a
#    platform where that interposes (`static`, Linux); or no mimalloc at all (`none`);
# 3. an API that frees where it allocates (exercise 2).

# %%
if CXX:
    for setup in ["none", "dynamic", "static", "private"]:
        r = server(setup, "config", CONFIG_JSON)
        print(f"SETUP={setup:8} config path: {'ok' if r.ok else r.status()}")

# %% [markdown]
# ### Exercise 1: predict three project set-ups
#
# `native_examples/06_static_vs_dynamic/setups/one`, `two` and `three` each hold a
# `CMakeLists.txt` for the same library and server (`three` also a `server.map`). Read
# them (the cell below prints them). For each, predict:
#
# - `links`: does it link? (`True`/`False`)
# - `library_allocator`: if it links, who serves `new` inside `libappconfig.so`:
#   `"glibc"` or `"mimalloc"` (`None` if it does not link);
# - `config_crashes`: if it links, does `server config` crash? (`None` if it does not link)
#
# The check builds and runs all three; it tells you which answer is wrong, not what the
# right one is.

# %%
for name in ["one", "two", "three"]:
    folder = SRC / "setups" / name
    for f in sorted(folder.iterdir()):
        text = "\n".join(l for l in f.read_text().splitlines()
                         if l and not l.startswith("cmake_minimum") and "CMAKE_CXX_STANDARD" not in l)
        print(f"===== setups/{name}/{f.name}\n{text}\n")

# %% tags=["solution"]
PREDICTION = {
    "one":   dict(links="?", library_allocator="?", config_crashes="?"),
    "two":   dict(links="?", library_allocator="?", config_crashes="?"),
    "three": dict(links="?", library_allocator="?", config_crashes="?"),
}
### BEGIN SOLUTION
PREDICTION = {
    "one":   dict(links=False, library_allocator=None, config_crashes=None),
    "two":   dict(links=True, library_allocator="mimalloc", config_crashes=False),
    "three": dict(links=True, library_allocator="glibc", config_crashes=True),
}
### END SOLUTION

# %% tags=["check"]
if CXX:
    sd.check_setups(PREDICTION)
else:
    print("\n".join(lab.missing(t) for t in ["cmake", "jsoncpp", "g++"] if not lab.have(t)))

# %% [markdown]
# ## 4. C++ specifics: replacing `new`/`delete`, and strings that hide the bug
#
# **Replacement rules.** The global `operator new`/`operator delete` (all their forms)
# are *replaceable*: a program may define them, once, and then the program's definitions
# are used instead of the library's (C++ standard, [replacement.functions] and
# [new.delete]; the Itanium C++ ABI mangles them `_Znwm`, `_ZdlPv`, `_ZdlPvm`...). mimalloc's
# `mimalloc-new-delete.h` *defines* them, so it goes in **exactly one** source file:
# two definitions are a duplicate-symbol link error (or, across shared libraries, two
# replacements that each module binds differently). "Program" is the catch: the standard
# knows one program; a real process is many modules, and which module's `new` a call
# reaches is decided by the platform's linker and loader. Section 3 measured that with
# private binding the executable's replacement reaches only the executable's own code.
#
# **Predict:** `new_delete_twice/` includes the header in `a.cpp` *and* `b.cpp` of one
# program. Compiler error, linker error, or a program with two `operator new`s?

# %%
if CXX:
    twice = lab.cmake_build(SRC / "new_delete_twice")
    dups = sorted(set(re.findall(r"multiple definition of `([^']+)'", twice.log)))
    print(f"builds: {twice.ok}; failed at the {twice.stage} step" if not twice.ok else "builds")
    print(f"{len(dups)} functions defined twice, e.g.:")
    for name in dups[:4]:
        print("   ", name)

# %% [markdown]
# The linker refuses: every replaceable form (plain, array, sized, aligned, `nothrow`)
# is defined in both object files. Inside one program the rule enforces itself; across
# shared libraries nothing does.
#
# **Small strings.** libstdc++ keeps strings of up to 15 characters inside the
# `std::string` object (the small-string optimisation): no allocation, nothing to free,
# nothing to get wrong. `server string N` asks the library for a string of `N` characters
# and destroys it in the program.
#
# **Predict:** with `SETUP=private`, for which lengths does it crash?

# %%
if CXX:
    outcome = {n: server("private", "string", n).ok for n in range(0, 41)}
    ok = [n for n, good in outcome.items() if good]
    bad = [n for n, good in outcome.items() if not good]
    print(f"no crash for lengths {min(ok)}..{max(ok)}" if ok else "no length survived")
    print(f"crash    for lengths {min(bad)}..{max(bad)}" if bad else "no length crashed")
    print(server("private", "string", 16))

# %% [markdown]
# Up to 15 characters nothing crosses the boundary, so nothing crashes; from 16 every
# length crashes. A test suite whose config values are short passes; the first real
# `document_root` path crashes. libc++ (Apple's C++ library) has a larger inline buffer,
# 22 characters for `char` on 64-bit targets (its `<string>` header, `__min_cap`), so the
# boundary moves but does not go away.
#
# One more trap. The project builds in `Release` mode (`-O3`) unless told otherwise.
# **Predict:** the same `private` set-up built in `Debug` mode (`-O0 -g`): does `config`
# still crash?

# %%
# NBVAL_IGNORE_OUTPUT
# the outcome depends on the compiler's version (explained below); the next cell is compared
STRING_PARTS = ("~basic_string", "_M_create")     # the destructor; what allocates a long string


def own_string_code(b):
    """Which of std::string's functions the program defines itself and exports to every library."""
    lines = tool_lines(["nm", "-DC", "--defined-only", str(b.path("server"))])
    return [part for part in STRING_PARTS if any("basic_string" in l and part in l for l in lines)]


DEBUG = {}
if CXX:
    for label, flags in [("Debug", ""), ("Debug, -D_GLIBCXX_NO_ASSERTIONS", "-D_GLIBCXX_NO_ASSERTIONS")]:
        b = lab.cmake_build(SRC / "config", name="config-private-debug" + flags.lower().replace("_", "-"),
                            options={"SETUP": "private", "CMAKE_BUILD_TYPE": "Debug", "CMAKE_CXX_FLAGS": flags})
        runs = {mode: server(None, mode, arg, build=b) for mode, arg in [("config", CONFIG_JSON), ("string", 16)]}
        DEBUG[label] = (runs, own_string_code(b))
        print(f"--- {label}: std::string functions of its own, exported: {', '.join(DEBUG[label][1]) or 'neither'}")
        for mode, r in runs.items():
            said = [l.strip() for l in r.stderr.splitlines() if l.strip()]
            print(f"  {mode:6}: {r.status()}" + (f"  (stderr: {said[-1]})" if said else ""))

# %% [markdown]
# What held on each compiler measured (GCC 12 here, GCC 14 in Debian 13, GCC 16 in Debian
# unstable): a Debug build crashes exactly when the program defines and exports its own
# copy of `std::string`'s destructor and of `_M_create`, the member function that
# allocates a long string's characters.

# %%
if CXX:
    print("a Debug build crashes exactly when the program exports its own std::string functions:",
          all((not runs["config"].ok) == bool(own) for runs, own in DEBUG.values()))

# %% [markdown]
# With GCC 12 (Debian 12) and GCC 14 (Debian 13) neither Debug build crashes, and the
# program has neither function of its own. Without optimisation the destructor is not
# inlined: it runs in `libstdc++.so`, whose `operator delete` is glibc's, the same
# allocator that made the block. A bug that a debug build hides and a release build shows.
#
# The optimisation level is not the only judge: the compiler's version is another. GCC
# decides at each call site whether to inline the destructor (its code is in the
# `<string>` header) or to call the copy compiled into `libstdc++.so` (which the header
# declares with `extern template`, so both are allowed). With `-O3`, GCC 12 (Debian 12)
# inlined it in `main`; GCC 14 (Debian 13) called `libstdc++.so`'s copy there, as it
# judges code that runs once not worth growing, and the `config` path did not crash,
# while the `listen` loop, where it did inline, still crashed (measured on both). So
# `server.cpp` destroys the library's strings in two small functions marked
# `[[gnu::flatten]]` ("inline everything you can into this function", GCC manual,
# *Common Function Attributes*), and the demonstrations above behave the same under
# both compilers. A real program pins nothing, so one compiler upgrade can make such a
# bug appear or vanish.
#
# With GCC 16 (Debian unstable) the plain Debug build crashes, earlier and elsewhere:
# glibc's `free()` aborts while `config_load` parses the file (under gdb: `malloc_printerr`
# called from `Json::OurReader::decodeString` in `libjsoncpp.so`). After GCC 14, libstdc++
# began to turn its assertions on in every unoptimised build (GCC commit 361d230fd78,
# "libstdc++: Enable _GLIBCXX_ASSERTIONS by default for -O0 [PR112808]"), and with
# assertions on it drops its `extern template class basic_string<char>` declaration (the
# installed `bits/c++config.h` of Debian's g++ 16.2, l.603-617, "Disable std::string explicit
# instantiation declarations in order to assert"; `bits/basic_string.tcc` l.1040-1041), so each
# module compiled without optimisation (here: the program; Debian's `libjsoncpp.so` is built
# with `-O2`) compiles its own `std::string` code instead of calling `libstdc++.so`'s. The program's
# copy is exported (section 2's rule: `libstdc++.so`, a `NEEDED` library, defines the
# same names), and the program comes first in the search order, so *every* library's call
# to an out-of-line `std::string` function lands in the program: jsoncpp's strings are
# made by the program's `_M_create`, with the program's `operator new` (mimalloc), and
# freed by jsoncpp with glibc's. `-D_GLIBCXX_NO_ASSERTIONS` (the libstdc++ manual's way out
# of the new default, *Using: Macros*) gives back GCC 14's Debug build, as the second build
# shows. One compiler upgrade turned "the debug build hides the bug" into "the debug build
# crashes somewhere else".
#
# The compiler used here (not compared: it is this machine's):

# %%
# NBVAL_IGNORE_OUTPUT
if CXX:
    print(lab.run_program(["g++", "--version"], timeout=30).stdout.splitlines()[0])

# %% [markdown]
# ### Exercise 2: an API that frees where it allocates
#
# Keep `SETUP=private` (two allocators) and change the **API** instead. `appconfig.h`
# declares
#
# ```c++
# struct ConfigText { const char *data; std::size_t size; void *handle; };
# ConfigText config_text(const char *key);        // the value of app.<key>
# void config_text_release(ConfigText text);      // give it back to the library
# ```
#
# The program (`server fixed`) takes the three values first, then copies each one's
# `data`/`size` into its own buffer and calls `config_text_release`; it also holds one
# text through its 20,000 later calls and reads it after them: `data` must stay valid
# until you pass it to `config_text_release`, however many other keys are asked for.
# Write both functions (C++, compiled into `libappconfig.so`) so
# that nothing the library allocates is freed by the program and nothing leaks.
# Available: `config_string(key)` (returns a `std::string`) and
# `config_app_value(key)` (a `const Json::Value &` owned by the library).
#
# The check builds the library with your file in the `private` set-up, runs
# `server fixed` (three values, then 20,000 more calls) on the book's `config.json` and
# on a config file it writes itself, and compares with the values a plain build reads
# from each. Before the first `config_text` it notes three figures, and after the last
# call it prints how much each grew: the bytes glibc holds, in its heap
# (`mallinfo2().uordblks`) and in blocks it gave their own `mmap` (`hblkhd`, requests of
# 128 KiB and more by default), so a "fix" that simply never frees is caught; the
# process's mappings and its resident memory (`/proc/self/statm`), for a copy in memory
# mapped with `mmap`, or carved from a pool of your own, and never given back, which
# glibc does not see. A small slack (64 KiB of glibc bytes, 1 MiB of mappings, 256 KiB
# resident) leaves room for what a correct fix keeps once (a cache of the three values)
# and for a heap that grows once; 20,000 calls that each keep a glibc block (at least 32
# bytes) pass it about ten times over, while memory of their own has only the resident
# slack, about 13 bytes a call. None of the three may shrink by more than 64 KiB either:
# a correct fix gives back nothing that existed before its first call, so a
# constructor's pool or ballast cannot move the baseline. And memory given back is used
# again: over the loop the program counts the distinct `data` addresses and the distinct
# non-null `handle`s, and more than 16 of either (a new one every call) means what
# `config_text` took is kept. Match `new` with
# `delete` and `new[]` with `delete[]`: a mismatch is undefined behaviour that glibc's
# counts do not show, so no check can catch it for you. It runs the program with glibc's
# per-thread cache switched off
# (`GLIBC_TUNABLES=glibc.malloc.tcache_count=0`): `mallinfo2` counts the freed chunks
# that cache keeps as in use (glibc's `int_mallinfo`, `malloc/malloc.c` line 5149 on the
# release/2.36 branch, sums only the fastbins and bins as free), so a correct fix could
# otherwise look as if it held a few bytes. The file it writes holds new random values each time you run the check.

# %% tags=["solution"]
FIX_CPP = r'''
#include "appconfig.h"
#include <json/json.h>
#include <string>

const Json::Value &config_app_value(const char *key);   // from appconfig.cpp

// Define both:
//   ConfigText config_text(const char *key)
//   void config_text_release(ConfigText text)
// ### BEGIN SOLUTION
ConfigText config_text(const char *key)
{
    auto *copy = new std::string(config_string(key));    // allocated here, in the library...
    return ConfigText{copy->data(), copy->size(), copy};
}

void config_text_release(ConfigText text)
{
    delete static_cast<std::string *>(text.handle);      // ...and freed here, by the same allocator
}
// ### END SOLUTION
'''

# %% tags=["check"]
if CXX:
    sd.check_fix(FIX_CPP, SERVER["none"])
else:
    print("\n".join(lab.missing(t) for t in ["cmake", "jsoncpp", "g++"] if not lab.have(t)))

# %% [markdown]
# Another correct answer allocates nothing at all: `config_app_value(key).asCString()`
# is a view into the JSON tree the library owns, valid until `config_unload`, so
# `config_text_release` has nothing to do. Both follow one rule: **whoever allocates,
# frees**, and what crosses the boundary is a view plus a way to give it back. Handing
# out a `std::string` by value is handing out ownership *and* the obligation to free it
# with the right allocator: across modules with different allocators, that obligation
# cannot be met.

# %% [markdown]
# ## 5. What is true on macOS, and the linker rule behind it
#
# This machine is Linux; the macOS statements below are read from mimalloc's source
# (v3.4.3), Apple's manual pages and the issue threads, not run. The rule they rest on
# is run, on Linux, at the end of the section.
#
# - **Two-level namespace.** A Mach-O binary records, for each symbol it imports, *the
#   library* it was found in at link time (for `malloc`: `libSystem`), and dyld binds it
#   there; there is no single global search order as on Linux (Apple's `ld(1)`:
#   `-twolevel_namespace` is the default, `-flat_namespace` the exception; Apple, *Mach-O
#   Programming Topics*). A `malloc` defined inside the executable therefore serves the
#   executable's own calls, while every dylib (jsoncpp, libc++) calls `libSystem`'s
#   `malloc`. By itself that gives section 3's `private` set-up.
# - **Malloc zones.** macOS's allocator (`libmalloc`) is a set of *zones*; `malloc` in
#   `libSystem` allocates from the *default zone*, and `free(p)` asks the registered
#   zones which one owns `p`. When none claims it, `free` prints `malloc: *** error for
#   object 0x...: pointer being freed was not allocated` and aborts (Apple's open-source
#   `libmalloc`, `malloc.c`; the message is in drogon #2022 and mimalloc #1239, and
#   #1333 shows the abort's stack,
#   `___BUG_IN_CLIENT_OF_LIBMALLOC_POINTER_BEING_FREED_WAS_NOT_ALLOCATED`).
# - **How a static mimalloc takes over anyway: a constructor.** With `MI_OSX_ZONE` (default
#   `ON`, `CMakeLists.txt` line 35) a static build compiles
#   `src/prim/osx/alloc-override-zone.c`, and with `MI_OVERRIDE` (default `ON`; lines
#   866-876 then define `MI_MALLOC_OVERRIDE`, and the whole file sits inside
#   `#if defined(MI_MALLOC_OVERRIDE)`, from its line 11) that file holds a constructor,
#   `_mi_macos_override_malloc` (lines 450-487), which registers mimalloc's zone, then unregisters and re-registers the
#   original default zone: "this makes our zone the new default". From then on `malloc`
#   called in *any* dylib, through `libSystem`, is served by mimalloc, and `free` finds
#   the owner of every block: the two-level namespace no longer matters. (The shared
#   library instead interposes: `__DATA,__interpose` tables for `malloc`, `free`... in
#   `src/alloc-override.c` lines 51-126, and for the zone functions in
#   `alloc-override-zone.c`, both only with `MI_OSX_INTERPOSE && MI_SHARED_LIB_EXPORT`.)
# - **Why the archive never runs it.** `CMakeLists.txt` line 231 adds that file to
#   `mi_sources`, from which `libmimalloc.a` is built (line 742), one object file per
#   source: the zone code is an archive member of its own, and in a static build
#   everything in it is `static` (the constructor too). A linker copies an archive member
#   into the program only to define a symbol that is still undefined; nothing refers to
#   anything in that member, so it is never copied and its constructor never runs.
#   Apple's linker loads archive members the same way; its `ld(1)` documents the flags
#   that load every member instead (`-all_load`, `-force_load`), like GNU ld's
#   `--whole-archive`. `mimalloc.o` is `src/static.c` (line 767), which `#include`s the
#   zone file (lines 41-43): whoever links the object gets the constructor. So on macOS
#   `mimalloc.o` gives one allocator for the process, and `libmimalloc.a`
#   (`mimalloc-static`) gives exactly the `private` model: mimalloc in the executable,
#   the system zone in every dylib, and a block crossing between them freed by the wrong
#   one. Others hit the same trap: jemalloc issue #708 ("linker omits zone.o when
#   statically linking"), and rust-lang/rust pull request #82642 (2021, jemalloc in
#   rustc on macOS), whose comment says that "the linker doesn't seem to consider ctors
#   as "used" when statically linking, so we need to explicitly depend on the function"
#   (pull request #92249 later kept that comment for mimalloc). And when binaryen tried a
#   static mimalloc (WebAssembly/binaryen pull request #7378, 2025-03-18), a maintainer
#   on a Mac "got some odd errors (they are different depending on whether mimalloc is
#   linked as a static archive or an object library)"; binaryen then allowed mimalloc
#   only on Linux.
# - **mimalloc's documented override on macOS is dynamic**: `env
#   DYLD_INSERT_LIBRARIES=/usr/lib/libmimalloc.dylib myprogram` (readme, *Dynamic Override
#   on MacOS*, with a note that security restrictions may apply when started from a
#   shell). The readme's *Static override* section speaks of "Unix-like systems" and
#   `mimalloc.o`; its author wrote in 2019 that linking the object first works on Linux and
#   BSD while "on Windows, and I believe macOS, this does not work -- due to link errors
#   and/or non-flat namespaces" (mimalloc issue #71, 2019-07-04). macOS users keep
#   reporting static builds failing: #1239 (2026-03-06, arm64, `MI_OVERRIDE=ON`, a
#   deterministic `pointer being freed was not allocated` in a standalone C++ program,
#   stable with `MI_OVERRIDE=OFF`) and #1333 (2026-07-16, a static library, the same
#   message at thread exit, there from a clash of TLS slots, fixed in v3.4.3 according to
#   the readme's release notes). Treat static override on macOS as unsupported, and the
#   archive as the worst of the three ways.
#
# **The rule, run here.** `ctor_member/` is a two-member library built like mimalloc's:
# `lib_alloc.c` defines `lib_hello` (which the program calls, like `malloc`), and
# `lib_zone.c` holds only a `static` constructor (like the zone file). `single.c`
# `#include`s both (like `static.c`). The program is linked three ways: with the archive,
# with the single object, and with the archive forced in whole (`--whole-archive`,
# GNU ld's `-force_load`).
#
# **Predict:** in which of the three does the constructor run?

# %%
if CMAKE:
    members = lab.cmake_build(SRC / "ctor_member")
    for line in tool_lines(["nm", "-A", str(members.path("libmini.a"))]):
        member, sym = line.split(":")[1], line.split()[-2:]
        if sym[0] != "U":
            print(f"libmini.a member {member:14} defines {sym[1]:10} ({'global' if sym[0].isupper() else 'static'})")
    for target in ["with_archive", "with_object", "whole_archive"]:
        link = re.sub(r" -Wl,--dependency-file=\S+", "", members.link_line(target))
        print(f"--- {target}: cc {link.split(' ', 1)[1]}")
        print(lab.run_program([str(members.path(target))], timeout=10).stdout, end="")

# %% [markdown]
# Linked with the archive, the program got `lib_hello` and not the constructor: the
# linker extracted only the member that defined a symbol it needed. The object, or the
# archive forced in whole, runs it. This is section 2's archive-versus-object rule (the
# archive placed first pulled in nothing) seen from the other side: an archive member
# that no one refers to is never linked, whatever it would have done. On macOS the
# member left out is the one that makes mimalloc the default zone.
#
# - **The Drogon reports.** #1994 (2024-04-11): `library not found for -lmimalloc-static`
#   on a new project; with the dynamic `mimalloc` it worked; the user suspected a leak.
#   #2022 (2024-05-08, built with GCC 14.1): `dg_ctl -v` aborted with `pointer being freed
#   was not allocated`; with `mimalloc-static`, `drogon::app().loadConfigFile("config.json").run()`
#   "accessed a null pointer", while the dynamic `mimalloc` worked. Closed for inactivity
#   (2025-05-18); no root cause was posted. Drogon's own code never mentions mimalloc (its
#   git history has no commit touching the word); it builds itself as a static library by
#   default (`BUILD_SHARED_LIBS OFF`) and links jsoncpp, usually a shared library: the same
#   executable/shared-library split as section 3. That a "jsoncpp leak" caused it is not
#   shown anywhere in the threads.

# %% [markdown]
# ## Summary
#
# - In CMake, `mimalloc-static` is a **target** created by `find_package(mimalloc)`; the
#   file is `libmimalloc.a`. An unknown target name becomes `-lmimalloc-static`, which no
#   file matches: `cannot find -lmimalloc-static` (GNU ld), `library not found for
#   -lmimalloc-static` (Apple ld). The name can come from your own `CMakeLists.txt` or,
#   unseen, from a static library's package (`$<LINK_ONLY:mimalloc-static>`).
#   `CMAKE_LINK_LIBRARIES_ONLY_TARGETS` catches the first; the property
#   `LINK_LIBRARIES_ONLY_TARGETS` set on the imported target catches the second. Read the
#   link line: `cmake --build . -v`.
# - Dynamic mimalloc is a `NEEDED` entry; static mimalloc is ~240 KiB copied into the
#   executable, which then defines and exports `malloc`. On Linux both interpose: one
#   allocator for every module, `dlopen`ed ones included.
# - Two allocators appear when binding is private: on macOS with mimalloc's *archive*
#   (two-level namespace, and the zone constructor is an archive member nobody refers
#   to, so it is never linked; `mimalloc.o` includes it), or on Linux `--exclude-libs`,
#   a version script, `-Bsymbolic`, `RTLD_DEEPBIND`. Then memory
#   that crosses a module boundary and is freed on the other side crashes (`SIGSEGV` in
#   `mi_free` here; `pointer being freed was not allocated` on macOS) or leaks.
# - Only paths that **transfer ownership** crash: a `std::string` returned by value does;
#   a `const std::string &` that the library copies does not. Strings of up to 15
#   characters (libstdc++) or 22 (libc++) allocate nothing and hide the bug; a `Debug`
#   build (destructor not inlined) hid it with GCC 12 and 14, and so did GCC 14 at `-O3`
#   until `server.cpp` pinned the inlining with `[[gnu::flatten]]`; with GCC 16 the `Debug`
#   build crashed elsewhere, the program's own `std::string` code serving jsoncpp. `libstdc++.so` is a module as well:
#   with a hidden `operator new`, even the program's own strings crossed into it.
# - Fixes: the dynamic library; one allocator for the process; APIs where whoever
#   allocates also frees.
#
# **Myths corrected**
# - "Static linking is always safer": a static allocator is invisible to the libraries
#   it does not interpose, so it can *create* a second allocator; on Linux it interposes
#   only because the executable exports `malloc`.
# - "The JSON library leaks": jsoncpp frees what it allocates; the crash came from memory
#   handed across a boundary between two allocators. No thread shows a jsoncpp leak.
# - "Drogon links mimalloc": neither Drogon's sources nor its network library trantor
#   mention mimalloc (searched through Drogon's whole git history, snapshot of 2026-07-23,
#   and trantor's tree of 2026-05-06); the maintainer's answer in #1994 was "not required".
#   The same user had suggested `find_package(mimalloc 2.1.2 REQUIRED)` for a Drogon
#   benchmark the next day (the-benchmarker/web-frameworks issue #7381, 2024-04-12): the
#   mimalloc came from the user's own build.
#
# **Further reading**
# - mimalloc `readme.md`, *Using the library*, *Dynamic override* (Linux, macOS) and
#   *Static override*: https://github.com/microsoft/mimalloc#overriding-standard-malloc
#   and its `CMakeLists.txt` (`MI_BUILD_STATIC`, `MI_OSX_ZONE`, `MI_OSX_INTERPOSE`), at v3.4.3:
#   `src/prim/osx/alloc-override-zone.c` (the zone constructor, lines 450-487),
#   `src/alloc-override.c` (the interpose table, lines 51-126), `src/static.c`.
# - jemalloc issue #708 and rust-lang/rust pull requests #82642 and #92249 (a zone constructor in an
#   archive member that the linker leaves out); Apple's `ld(1)` (`-all_load`,
#   `-force_load`); GNU ld manual, `--whole-archive`; WebAssembly/binaryen pull request
#   #7378 (a static mimalloc on macOS: different errors for the archive and the object).
# - CMake, `LINK_LIBRARIES_ONLY_TARGETS` (3.23+) and `CMakeFindDependencyMacro`
#   (`find_dependency`): https://cmake.org/cmake/help/latest/prop_tgt/LINK_LIBRARIES_ONLY_TARGETS.html
# - Drogon issues #1994, #2022: https://github.com/drogonframework/drogon/issues/1994,
#   https://github.com/drogonframework/drogon/issues/2022 (and #2017, same reporter).
# - mimalloc issues #71 (what static override does per platform), #1239 and #1333 (macOS
#   static builds and `pointer being freed was not allocated`); pull request #1082
#   (`mimalloc-static` not found with `MI_BUILD_STATIC=OFF`).
# - GCC manual, *Common Function Attributes* (`flatten`, `always_inline`):
#   https://gcc.gnu.org/onlinedocs/gcc/Common-Function-Attributes.html; libstdc++'s
#   `extern template` declarations of `std::basic_string` are in `bits/basic_string.tcc`.
# - CMake, `target_link_libraries` (item types: targets, full paths, plain names):
#   https://cmake.org/cmake/help/latest/command/target_link_libraries.html
# - Apple, *Mach-O Programming Topics* / `ld(1)` on macOS: `-twolevel_namespace`,
#   `-flat_namespace`; Apple's `libmalloc` sources (zones).
# - Itanium C++ ABI, mangling of the replaceable `operator new`/`delete`:
#   https://itanium-cxx-abi.github.io/cxx-abi/abi.html ; C++ standard [new.delete]
#   (replaceable global allocation functions).
# - GNU ld manual: `--exclude-libs`, `-Bsymbolic`, version scripts.
