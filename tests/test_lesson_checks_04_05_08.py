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
