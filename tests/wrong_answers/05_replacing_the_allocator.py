"""Seeded wrong answers for lesson 05's exercises (keyed by the 1-based index of the
notebook's `solution`-tagged cells): (kind, whole replacement of the solution cell, a
fragment of the hint the check must print)."""

_KEYS_1 = [
    ("mimalloc.o last", "asprintf (allocates inside libc)"),
    ("libmimalloc.a first", "malloc in the program"),
    ("libmimalloc.a last", "malloc in the program"),
    ("LD_PRELOAD + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"),
    ("static mimalloc.o + RTLD_DEEPBIND", "malloc in an RTLD_DEEPBIND library"),
    ("RTLD_GLOBAL, late", "malloc in the program"),
    ("RTLD_GLOBAL, late", "malloc in a dlopen'ed library"),
]
_KEYS_2 = [
    ("iat-plugin", "malloc from the program"),
    ("iat-plugin", "malloc from plugin.dll"),
    ("iat-plugin", "blocks the new free() never allocated"),
    ("iat-all", "malloc inside msvcrt.dll"),
    ("iat-all", "blocks the new free() never allocated"),
]


def _dict(name, keys, values):
    return f"{name} = {{\n" + "".join(f"    {k!r}: {v},\n" for k, v in zip(keys, values)) + "}\n"


_ANYTHING = ("class Anything(str):\n    def __eq__(self, other):\n        return True\n"
             "    __hash__ = str.__hash__\n\n\n")
_ANY_INT = ("class AnyCount(int):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = int.__hash__\n\n\n")

WRONG = {
    1: [
        # the experiment run and written through globals(): right after the stub, this passed
        # with "all 7 cases passed" (review2-04-05-08, N2a)
        ("gaming", "globals()['PREDICTION'] = {k: replacing.parse_report(whoserves(*CONFIGS[k[0]]).stdout)[k[1]]\n"
                   "                          for k in replacing.QUESTIONS_1}\n",
         "type what you predict"),
        # "mimalloc.o must come first", "an archive is like an object file", "LD_PRELOAD
        # catches everything", "RTLD_GLOBAL makes it global"
        ("partial", _dict("PREDICTION", _KEYS_1, ['"glibc"', '"mimalloc"', '"mimalloc"', '"mimalloc"',
                                                  '"mimalloc"', '"mimalloc"', '"mimalloc"']),
         "object file on the command line is always linked in"),
        # an answer equal to anything, whatever the real allocator is
        ("gaming", _ANYTHING + _dict("PREDICTION", _KEYS_1, ['Anything("glibc")'] * 7),
         'the string "glibc" or "mimalloc"'),
        # names the file the code came from instead of the allocator that serves the call
        ("forbidden", _dict("PREDICTION", _KEYS_1, ['"mimalloc.o"', '"glibc"', '"libmimalloc.a"', '"glibc"',
                                                    '"glibc"', '"glibc"', '"glibc"']),
         "not where the code came from"),
        # the README's "put mimalloc first" believed for the archive too (review-04-05-08)
        ("partial", _dict("PREDICTION", _KEYS_1, ['"mimalloc"', '"mimalloc"', '"mimalloc"', '"glibc"',
                                                  '"glibc"', '"glibc"', '"glibc"']),
         "nothing refers to malloc yet"),
        # LD_PRELOAD thought to win over RTLD_DEEPBIND (review-04-05-08)
        ("partial", _dict("PREDICTION", _KEYS_1, ['"mimalloc"', '"glibc"', '"mimalloc"', '"mimalloc"',
                                                  '"glibc"', '"glibc"', '"glibc"']),
         "RTLD_DEEPBIND searches the library"),
        # the experiment run through the lesson's own helpers (review-04-05-08, D8)
        ("gaming", "PREDICTION = {k: replacing.parse_report(whoserves(*CONFIGS[k[0]]).stdout)[k[1]]\n"
                   "              for k in replacing.QUESTIONS_1}\n",
         "type what you predict"),
        # the same under other names, and in a %%time cell (review3-04-05-08, D4)
        ("gaming", "ws, pr = whoserves, replacing.parse_report\n"
                   "PREDICTION = {k: pr(ws(*CONFIGS[k[0]]).stdout)[k[1]] for k in replacing.QUESTIONS_1}\n",
         "type what you predict"),
        ("gaming", "%%time\nPREDICTION = {k: replacing.parse_report(whoserves(*CONFIGS[k[0]]).stdout)[k[1]]\n"
                   "              for k in replacing.QUESTIONS_1}\n",
         "type what you predict"),
        # measured into another variable, then copied, in one cell (the whole binding cell is judged)
        ("gaming", "measured = {k: replacing.parse_report(whoserves(*CONFIGS[k[0]]).stdout)[k[1]]\n"
                   "            for k in replacing.QUESTIONS_1}\n\n"
                   "PREDICTION = measured\n",
         "type what you predict"),
        # the library's file name instead of the allocator (review-04-05-08)
        ("forbidden", _dict("PREDICTION", _KEYS_1, ['"Mimalloc"', '"GLIBC"', '"mimalloc "', '"glibc"',
                                                    '"libc"', '"glibc"', '"glibc"']),
         "is not one of glibc, mimalloc"),
    ],
    2: [
        # redirect.exe run and the counts written with setattr on the notebook's module, so that
        # no cell assigns PREDICTION_2 with them (review2-04-05-08, N2a)
        ("gaming", "setattr(__import__('__main__'), 'PREDICTION_2',\n"
                   "        {k: replacing.redirect_count(redirect(k[0]).stdout, k[1]) for k in replacing.QUESTIONS_2})\n",
         "type what you predict"),
        # right about whose calls are caught, but forgets the block the plugin kept from
        # before the patch, and thinks patching every IAT also catches _strdup
        ("partial", _dict("PREDICTION_2", _KEYS_2, [0, 3, 0, 1, 2]),
         "Which block does the plugin free that it allocated before the patch"),
        # a count equal to any count
        ("gaming", _ANY_INT + _dict("PREDICTION_2", _KEYS_2, ["AnyCount(0)"] * 5),
         "whole number"),
        # "some" / a range instead of the count the program prints
        ("forbidden", _dict("PREDICTION_2", _KEYS_2, [0, 3, '"1 or 2"', 0, 3]),
         "whole number"),
        # the _strdup string counted among the plugin's blocks in iat-plugin (review-04-05-08)
        ("partial", _dict("PREDICTION_2", _KEYS_2, [0, 3, 2, 0, 3]),
         "Only the plugin's free is redirected"),
        # iat-all thought to reach the malloc inside msvcrt.dll (review-04-05-08)
        ("partial", _dict("PREDICTION_2", _KEYS_2, [0, 3, 1, 1, 2]),
         "through no import table at all"),
        # redirect.exe run through the lesson's own helper (review-04-05-08, D8)
        ("gaming", "PREDICTION_2 = {k: replacing.redirect_count(redirect(k[0]).stdout, k[1])\n"
                   "                for k in replacing.QUESTIONS_2}\n",
         "type what you predict"),
        # counts typed as text, or as floats (review-04-05-08)
        ("forbidden", _dict("PREDICTION_2", _KEYS_2, ['"0"', '"3"', '"1"', '"0"', '"3"']), "whole number"),
        ("forbidden", _dict("PREDICTION_2", _KEYS_2, [0.0, 3.0, 1.0, 0.0, 3.0]), "whole number"),
    ],
}
