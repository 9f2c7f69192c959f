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
    r = lab.check(forever, [lab.Case((), None, hint="stop somewhere")], isolate=True, timeout=1)
    assert "timed out" in str(r) and "hint: stop somewhere" in str(r)


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
