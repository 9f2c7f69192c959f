"""Seeded wrong answers for lesson 04's exercises (keyed by the 1-based index of the
notebook's `solution`-tagged cells): (kind, whole replacement of the solution cell, a
fragment of the hint the check must print)."""

_QUESTIONS = [
    "-Bsymbolic, linked: the program free()s the library's string",
    "-Bsymbolic, opened with plain dlopen: text_free() on the program's block",
    "exported, opened with plain dlopen: the program free()s the library's string",
    "exported, linked: text_free() on the program's block",
]


def _prediction(values):
    body = "".join(f"    {q!r}: {v},\n" for q, v in zip(_QUESTIONS, values))
    return "PREDICTION = {\n" + body + "}\n"


_CELL_HEAD = '''%%cffi host -l text_private -L {LIBDIR} --ldflags "-Wl,-rpath,{LIBDIR}"
#include <string.h>
#include <stdlib.h>

char *text_greeting(const char *name);   /* from textlib: give back with text_free */
void text_free(void *p);
'''

WRONG = {
    1: [
        # the experiment run and written through globals(), so that no cell assigns PREDICTION
        # with it: right after the stub, this passed (review2-04-05-08, N2a)
        ("gaming", "globals()['PREDICTION'] = {\n"
                   "    q: outcome(app(k, m, *(OUT / e if e.endswith('.so') else e for e in x)))\n"
                   "    for q, (k, m, x) in cross_module.EXERCISE_1.items()}\n",
         "type what you predict"),
        # "every build that carries its own mimalloc crashes on a wrong free": misses that a
        # linked -Bsymbolic or exported library takes over malloc for the program too.
        ("partial", _prediction(['"SIGABRT"', '"SIGSEGV"', '"SIGABRT"', '"SIGSEGV"']),
         "comes before libc in the search order"),
        # an answer that equals anything, to pass whatever the real outcome is
        ("gaming", "class Anything(str):\n    def __eq__(self, other):\n        return True\n"
                   "    __hash__ = str.__hash__\n\n\n"
                   + _prediction(['Anything("OK")'] * 4),
         "each answer is one of the strings"),
        # the task asks for how the run ends; "crash" hides which check fired
        ("forbidden", _prediction(['"OK"', '"crash"', '"OK"', '"OK"']),
         "a crash is a signal"),
        # "nothing crashes when the library is linked or opened": misses -Bsymbolic's private
        # binding of a late library
        ("partial", _prediction(['"OK"'] * 4), "-Bsymbolic binds the library's free"),
        # the check's own oracle run instead of a prediction (review-04-05-08, D8)
        ("gaming", "from labsupport.lessons.cross_module import EXERCISE_1, run_app, _config_args\n"
                   "PREDICTION = {q: outcome(run_app(OUT, k, m, *_config_args(OUT, e)))\n"
                   "              for q, (k, m, e) in EXERCISE_1.items()}\n",
         "type what you predict"),
        # the lesson's own app() run for each question (review-04-05-08, D8)
        ("gaming", "PREDICTION = {\n"
                   f"    {_QUESTIONS[0]!r}: outcome(app('symbolic', 'free-lib')),\n"
                   f"    {_QUESTIONS[1]!r}: outcome(app('shared', 'lib-free', OUT / 'libtext_symbolic.so', 'plain')),\n"
                   f"    {_QUESTIONS[2]!r}: outcome(app('shared', 'free-lib', OUT / 'libtext_exported.so', 'plain')),\n"
                   f"    {_QUESTIONS[3]!r}: outcome(app('exported', 'lib-free')),\n"
                   "}\n",
         "type what you predict"),
        # -Bsymbolic thought to keep the library's allocator private even when it is linked
        # (review-04-05-08)
        ("partial", _prediction(['"SIGABRT"', '"SIGSEGV"', '"OK"', '"OK"']),
         "comes before libc in the search order"),
        # signal numbers instead of names (review-04-05-08)
        ("forbidden", _prediction(["0", "11", "0", "0"]), "each answer is one of the strings"),
        # the oracle under other names, in the cell that binds PREDICTION (review3-04-05-08, D4)
        ("gaming", "from labsupport.lessons.cross_module import run_app as r, outcome as o, _config_args as a\n"
                   "PREDICTION = {q: o(r(OUT, k, m, *a(OUT, e)))\n"
                   "              for q, (k, m, e) in cross_module.EXERCISE_1.items()}\n",
         "type what you predict"),
        # the experiment inside a %%capture cell, whose body IPython stores as a string (D4)
        ("gaming", "%%capture\nPREDICTION = {q: outcome(app(k, m, *(OUT / e if e.endswith('.so') else e for e in x)))\n"
                   "              for q, (k, m, x) in cross_module.EXERCISE_1.items()}\n",
         "type what you predict"),
        # the experiment inside a function the notebook defines (D4)
        ("gaming", "def guess():\n"
                   "    return {q: outcome(app(k, m, *(OUT / e if e.endswith('.so') else e for e in x)))\n"
                   "            for q, (k, m, x) in cross_module.EXERCISE_1.items()}\n\n\n"
                   "PREDICTION = guess()\n",
         "type what you predict"),
        # a question renamed: its prediction is missing (review-04-05-08)
        ("forbidden", "PREDICTION = {\n" + "".join(f"    {q!r}: 'OK',\n" for q in _QUESTIONS[:3])
         + "    'exported linked': 'OK',\n}\n", "keep the four questions"),
    ],
    2: [
        # fixes one direction only: the program's block still goes to the library's free
        ("partial", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    char *copy = strdup(g);
    int n = (int)strlen(copy);
    text_free(g);
    text_free(copy);
    return n;
}
''', "give it back with free()"),
        # the "fix" that stops the crash by never freeing anything
        ("partial", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    char *copy = strdup(g);
    return (int)strlen(copy);          /* no free: no crash */
}
''', "text_greeting's result needs text_free()"),
        # the book's length formula typed in: no allocation, so nothing to get wrong
        ("gaming", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    return 7 + (int)strlen(name);      /* strlen("hello, ") + strlen(name) */
}
''', "the greeting's text belongs to the library"),
        # asks the library (so it made a string per call) and gives it back, then returns
        # the length from the format it read in the book (review5-04-05-08, defect 5)
        ("gaming", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    text_free(text_greeting(name));
    return (int)strlen(name) + 7;
}
''', "its format cannot be assumed"),
        # keeps the last greeting in a static and frees it on the next call: the per-call
        # counts stay flat, and one string is never given back
        ("forbidden", _CELL_HEAD + '''
static char *last;

int greeting_length(const char *name)
{
    if (last)
        text_free(last);
    last = text_greeting(name);
    return (int)strlen(last);
}
''', "a string kept in a static variable"),
        # a strdup copy cached in a static: one glibc block never freed, and the first name's
        # length returned for every name (review-04-05-08, D4)
        ("forbidden", _CELL_HEAD + '''
static char *copy;

int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    if (!copy)
        copy = strdup(g);
    int n = (int)strlen(copy);
    text_free(g);
    return n;
}
''', "a copy kept from an earlier call"),
        # the right frees, and the copy freed a second time: glibc aborts (review-04-05-08, D6a)
        ("partial", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    char *copy = strdup(g);
    int n = (int)strlen(copy);
    text_free(g);
    free(copy);
    free(copy);
    return n;
}
''', "each block is freed exactly once"),
        # the library's string given back twice (review-04-05-08, D6b)
        ("partial", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    char *copy = strdup(g);
    int n = (int)strlen(copy);
    text_free(g);
    text_free(g);
    free(copy);
    return n;
}
''', "a string freed twice"),
        # glibc's free() on the library's string (review-04-05-08)
        ("forbidden", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    int n = (int)strlen(g);
    free(g);
    return n;
}
''', "give it back with text_free()"),
        # the terminating NUL counted (review-04-05-08)
        ("partial", _CELL_HEAD + '''
int greeting_length(const char *name)
{
    char *g = text_greeting(name);
    int n = (int)strlen(g) + 1;
    text_free(g);
    return n;
}
''', "return strlen of this call's greeting"),
    ],
}
