"""The parts of lessons 04, 05 and 08's checks that need no build: answer forms, parsing,
"not done yet", and which collector a CPython version has."""
from types import SimpleNamespace

from labsupport.lessons import cross_module, replacing, wasm_finalization


def test_outcome_names_how_a_run_ended():
    assert cross_module.outcome(SimpleNamespace(ok=True, signal=None, returncode=0)) == "OK"
    assert cross_module.outcome(SimpleNamespace(ok=False, signal="SIGSEGV", returncode=-11)) == "SIGSEGV"
    assert cross_module.outcome(SimpleNamespace(ok=False, signal=None, returncode=2)) == "exit 2"


def test_outcome_check_stub_and_forms(capsys, tmp_path):
    stub = {q: "?" for q in cross_module.EXERCISE_1}
    assert cross_module.check_outcomes(stub, tmp_path).not_done
    r = cross_module.check_outcomes([], tmp_path)
    assert not r and "not a dict" in r.message
    r = cross_module.check_outcomes({q: "crash" for q in cross_module.EXERCISE_1}, tmp_path)
    assert not r and not r.not_done and "a crash is a signal" in r.message

    class Anything(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__
    r = cross_module.check_outcomes({q: Anything("OK") for q in cross_module.EXERCISE_1}, tmp_path)
    assert not r and "is not one of" in r.message


def test_greeting_check_wants_the_function(tmp_path):
    r = cross_module.check_greeting_length(SimpleNamespace(path="x", functions=("other",)), tmp_path)
    assert not r and "greeting_length" in r.message
    assert cross_module.check_greeting_length(SimpleNamespace(not_done=True), tmp_path).not_done


def test_who_serves_parses_and_refuses_other_words():
    report = replacing.parse_report(f"{'malloc in the program':34}mimalloc\n{'asprintf':34}glibc\n")
    assert report == {"malloc in the program": "mimalloc", "asprintf": "glibc"}
    assert replacing.check_who_serves({k: "?" for k in replacing.QUESTIONS_1}, {}, None).not_done
    r = replacing.check_who_serves({k: "libmimalloc.a" for k in replacing.QUESTIONS_1}, {}, None)
    assert not r and "not where the code came from" in r.message


def test_redirect_counts_must_be_counts():
    assert replacing.redirect_count("  malloc from the program: 3 of 3\n", "malloc from the program") == 3
    assert replacing.redirect_count("nothing\n", "malloc from the program") is None
    assert replacing.check_redirect_counts({k: "?" for k in replacing.QUESTIONS_2}, None).not_done
    r = replacing.check_redirect_counts({k: True for k in replacing.QUESTIONS_2}, None)
    assert not r and "whole number" in r.message


def test_collector_by_version():
    assert wasm_finalization.collector((3, 13, 5)).startswith("generational")
    assert wasm_finalization.collector((3, 14, 0)).startswith("incremental")
    assert wasm_finalization.collector((3, 14, 4)).startswith("incremental")
    assert wasm_finalization.collector((3, 14, 5)).startswith("generational")
    assert wasm_finalization.collector((3, 15, 0)).startswith("generational")


def test_wrapper_check_wants_a_class():
    r = wasm_finalization.check_wrapper(42, "objects.wasm")
    assert not r and "not a class" in r.message


def _run(stdout="", ok=True, timed_out=False, signal=None, returncode=0):
    return SimpleNamespace(stdout=stdout, ok=ok, timed_out=timed_out, signal=signal, stopped_by=None,
                           returncode=returncode, status=lambda: "timed out" if timed_out else f"exit {returncode}")


def test_a_failed_experiment_is_not_a_wrong_answer():
    right_1 = {k: "glibc" for k in replacing.QUESTIONS_1}
    configs = {config: (config,) for config, _ in replacing.QUESTIONS_1}
    r = replacing.check_who_serves(right_1, configs, lambda *a: _run(""))
    assert not r and "the experiment did not run" in r.message and "not the answer" not in r.message
    r = replacing.check_who_serves(right_1, configs, lambda *a: _run("", ok=False, timed_out=True))
    assert not r and "the experiment did not run" in r.message
    right_2 = {k: 0 for k in replacing.QUESTIONS_2}
    r = replacing.check_redirect_counts(right_2, lambda mode: _run(""))
    assert not r and "the experiment did not run" in r.message
    r = replacing.check_redirect_counts(right_2, lambda mode: _run("", ok=False, returncode=1))
    assert not r and "the experiment did not run" in r.message


def test_outside_ipython_the_prediction_source_is_unknown():
    assert cross_module.solution_source("PREDICTION") is None
    assert cross_module.runs_the_experiment("PREDICTION", ("app",)) is None


def test_peak_module_counts_refused_frees():
    class Raw:
        def __init__(self):
            self.live = set()

        def obj_new(self, size):
            h = len(self.live) + 1
            self.live.add(h)
            return h

        def obj_free(self, h):
            if h not in self.live:
                return -1
            self.live.discard(h)
            return 0

        def live_objects(self):
            return len(self.live)
    m = wasm_finalization.PeakModule(Raw())
    h = m.obj_new(8)
    assert m.obj_free(h) == 0 and m.obj_free(h) == -1
    assert (m.made, m.freed, m.refused, m.peak) == (1, 1, 1, 1)


def test_a_timed_out_run_of_app_is_not_a_wrong_answer(monkeypatch, tmp_path):
    killed = SimpleNamespace(ok=False, timed_out=True, signal="SIGKILL", stopped_by=None, returncode=None,
                             status=lambda: "timed out after 10 s")
    monkeypatch.setattr(cross_module, "run_app", lambda *a: killed)
    r = cross_module.check_outcomes({q: "OK" for q in cross_module.EXERCISE_1}, tmp_path)
    assert not r and "the experiment did not run" in r.message and "timed out" in r.message


# ---------------------------------------------------------------- "your prediction runs the experiment"

RIGHT_1 = ["mimalloc", "glibc", "mimalloc", "glibc", "glibc", "glibc", "glibc"]


def _history(monkeypatch, *cells, running="replacing.check_who_serves(PREDICTION, CONFIGS, whoserves)", ns=None):
    """IPython's In as a notebook that ran ``cells`` (written as typed: IPython's transformer turns
    ``%time``/``%%capture`` into the calls it stores) and now runs ``running``; ``ns``: the
    notebook's other variables."""
    import IPython
    from IPython.core.inputtransformer2 import TransformerManager
    stored = [TransformerManager().transform_cell(c) for c in (*cells, running)]
    shell = SimpleNamespace(user_ns={"In": ["", *stored], **(ns or {})})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)


