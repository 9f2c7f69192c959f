import labsupport as lab


def chunk_size(n):
    return max(32, (n + 8 + 15) // 16 * 16)


def buggy_chunk_size(n):
    return (n + 15) // 16 * 16


CASES = [lab.Case((0,), 32), lab.Case((24,), 32), lab.Case((25,), 48, hint="8 bytes of header")]


def test_all_pass(capsys):
    r = lab.check(chunk_size, CASES)
    assert r and r.total == 3 and "all 3 cases passed" in capsys.readouterr().out


def test_failure_names_case_expected_got_and_hint(capsys):
    r = lab.check(buggy_chunk_size, CASES)
    out = capsys.readouterr().out
    assert not r
    assert "case 1 of 3 failed: buggy_chunk_size(0) returned 0, expected 32" in out


def test_exception_reported():
    r = lab.check(lambda n: 1 // n, [lab.Case((0,), 0)], name="inv")
    assert "inv(0) raised ZeroDivisionError" in str(r)


def test_isolated_crash_is_a_failed_case():
    import ctypes
    r = lab.check(lambda: ctypes.string_at(0), [lab.Case((), b"")], isolate=True, name="peek")
    assert not r and "SIGSEGV" in str(r)


def test_isolated_endless_loop_is_a_failed_case():
    def forever():
        while True:
            pass
    r = lab.check(forever, [lab.Case((), None, hint="a wrong value")], isolate=True, timeout=1,
                  hints={"timeout": "stop somewhere"})
    assert "timed out" in str(r) and "hint: stop somewhere" in str(r) and "wrong value" not in str(r)


def test_custom_compare():
    assert lab.check(lambda: 0.1 + 0.2, [lab.Case((), 0.3)], compare=lambda e, g: abs(e - g) < 1e-9)


def test_c_function_isolated():
    c = lab.build_c("int half(int x) { if (x < 0) { int *volatile p = 0; return *p; } return x / 2; }\n")
    assert lab.check((c, "half"), [lab.Case((8,), 4)], isolate=True)
    r = lab.check((c, "half"), [lab.Case((8,), 4), lab.Case((-1,), 0)], isolate=True)
    assert "case 2 of 2 failed: half(-1) did not return" in str(r) and "SIGSEGV" in str(r)
    assert lab.check((c, "half"), [lab.Case((9,), 4)])          # in-kernel also works


def test_expected_can_stay_hidden():
    r = lab.check(lambda: "first", [lab.Case((), "best")], name="pick", reveal_expected=False)
    assert "pick() returned 'first', which is not the answer" in str(r) and "best" not in str(r)


# --- hints follow the mistake ------------------------------------------------------------------

def test_a_crash_gets_the_crash_hint_not_the_wrong_value_hint():
    import ctypes
    r = lab.check(lambda: ctypes.string_at(0), [lab.Case((), b"", hint="leak hint")], isolate=True,
                  name="peek", hints={"crash": "you read memory you do not own"})
    assert "SIGSEGV" in str(r) and "you read memory you do not own" in str(r) and "leak hint" not in str(r)


def test_an_exception_gets_the_error_hint():
    r = lab.check(lambda: {}["x"], [lab.Case((), 1, hint="value hint")], name="f",
                  hints={"error": "look up keys that exist"})
    assert "KeyError" in str(r) and "look up keys that exist" in str(r) and "value hint" not in str(r)


# --- not done yet ----------------------------------------------------------------------------

def test_a_stub_function_is_not_done(capsys):
    def chunk(n):
        raise NotImplementedError
    r = lab.check(chunk, CASES)
    assert not r and r.not_done and "not done yet" in capsys.readouterr().out


def test_placeholders_are_not_done():
    from labsupport.exercises import is_not_done
    assert is_not_done(...) and is_not_done({"x": "?", "y": "a"}) and is_not_done([1, (2, ...)])
    assert not is_not_done({"x": "a"}) and not is_not_done("first") and not is_not_done(0)


def test_exercise_decorator():
    from labsupport.exercises import exercise, passed

    @exercise(error_hint="give a dict")
    def check_answer(answer):
        return passed("ok") if answer["x"] == 1 else None

    assert check_answer(...).not_done
    assert check_answer({"x": "?"}).not_done
    r = check_answer([1, 2])
    assert not r and "TypeError" in str(r) and "give a dict" in str(r)
    assert check_answer({"x": 1})


def test_a_c_stub_module_is_not_done():
    c = lab.build_c("int f(void) {\n    LAB_NOT_DONE();\n    return 0;\n}\n")
    assert c.not_done and c.f() == 0
    assert lab.check((c, "f"), [lab.Case((), 1)]).not_done
    done = lab.build_c("int f(void) { return 1; }\n")
    assert not done.not_done and lab.check((done, "f"), [lab.Case((), 1)])


# --- checks that cannot be fooled cheaply ----------------------------------------------------

class Anything:
    def __eq__(self, other):
        return True


def test_an_object_equal_to_anything_fails():
    r = lab.check(lambda n: Anything(), CASES, name="chunk")
    assert not r and "returned" in str(r)


def test_plain_equal_kinds():
    from labsupport.exercises import plain_equal
    assert plain_equal(32, 32.0) and plain_equal((1, "a"), (1, "a")) and plain_equal({"a": [1]}, {"a": [1]})
    assert not plain_equal(32, "32") and not plain_equal((1, 2), [1, 2]) and not plain_equal(True, 1)
    assert not plain_equal({"a": 1}, {"a": 1, "b": 2})


def test_answer_keys():
    from labsupport.exercises import answer_keys
    assert answer_keys({"1": "a", 2: "b", " x ": "c"}) == {1: "a", 2: "b", "x": "c"}


# --- graded cells (nbgrader) -----------------------------------------------------------------

def test_graded_cell_raises_on_a_failure_and_on_no_verdict():
    import pytest
    from labsupport import exercises as ex
    try:
        ex.graded_begin()
        ex.passed("fine")
        ex.graded_end()
        ex.graded_begin()
        with pytest.raises(AssertionError):
            ex.check(buggy_chunk_size, CASES)
        ex.graded_begin()
        with pytest.raises(AssertionError, match="no check verdict"):
            ex.graded_end()                # lab.check replaced by a stand-in that prints nothing
    finally:
        ex.RAISE_ON_FAIL, ex._verdicts = False, None
