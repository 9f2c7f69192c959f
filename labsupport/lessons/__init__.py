"""Helpers that one lesson uses and no other: its exercises' checks, its tables.

- ``heap_managers``  lesson 01: reading talloc.c, the chunk-size, coalescing, policy,
                     first-beats-best and tcache-reuse checks, the fragmentation table

Named for the lesson's topic (the notebook ``NN_topic``); a helper that a second
lesson needs moves down into ``labsupport.heap`` or ``labsupport.widgets``.
"""
__all__: list = []