def _who_serves(prediction):
    reports = {}
    for (config, line), who in zip(replacing.QUESTIONS_1, RIGHT_1):
        reports.setdefault(config, []).append(f"{line:34}{who}")
    configs = {config: (config,) for config in reports}
    return replacing.check_who_serves(prediction, configs, lambda config: _run("\n".join(reports[config])))


STUB_1 = "PREDICTION = {k: '?' for k in replacing.QUESTIONS_1}"
TYPED_1 = f"PREDICTION = dict(zip(replacing.QUESTIONS_1, {RIGHT_1!r}))"


def test_typed_values_keyed_by_the_question_table_pass(monkeypatch, capsys):
    """review2-04-05-08 N2b: the keys taken from replacing.QUESTIONS_1 are data, not the experiment."""
    _history(monkeypatch, STUB_1, TYPED_1)
    r = _who_serves(dict(zip(replacing.QUESTIONS_1, RIGHT_1)))
    assert r and "all 7" in capsys.readouterr().out


def test_typed_values_keyed_by_the_question_table_pass_in_04_and_05_ex2(monkeypatch, tmp_path):
    ok = SimpleNamespace(ok=True, timed_out=False, signal=None, stopped_by=None, returncode=0)
    segv = SimpleNamespace(ok=False, timed_out=False, signal="SIGSEGV", stopped_by=None, returncode=-11)
    truth = {"symbolic": ok, "exported": ok}
    monkeypatch.setattr(cross_module, "run_app", lambda out, kind, mode, *extra:
                        truth.get(kind) or (segv if mode == "lib-free" else ok))
    _history(monkeypatch, "PREDICTION = dict(zip(cross_module.EXERCISE_1, ['OK', 'SIGSEGV', 'OK', 'OK']))",
             running="cross_module.check_outcomes(PREDICTION, OUT)")
    assert cross_module.check_outcomes(dict(zip(cross_module.EXERCISE_1, ["OK", "SIGSEGV", "OK", "OK"])), tmp_path)
    _history(monkeypatch, "PREDICTION_2 = dict(zip(replacing.QUESTIONS_2, [0, 3, 1, 0, 3]))",
             running="replacing.check_redirect_counts(PREDICTION_2, redirect)")
    assert replacing.runs_the_experiment("PREDICTION_2", replacing._EXPERIMENT_2) is None


