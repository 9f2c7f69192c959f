"""Helpers that one lesson uses and no other: its exercises' checks, its tables.

- ``start_here``     lesson 00: the count_zeros and chunk_size checks (buffers before a guard
                     page, sizes measured in a fresh process with glibc's defaults,
                     ``defaults_env``); ``sandboxed``, a learner's function run where it may
                     not start programs, use ctypes or cffi
- ``heap_managers``  lesson 01: reading talloc.c, the chunk-size, coalescing, policy,
                     first-beats-best and tcache-reuse checks, the fragmentation table
- ``alignment``      lesson 02: the misalignment and split-lock tables, the layout-prediction,
                     reorder and my_aligned_alloc checks
- ``virtual_memory`` lesson 03: what each overcommit mode predicts, the fault-prediction and
                     bump-allocator checks
- ``plugin_leaks``   lesson 07: the leak reports' excerpts (valgrind, LSan, heaptrack), the
                     classification check, encode_batch under fault injection
- ``static_dynamic`` lesson 06: building and running the set-ups, the prediction check, the
                     fixed-API check (values, crash, glibc bytes incl. mmapped blocks)
- ``cross_module``   lesson 04: the outcome and greeting_length checks
- ``replacing``      lesson 05: the who-serves-malloc and redirect-count checks
- ``wasm_finalization`` lesson 08: process_batch and SafeObject checks, which collector CPython has
- ``measuring_allocators`` lesson 09: the prediction check (paired ratios) and the malloc-lab allocator check

Named for the lesson's topic (the notebook ``NN_topic``); a helper that a second
lesson needs moves down into ``labsupport.heap`` or ``labsupport.widgets``.
"""
__all__: list = []
