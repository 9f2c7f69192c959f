"""The %%cffi magic inside a real IPython shell."""
import pytest
from IPython.testing.globalipapp import get_ipython


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "labsupport")
    return shell


def test_magic_binds_a_module(ip, fresh_cache):
    ip.run_cell_magic("cffi", "", "int add(int a, int b) { return a + b; }\n")
    assert ip.user_ns["c"].add(2, 2) == 4
    ip.run_cell_magic("cffi", "m2 --cflags '-DK=5'", "int k(void) { return K; }\n")
    assert ip.user_ns["m2"].k() == 5


def test_edit_and_rerun_in_the_same_kernel(ip, fresh_cache):
    ip.run_cell_magic("cffi", "e", "int v(void) { return 1; }\n")
    assert ip.user_ns["e"].v() == 1
    ip.run_cell_magic("cffi", "e", "int v(void) { return 2; }\n")
    assert ip.user_ns["e"].v() == 2


def test_compile_error_shows_cell_lines_no_traceback(ip, fresh_cache, capsys):
    ip.run_cell_magic("cffi", "ok", "int one(void) { return 1; }\n")
    result = ip.run_cell("%%cffi ok\nint one(void) {\n  return 1 +;\n}\n")
    assert result.error_in_exec is not None
    err = capsys.readouterr()
    text = err.out + err.err
    assert "cell line 3:" in text and "Traceback" not in text
    assert ip.user_ns["ok"].one() == 1          # the earlier build still works


def test_usage_errors(ip):
    from labsupport.magics import UsageError, cffi_magic
    with pytest.raises(UsageError, match="unknown option"):
        cffi_magic("--nope", "int f(void){return 1;}", {})
    with pytest.raises(UsageError, match="not a Python name"):
        cffi_magic("1abc", "int f(void){return 1;}", {})
    with pytest.raises(UsageError, match="invalid choice"):
        cffi_magic("--mimalloc sometimes", "int f(void){return 1;}", {})


def test_line_form_gives_a_library_api_without_c_of_ones_own(ip):
    import os
    if not os.path.exists("/usr/include/cjson/cJSON.h"):
        pytest.skip("libcjson-dev is not installed: sudo apt-get install -y libcjson-dev")
    r = ip.run_cell("%%cffi cj --header cjson/cJSON.h -l cjson\n")
    assert not r.success                 # IPython: "... the cell body is empty. Did you mean the line magic %cffi"
    r = ip.run_cell("%cffi cj --header cjson/cJSON.h -l cjson")
    assert r.success and "cJSON_Parse" in ip.user_ns["cj"].functions


def test_a_cell_that_does_not_build_rebinds_its_name(fresh_cache):
    """An edited cell that fails must not leave the previous version under the name: the
    check would grade code the learner has already changed."""
    from labsupport import exercises
    from labsupport.magics import cffi_magic
    import labsupport as lab
    ns: dict = {}
    with pytest.raises(lab.CompileError):                  # never built: using it says why
        cffi_magic("zeros", "int count(int n) { return n }\n", ns)
    with pytest.raises(lab.CompileError, match="did not build"):
        ns["zeros"].count(3)
    cffi_magic("zeros", "int count(int n) { return n; }\n", ns)
    assert ns["zeros"].count(3) == 3
    for _ in range(2):                                     # a failed edit, twice
        with pytest.raises(lab.CompileError):
            cffi_magic("zeros", "int count(int n) { return n + 1 }\n", ns)
    assert exercises.build_failed(ns["zeros"]) and exercises.build_failed((ns["zeros"], "count"))
    assert ns["zeros"].count(3) == 3                       # the learner's own cells: nothing lost
    r = lab.check((ns["zeros"], "count"), [lab.Case((1,), 1)])
    assert not r and "did not build" in str(r.message)

    @exercises.exercise
    def my_check(module):
        return exercises.passed("graded the module")
    r = my_check(ns["zeros"])
    assert not r and not r.not_done and "did not build" in str(r.message)