def test_a_prediction_written_through_globals_is_refused(monkeypatch):
    """review2-04-05-08 N2a: globals()[...] = {...whoserves()...} right after the stub passed."""
    dodge = ("globals()['PREDICTION'] = {k: replacing.parse_report(whoserves(*CONFIGS[k[0]]).stdout)[k[1]] "
             "for k in replacing.QUESTIONS_1}")
    _history(monkeypatch, STUB_1, dodge)
    r = _who_serves(dict(zip(replacing.QUESTIONS_1, RIGHT_1)))
    assert not r and "runs the experiment (globals())" in r.message
    for cell in ("exec(\"PREDICTION = {}\")", "setattr(__import__('__main__'), 'PREDICTION', {})",
                 "g = globals(); g['PRED' + 'ICTION'] = {}", "get_ipython().push({'PREDICTION': {}})",
                 "get_ipython().run_line_magic('run', 'mine.py')", "vars()['PREDICTION'] = {}"):
        _history(monkeypatch, STUB_1, cell)
        assert replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1), cell


def test_the_cells_that_made_the_value_are_judged(monkeypatch):
    judge = lambda: replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)  # noqa: E731
    # the experiment in the binding cell, under any form of binding
    for cell in ("PREDICTION = {k: parse_report(whoserves()).get(k[1]) for k in QUESTIONS_1}",
                 "PREDICTION: dict = replacing.parse_report(whoserves().stdout)",
                 "for PREDICTION in [whoserves()]:\n    pass",
                 "import subprocess\nPREDICTION = {}"):
        _history(monkeypatch, STUB_1, cell)
        assert judge(), cell
    # a later cell that changes the value runs it
    _history(monkeypatch, STUB_1, TYPED_1, "PREDICTION.update({QUESTIONS_1[0]: parse_report(whoserves().stdout)})")
    assert judge().startswith("parse_report, in a cell run after")
    # the lesson's demonstrations run again after the prediction, the check run before, the
    # prediction printed: none of them made the value
    running = "replacing.check_who_serves(PREDICTION, CONFIGS, whoserves)"
    _history(monkeypatch, "print(whoserves().stdout)", TYPED_1, running, "print(whoserves().stdout)",
             "print(PREDICTION)", "import re\nre.compile('x')", running=running)
    assert judge() is None
    # the stub, then the experiment in an earlier cell that no longer makes the value
    _history(monkeypatch, "PREDICTION = {k: whoserves() for k in QUESTIONS_1}", TYPED_1)
    assert judge() is None


def test_later_cells_that_do_not_name_the_prediction_are_not_judged(monkeypatch, capsys):
    """review3-04-05-08 D3: a correct typed prediction was refused after an unrelated %time,
    %timeit or vars(...) cell."""
    for later in ("%time x = sum(range(10))", "%timeit -n1 -r1 sum(range(10))",
                  "print(sorted(vars(replacing))[:3])", "%%time\ny = eval('1 + 1')",
                  "print(whoserves().stdout)"):
        _history(monkeypatch, STUB_1, TYPED_1, later)
        r = _who_serves(dict(zip(replacing.QUESTIONS_1, RIGHT_1)))
        assert r and "all 7" in capsys.readouterr().out, later
    # the check's own message when a later cell that names the prediction runs the experiment
    _history(monkeypatch, STUB_1, TYPED_1, "print(PREDICTION, whoserves().stdout)")
    used = replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)
    assert used.startswith("whoserves, in a cell run after") and "run your prediction cell again" in used


