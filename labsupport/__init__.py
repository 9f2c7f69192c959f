"""labsupport: the support package of the memory course.

Notebooks start with ``import labsupport as lab`` and ``%load_ext labsupport``.
Modules, one per concept:

- ``cbuild``     C in a cell (cffi API mode, cached builds, diagnostics on the cell's lines)
- ``isolate``    run C, Python or programs in a child with limits; crashes never reach the kernel
- ``toolchain``  find tools and mimalloc's files; ``python -m labsupport doctor``
- ``heap``       the heap as data: Block, Step, bins, the figures; traces; snapshot sources
                 (teaching allocator, glibc, mimalloc). No drawing
- ``widgets``    where pictures are drawn: draw_heap, HeapMap, the steppers, step views
- ``lessons``    helpers one lesson alone uses (lesson 01's checks: ``lessons.heap_managers``)
- ``structlayout`` struct layouts read from the compiler (fields, holes, cache lines), pahole check: data
- ``exercises``  checks that say what is wrong
- ``workcopy``   the learner's working copy (no outputs, no solutions) and ``solution()``
- ``magics``     the ``%%cffi`` cell magic
- ``capability`` can this machine run each lesson (ptrace, Wine, valgrind, caps...)?
- ``lastword``   when a direct C call kills the kernel, the next kernel says what happened
- ``cmakebuild``  configure and build a CMake project, cached; link lines without temp paths
- ``allocbench`` allocators side by side (interleaved runs, paired ratios) and the malloc lab's driver: data
- ``leakcount``  a preloaded counting allocator (live blocks per module, fault injection);
  valgrind, heaptrack and LeakSanitizer run isolated, their reports as counts and kinds
- ``addrspace``  a process's address space from /proc/PID/maps and smaps: data
  (their pictures and widgets: ``widgets.structlayout``, ``widgets.allocplot``, ``widgets.addrspace``)

Heavy modules (matplotlib, ipywidgets) are imported only when first used, so an
isolated child that imports ``labsupport`` starts fast.
"""
from .toolchain import (ROOT, MissingTool, cache_dir, doctor, example_path, have, mimalloc,
                        missing, require, tool_path)
from .cbuild import CModule, CompileError, LinkError, build_c, build_c_file, build_program
from .calls import IsolatedCallError
from .isolate import RunResult, run_c, run_program, run_python
from .cmakebuild import CMakeBuild, cmake_build, cmake_path

__version__ = "0.1.0"

__all__ = [   # the public API the notebooks use (see CONTRIBUTING.md)
    "ROOT", "MissingTool", "cache_dir", "doctor", "example_path", "have", "mimalloc", "missing",
    "require", "tool_path", "CModule", "CompileError", "IsolatedCallError", "LinkError", "build_c", "build_c_file",
    "build_program", "RunResult", "run_c", "run_program", "run_python",
    "Block", "draw_heap", "HeapMap", "Case", "check", "solution", "capabilities",
    "CMakeBuild", "cmake_build", "cmake_path",
    "struct_layout", "StructLayoutView", "compare_with_pahole", "pahole_text",
    "read_address_space", "parse_maps", "parse_smaps", "draw_address_space", "AddressSpaceView",
    "glibc_steps", "GlibcStepper",
]

_LAZY = {
    "Block": "heap.model", "draw_heap": "widgets.heapdraw", "HeapMap": "widgets.heapmap",
    "Case": "exercises", "check": "exercises", "solution": "workcopy", "capabilities": "capability",
    "struct_layout": "widgets.structlayout", "StructLayoutView": "widgets.structlayout",
    "compare_with_pahole": "structlayout", "pahole_text": "structlayout",
    "read_address_space": "addrspace", "parse_maps": "addrspace", "parse_smaps": "addrspace",
    "draw_address_space": "widgets.addrspace", "AddressSpaceView": "widgets.addrspace",
    "glibc_steps": "heap.glibc", "GlibcStepper": "widgets.glibcstep",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'labsupport' has no attribute {name!r}")


def _in_notebook_kernel() -> bool:
    import sys
    return "ipykernel" in sys.modules and "pytest" not in sys.modules


if _in_notebook_kernel():
    # a last word if a direct C call killed this notebook's previous kernel (lastword.py)
    from . import lastword as _lastword
    _lastword.report_previous()
    _lastword.install()


def load_ipython_extension(ipython):
    """``%load_ext labsupport``: registers the ``%%cffi`` cell magic."""
    from .magics import register
    register(ipython)
