"""Seeded wrong answers for lesson 05's exercises (keyed by the 1-based index of the
notebook's `solution`-tagged cells). Each must make the check after it print a ✘ and
a hint."""

WRONG = {
    # Exercise 1: "mimalloc.o must come first", "an archive is like an object file",
    # "LD_PRELOAD catches everything", "RTLD_GLOBAL makes it global".
    1: '''PREDICTION = {
    ("mimalloc.o last", "asprintf (allocates inside libc)"): "glibc",
    ("libmimalloc.a first", "malloc in the program"): "mimalloc",
    ("libmimalloc.a last", "malloc in the program"): "mimalloc",
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "mimalloc",
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"): "mimalloc",
    ("RTLD_GLOBAL, late", "malloc in the program"): "mimalloc",
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"): "mimalloc",
}
''',
    # Exercise 2: right about whose calls are caught, but forgets the block the plugin
    # kept from before the patch, and thinks patching every IAT also catches _strdup.
    2: '''PREDICTION_2 = {
    ("iat-plugin", "malloc from the program"): 0,
    ("iat-plugin", "malloc from plugin.dll"): 3,
    ("iat-plugin", "blocks the new free() never allocated"): 0,
    ("iat-all", "malloc inside msvcrt.dll"): 1,
    ("iat-all", "blocks the new free() never allocated"): 2,
}
''',
}