def _main_function(src: str, ns: dict):
    """A function defined in the notebook (its __module__ is __main__)."""
    glob = {"__name__": "__main__", **ns}
    exec(src, glob)
    return {k: v for k, v in glob.items() if k not in ns and not k.startswith("__")}


def test_renamed_magic_and_helper_evasions_are_refused(monkeypatch):
    """review3-04-05-08 D4: the experiment under another name, in a %%time or %%capture cell, or
    inside a function defined in the notebook."""
    def whoserves(*config):
        return _run("")
    ns = {"whoserves": whoserves, "replacing": replacing, "cross_module": cross_module}
    judge = lambda: replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)  # noqa: E731
    renamed = "PREDICTION = {k: pr(ws(*CONFIGS[k[0]]).stdout)[k[1]] for k in replacing.QUESTIONS_1}"
    _history(monkeypatch, STUB_1, "ws, pr = whoserves, replacing.parse_report", renamed,
             ns={**ns, "ws": whoserves, "pr": replacing.parse_report})
    assert judge() in ("whoserves", "parse_report")
    for magic in ("%%time", "%%capture", "%%capture out", "%%timeit -n1 -r1"):
        _history(monkeypatch, STUB_1, f"{magic}\nPREDICTION = {{k: whoserves() for k in replacing.QUESTIONS_1}}",
                 ns=ns)
        assert judge() == "whoserves", magic
    helpers = _main_function("def inner():\n    return whoserves()\n"
                             "def guess():\n    return {k: inner() for k in QUESTIONS_1}\n", ns)
    _history(monkeypatch, STUB_1, "PREDICTION = guess()", ns={**ns, **helpers})
    assert judge() == "whoserves"
    # 04: a renamed import of the course's own function
    _history(monkeypatch, "from labsupport.lessons.cross_module import run_app as r, outcome as o\n"
             "PREDICTION = {q: o(r(OUT, *EXERCISE_1[q])) for q in EXERCISE_1}",
             running="cross_module.check_outcomes(PREDICTION, OUT)",
             ns={"r": cross_module.run_app, "o": cross_module.outcome})
    assert cross_module.runs_the_experiment("PREDICTION", cross_module._EXPERIMENT_1) in ("run_app", "outcome")


def test_a_value_made_one_cell_earlier_or_through_an_alias_is_refused(monkeypatch, capsys):
    """review3-04-05-08 D4: ``measured = {...whoserves()...}`` then ``PREDICTION = measured``, and
    ``PREDICTION = p = {...}`` then ``p.update({...whoserves()...})``."""
    def whoserves(*config):
        return _run("")
    judge = lambda: replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)  # noqa: E731
    measured = {k: "glibc" for k in replacing.QUESTIONS_1}
    _history(monkeypatch, STUB_1, "measured = {k: whoserves() for k in replacing.QUESTIONS_1}",
             "PREDICTION = measured", ns={"whoserves": whoserves, "measured": measured})
    assert judge() == "whoserves, in the cell that made measured"
    _history(monkeypatch, STUB_1, "PREDICTION = p = dict.fromkeys(replacing.QUESTIONS_1, '?')",
             "p.update({k: whoserves() for k in replacing.QUESTIONS_1})", ns={"whoserves": whoserves})
    assert judge().startswith("whoserves, in a cell run after")
    # typed values copied from a variable typed by hand, and the lesson's CONFIGS read: no call
    typed = dict(zip(replacing.QUESTIONS_1, RIGHT_1))
    _history(monkeypatch, "CONFIGS = {'a': ('whoserves_a', {}, [])}", f"mine = {typed!r}",
             "PREDICTION = {k: mine[k] for k in replacing.QUESTIONS_1 if CONFIGS}",
             ns={"whoserves": whoserves, "mine": typed, "CONFIGS": {"a": 1}})
    assert judge() is None


