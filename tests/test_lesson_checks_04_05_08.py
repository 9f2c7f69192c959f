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
