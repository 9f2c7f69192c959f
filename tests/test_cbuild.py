"""C in a cell: builds, declarations, caching, diagnostics."""
import textwrap
from pathlib import Path

import pytest

import labsupport as lab
from labsupport import cbuild

SRC = textwrap.dedent("""\
    #include <stdlib.h>
    #include <string.h>
    #define ARENA 4096
    typedef struct block { size_t size; int used; } block_t;
    struct pt { int x, y; };
    static int helper(int a) { return 2 * a; }
    int add(int a, int b) { return a + helper(b) - b; }
    char *copy(const char *s) { return strdup(s); }
    size_t block_size(block_t *b) { return b->size; }
    int dist2(struct pt *p) { return p->x * p->x + p->y * p->y; }
""")


def test_functions_and_types_visible(fresh_cache):
    c = lab.build_c(SRC)
    assert set(c.functions) == {"add", "copy", "block_size", "dist2"}
    assert c.add(2, 3) == 5
    assert c.ffi.string(c.copy(b"hi")) == b"hi"
    b = c.ffi.new("block_t *", {"size": 48, "used": 1})
    assert c.block_size(b) == 48
    p = c.ffi.new("struct pt *", {"x": 3, "y": 4})
    assert c.dist2(p) == 25
    assert c.lib.ARENA == 4096
    with pytest.raises(AttributeError, match="static functions are private"):
        c.helper


def test_static_is_not_exported(fresh_cache):
    c = lab.build_c("static int hidden(void) { return 1; }\nint shown(void) { return hidden(); }\n")
    assert c.functions == ("shown",)


def test_cache_hit_and_edit_rebuilds(fresh_cache):
    a = lab.build_c("int v(void) { return 1; }\n")
    again = lab.build_c("int v(void) { return 1; }\n")
    assert again.cached and again.modname == a.modname
    edited = lab.build_c("int v(void) { return 2; }\n")
    assert edited.modname != a.modname
    assert (a.v(), edited.v()) == (1, 2)       # same kernel, both alive, new code runs


def test_flags_are_part_of_the_key(fresh_cache):
    a = lab.build_c("int w(void) { return X; }\n", cflags=["-DX=1"])
    b = lab.build_c("int w(void) { return X; }\n", cflags=["-DX=2"])
    assert (a.w(), b.w()) == (1, 2)


def test_local_header_content_is_part_of_the_key(tmp_path, fresh_cache):
    (tmp_path / "k.h").write_text("#define K 1\n")
    src = '#include "k.h"\nint k(void) { return K; }\n'
    assert lab.build_c(src, base_dir=tmp_path).k() == 1
    (tmp_path / "k.h").write_text("#define K 2\n")
    assert lab.build_c(src, base_dir=tmp_path).k() == 2


def test_disk_cache_survives_a_new_process(fresh_cache):
    lab.build_c("int z(void) { return 7; }\n")
    r = lab.run_python(lambda: __import__("labsupport").build_c("int z(void) { return 7; }\n").cached)
    assert r.value is True


def test_syntax_error_maps_to_cell_lines(fresh_cache):
    with pytest.raises(lab.CompileError) as err:
        lab.build_c("int ok(void) { return 1; }\n\nint bad(void) { return 2 }\n", line_offset=1)
    msg = str(err.value)
    assert "cell line 4:" in msg and "expected ';'" in msg.replace("‘", "'").replace("’", "'")
    assert "/tmp" not in msg and fresh_cache.name not in msg


def test_undefined_symbol_is_a_link_error(fresh_cache):
    with pytest.raises(lab.LinkError, match="undefined symbol not_defined_anywhere"):
        lab.build_c("int not_defined_anywhere(int);\nint f(void) { return not_defined_anywhere(1); }\n")


def test_missing_library_is_a_link_error(fresh_cache):
    with pytest.raises(lab.LinkError, match="cannot find -lnosuchlib"):
        lab.build_c("int f(void) { return 1; }\n", libraries=["nosuchlib"])


def test_bad_extra_declarations(fresh_cache):
    c = lab.build_c("int f(void) { return 1; }\n", cdef="this is not C;")
    assert c.f() == 1
    assert any("not visible from Python" in n for n in c.notes)


def test_name_clash_with_python_h_gets_a_hint(fresh_cache):
    with pytest.raises(lab.CompileError, match="give your function another name"):
        lab.build_c("char *dup(const char *s) { return 0; }\n")


def test_unparseable_struct_becomes_opaque(fresh_cache):
    c = lab.build_c("#include <pthread.h>\nstruct s { pthread_mutex_t m; int n; };\n"
                    "int g(struct s *p) { return p ? 1 : 0; }\n")
    assert c.g(c.ffi.NULL) == 0
    assert any("opaque" in n for n in c.notes)