def test_a_crash_hint_names_whose_free_it_was_whatever_the_glibc(monkeypatch):
    """Exercise 2's hint comes from glibc's own message, in either version's words; a SIGSEGV
    without one asks a fresh first call (glibc 2.43's free faulted silently after many calls)."""
    host = SimpleNamespace(modname="m", path="/nowhere.so")
    for said in ("free(): invalid pointer", "free(): invalid size", "munmap_chunk(): invalid pointer"):
        r = SimpleNamespace(signal="SIGABRT", stderr=said + "\n", ok=False)
        hint = cross_module._crash_hint(host, r)
        assert "give it back with text_free()" in hint and said in hint
    asked = []

    def first(fn, *args, **kw):
        asked.append(args)
        return SimpleNamespace(ok=False, signal="SIGABRT", stderr="free(): invalid size\n")
    monkeypatch.setattr(cross_module, "run_python", first)
    silent = SimpleNamespace(signal="SIGSEGV", stderr="", ok=False)
    assert "give it back with text_free()" in cross_module._crash_hint(host, silent) and asked
    monkeypatch.setattr(cross_module, "run_python",
                        lambda fn, *a, **kw: SimpleNamespace(ok=False, signal="SIGSEGV", stderr=""))
    assert "give it back with free()" in cross_module._crash_hint(host, silent)


def test_the_answer_cells_own_names_are_not_followed_back(monkeypatch, capsys):
    """review5-04-05-08 defect 1: lessons 04 and 05 set ``r = lab.run_program(...)`` before the
    exercise; a typed prediction whose own loop variable is ``r`` was refused."""
    judge = lambda: replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)  # noqa: E731
    earlier = "r = whoserves()"
    for typed in (f"PREDICTION = {{q: r for q, r in zip(replacing.QUESTIONS_1, {RIGHT_1!r})}}",
                  f"PREDICTION = {{}}\nfor q, r in zip(replacing.QUESTIONS_1, {RIGHT_1!r}):\n    PREDICTION[q] = r",
                  f"r = {RIGHT_1!r}\nPREDICTION = dict(zip(replacing.QUESTIONS_1, r))"):
        _history(monkeypatch, earlier, STUB_1, typed, ns={"r": "glibc"})
        assert judge() is None, typed
    # the earlier value itself, read and not rebound, still counts
    _history(monkeypatch, "r = {k: whoserves() for k in replacing.QUESTIONS_1}", STUB_1,
             "PREDICTION = dict(r)", ns={"r": {}})
    assert judge() == "whoserves, in the cell that made r"
    _history(monkeypatch, "r = {k: whoserves() for k in replacing.QUESTIONS_1}", STUB_1,
             "r = dict(r)\nPREDICTION = r", ns={"r": {}})
    assert judge() == "whoserves, in the cell that made r"


def test_the_experiment_passed_on_wrapped_or_in_a_class_is_refused(monkeypatch):
    """review5-04-05-08 defect 2: functools.partial(whoserves), a class's method, and `x = !cmd`."""
    import functools

    def whoserves(*config):
        return _run("")
    ns = {"whoserves": whoserves, "replacing": replacing, "functools": functools}
    judge = lambda: replacing.runs_the_experiment("PREDICTION", replacing._EXPERIMENT_1)  # noqa: E731
    _history(monkeypatch, STUB_1, "f = functools.partial(whoserves)\n"
             "PREDICTION = {k: f() for k in replacing.QUESTIONS_1}", ns=ns)
    assert judge() == "whoserves (passed as a value)"
    made = _main_function("import functools\nf = functools.partial(whoserves)\n", ns)
    _history(monkeypatch, STUB_1, "PREDICTION = {k: f() for k in replacing.QUESTIONS_1}", ns={**ns, **made})
    assert judge() == "whoserves"
    made = _main_function("class Guess:\n    def run(self):\n        return {k: whoserves() for k in QUESTIONS_1}\n", ns)
    _history(monkeypatch, STUB_1, "PREDICTION = Guess().run()", ns={**ns, **made})
    assert judge() == "whoserves"
    for cell in ("out = !./whoserves_a\nPREDICTION = {k: out for k in replacing.QUESTIONS_1}",
                 "out = %sx ./whoserves_a\nPREDICTION = {k: out for k in replacing.QUESTIONS_1}"):
        _history(monkeypatch, STUB_1, cell, ns=ns)
        assert judge() in ("getoutput", "%sx"), cell