def test_mimalloc_static_and_dynamic(fresh_cache):
    src = "#include <mimalloc.h>\nint owns(void) { void *p = mi_malloc(64); int r = mi_is_in_heap_region(p); mi_free(p); return r; }\n"
    assert lab.build_c(src, mimalloc="static").owns() == 1
    assert lab.build_c(src, mimalloc="dynamic").owns() == 1


def test_build_c_file_and_extra_files(tmp_path, fresh_cache):
    (tmp_path / "lib.h").write_text("int twice(int);\n")
    (tmp_path / "lib.c").write_text('#include "lib.h"\nint twice(int x) { return 2 * x; }\n')
    (tmp_path / "main.c").write_text('#include "lib.h"\nint quad(int x) { return twice(twice(x)); }\n')
    c = lab.build_c_file(tmp_path / "main.c", files=["lib.c"])
    assert c.quad(3) == 12 and c.twice(4) == 8


def test_warnings_are_reported_with_cell_lines(fresh_cache):
    c = lab.build_c("int f(void) { int unused; return 1; }\n", line_offset=1)
    assert "cell line 2" in c.warnings and "unused" in c.warnings


def test_type_declarations_scanner():
    decls = cbuild.type_declarations(SRC)
    assert "#define ARENA 4096" in decls
    assert any(d.startswith("typedef struct block") for d in decls)
    assert any(d.startswith("struct pt {") for d in decls)
    assert not any("helper" in d for d in decls)


def test_recipe_key_names_every_input(tmp_path):
    from labsupport.cbuild import make_recipe
    (tmp_path / "h.h").write_text("#define N 1\n")
    src = tmp_path / "a.c"
    src.write_text('#include "h.h"\nint main(void) { return N; }\n')
    base = make_recipe("program", "gcc", [src])
    assert base.key() == make_recipe("program", "gcc", [src]).key()
    assert dict(base.headers) == {str(tmp_path / "h.h"): "#define N 1\n"}
    assert base.compiler_version.startswith("gcc")           # the compiler's version is always there
    (tmp_path / "h.h").write_text("#define N 2\n")
    assert make_recipe("program", "gcc", [src]).key() != base.key()      # a header edit rebuilds
    assert make_recipe("program", "gcc", [src], cflags=["-O2"]).key() != base.key()
    from dataclasses import replace
    assert replace(base, compiler_version="gcc 99").key() != base.key()


def test_mingw_builds_carry_their_compiler_version():
    import labsupport as lab
    from labsupport.cbuild import compiler_version
    if not lab.have("mingw"):
        pytest.skip(lab.missing("mingw"))
    assert "mingw" in compiler_version("x86_64-w64-mingw32-gcc").lower()


def test_the_build_environment_is_read_at_build_time(monkeypatch):
    from labsupport.cbuild import _build_env
    monkeypatch.setenv("LAB_SET_AFTER_IMPORT", "1")
    env = _build_env({"X": "y"})
    assert env["LAB_SET_AFTER_IMPORT"] == "1" and env["LC_ALL"] == "C" and env["X"] == "y"


FIXTURES = lab.ROOT / "tests" / "fixtures"


def test_a_real_style_header_yields_every_function():
    """extern "C" guards, export and calling-convention macros, a self-referential struct,
    callbacks in function-pointer fields, a packed record, flag macros, restrict, inline."""
    c = lab.build_c_file(FIXTURES / "widget" / "widget.c")
    assert set(c.functions) == {"wg_init_hooks", "wg_push", "wg_sum", "wg_each", "wg_free",
                                "wg_record_size", "wg_twice"}
    assert c.notes == []
    head = c.ffi.NULL
    for v in (1, 2, 3):
        head = c.wg_push(head, v)
    assert c.wg_sum(head) == 6 and head.next.value == 2
    assert (c.lib.WG_FLAG_SORTED, c.lib.WG_FLAG_ALL, c.lib.WG_VERSION_MAJOR, c.lib.WG_TEXT) == (8, 9, 2, 2)
    # the packed record: cffi takes its layout from the compiler
    assert c.ffi.sizeof("struct wg_record") == c.wg_record_size() == 9
    assert c.ffi.offsetof("struct wg_record", "value") == 1
    seen = []

    @c.ffi.callback("wg_visit")
    def visit(node, context):
        seen.append(node.value)
    c.wg_each(head, visit, c.ffi.NULL)
    assert seen == [3, 2, 1]
    hooks = c.ffi.new("wg_hooks *")
    assert c.ffi.typeof(hooks.alloc_fn).kind == "function"
    c.wg_free(head)


def test_strip_gcc_extensions():
    from labsupport.cbuild import _LAYOUT, strip_gcc_extensions
    text = ('__extension__ typedef struct { long long x; } __attribute__((aligned(16))) big;\n'
            'extern int f(const char *__restrict s) __attribute__((nonnull (1))) __asm__("" "f2");\n'
            'static __inline__ int g(void);')
    out = strip_gcc_extensions(text)
    assert "__attribute__" not in out and "__asm__" not in out and "__restrict" not in out
    assert "__extension__" not in out and "__inline__" not in out and out.count(_LAYOUT) == 1


def test_integer_expression_macros():
    from labsupport.cbuild import type_declarations
    decls = type_declarations("#define A 4\n#define B (A << 2)\n#define C (B | 1u)\n"
                              "#define NAME \"text\"\n#define CDECL __cdecl\n#define F(x) (x)\n")
    assert decls == ["#define A 4", "#define B ...", "#define C ..."]


def test_installed_header_api_is_callable():
    """Debian's libcjson-dev through the header option: no declarations written twice."""
    import os
    if not os.path.exists("/usr/include/cjson/cJSON.h"):
        pytest.skip("libcjson-dev is not installed: sudo apt-get install -y libcjson-dev")
    c = lab.build_c("", headers=["<cjson/cJSON.h>"], libraries=["cjson"])
    assert len(c.functions) > 70 and "cJSON_Parse" in c.functions and c.notes == []
    doc = c.cJSON_Parse(b'{"a": [1, 2, {"b": "x"}]}')
    items = c.cJSON_GetObjectItem(doc, b"a")
    assert c.cJSON_GetArraySize(items) == 3 and c.cJSON_IsArray(items)
    assert items.type & c.lib.cJSON_Array
    text = c.cJSON_PrintUnformatted(doc)
    assert c.ffi.string(text) == b'{"a":[1,2,{"b":"x"}]}'
    c.cJSON_free(text)
    c.cJSON_Delete(doc)
    # and in a cell that uses it, called isolated
    cell = lab.build_c(r"""
        int count_items(const char *json) {
            cJSON *doc = cJSON_Parse(json);
            int n = cJSON_GetArraySize(doc);
            cJSON_Delete(doc);
            return n;
        }""", headers=["cjson/cJSON.h"], libraries=["cjson"], isolate=True)
    assert cell.count_items(b"[1, 2, 3, 4]") == 4


def test_diagnostics_keep_cell_lines_with_a_header_option():
    import os
    if not os.path.exists("/usr/include/cjson/cJSON.h"):
        pytest.skip("libcjson-dev is not installed")
    with pytest.raises(lab.CompileError) as info:
        lab.build_c("int f(void) {\n  return undefined_name;\n}\n", headers=["cjson/cJSON.h"],
                    libraries=["cjson"], line_offset=1)
    assert "cell line 3" in str(info.value) or ":3:" in str(info.value), str(info.value)


def test_a_lessons_relative_paths_work_from_another_folder(tmp_path, monkeypatch):
    """A lesson copied into an nbgrader course (source/lesson01/) keeps its ../native_examples paths."""
    monkeypatch.chdir(tmp_path)
    c = lab.build_c('#include "talloc.h"\nint word(void) { return (int)sizeof(ta_block); }\n',
                    include_dirs=["../native_examples/01_heap_managers"],
                    files=["../native_examples/01_heap_managers/talloc.c"])
    assert c.word() > 0


def test_precompiled_prologue_gives_the_same_module_and_messages(fresh_cache, monkeypatch):
    """Once gcc's precompiled form of cffi's prologue exists, builds read it (and are faster:
    benchmarks/bench_core.py); the module and the diagnostics are those of the text."""
    import sysconfig
    m1 = cbuild.build_c("int add(int a, int b) { return a + b; }\n")       # starts the background build
    whole = (Path(m1.path).parent / f"{m1.modname}.c").read_text()
    prologue = whole.partition('#line 1 "cell.c"\n')[0]
    header = cbuild.precompiled_prologue(cbuild._gcc(), prologue, sysconfig.get_paths()["include"], wait=True)
    assert header and header.with_name(header.name + ".gch").stat().st_size > 1_000_000
    first_lines, real_run = [], cbuild.subprocess.run

    def spy(cmd, *a, **kw):
        if "-shared" in cmd:
            first_lines.append(Path(kw.get("cwd", "."), next(c for c in cmd if c.endswith(".c")))
                               .read_text().splitlines()[0])
        return real_run(cmd, *a, **kw)
    monkeypatch.setattr(cbuild.subprocess, "run", spy)
    m2 = cbuild.build_c("int add(int a, int b) { return a + b; }\nint sub(int a, int b) { return a - b; }\n")
    assert first_lines == [f'#include "{header}"']
    assert m2.lib.sub(5, 3) == 2 and m2.lib.add(2, 2) == 4
    assert (Path(m2.path).parent / f"{m2.modname}.c").read_text().startswith(prologue)   # kept whole
    with pytest.raises(cbuild.CompileError) as err:       # Python.h's ttyname: a pass-2 error
        cbuild.build_c("int ttyname(void) { return 1; }\n")
    assert str(header) not in str(err.value) and "Python.h" in str(err.value)
    assert "give your function another name" in str(err.value)
