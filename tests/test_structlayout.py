"""labsupport.structlayout: layouts read from cffi, holes, views, and pahole agreement."""
import sys

import pytest

import labsupport as lab
from labsupport import structlayout as sl

SRC = r"""
#include <stdint.h>
struct rec { char tag; double value; short id; int count; char flag; };
struct bits { unsigned a:3; unsigned b:5; int c; unsigned char d:4; };
struct inner { char c; int i; };
struct outer { char x; struct inner in; double d; char tail[3]; };
union u { char c[5]; int i; double d; };
struct arr { char name[3]; int vals[3]; };
struct fam { short n; long data[]; };
struct anon { char k; union { int i; float f; }; struct { short s1, s2; } pair; };
struct big { char a; double arr[9]; char z; };
struct pk { char a; int b; short c; } __attribute__((packed));
struct cl { char a; _Alignas(64) int b; };
struct hidden;
typedef struct { char a; long b; } tdef_t;
struct pk use_pk;
struct cl use_cl;
struct hidden *no_hidden(void) { return 0; }
"""

PRAGMA = r"""
#pragma pack(push, 2)
struct pragma2 { short kind; double reading; char id; int count; unsigned short u[3]; };
#pragma pack(pop)
struct pragma2 use_pragma2;
"""


@pytest.fixture(scope="module")
def c():
    return lab.build_c(SRC)


def test_model_imports_no_widgets():
    # the model part must not pull matplotlib or ipywidgets
    import subprocess
    code = ("import sys, labsupport.structlayout; "
            "print('ipywidgets' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_plain_struct(c):
    lay = lab.struct_layout(c, "struct rec")
    assert (lay.size, lay.align, lay.kind) == (c.ffi.sizeof("struct rec"), c.ffi.alignof("struct rec"), "struct")
    assert [(f.name, f.offset, f.size) for f in lay.fields] == [
        ("tag", 0, 1), ("value", 8, 8), ("id", 16, 2), ("count", 20, 4), ("flag", 24, 1)]
    assert [(h.offset, h.size, h.kind, h.after) for h in lay.holes] == [
        (1, 7, "hole", "tag"), (18, 2, "hole", "id"), (25, 7, "tail", "flag")]
    assert lay.padding == 16 and lay.member_bytes == 16 and lay.min_size() == 16


def test_bitfields(c):
    lay = lab.struct_layout(c, "struct bits")
    a, b, cc, d = lay.fields
    assert (a.bit_offset, a.bit_size, b.bit_offset, b.bit_size) == (0, 3, 3, 5)
    assert a.is_bitfield and not cc.is_bitfield and d.bit_size == 4
    assert lay.size == 12
    assert [(h.offset, h.size, h.kind) for h in lay.holes] == [(1, 3, "hole"), (9, 3, "tail")]
    assert lay.unused_bits == 4          # the top half of d's byte


def test_nested_union_array_fam(c):
    outer = lab.struct_layout(c, "struct outer")
    assert outer.field("in").size == c.ffi.sizeof("struct inner") and outer.field("in").offset == 4
    u = lab.struct_layout(c, "union u")
    assert u.kind == "union" and u.size == 8 and all(f.offset == 0 for f in u.fields) and u.holes == []
    arr = lab.struct_layout(c, "struct arr")
    assert arr.field("vals").size == 12 and arr.field("vals").align == 4
    fam = lab.struct_layout(c, "struct fam")
    data = fam.field("data")
    assert data.flexible and data.size == 0 and data.offset == 8 and fam.size == 8
    assert [(h.offset, h.size, h.kind) for h in fam.holes] == [(2, 6, "hole")]
    anon = lab.struct_layout(c, "struct anon")          # cffi flattens anonymous members
    assert [f.name for f in anon.fields] == ["k", "i", "f", "pair"]


def test_cache_line_and_typedef(c):
    big = lab.struct_layout(c, "struct big")
    assert big.field("arr").crosses(64) and not big.field("z").crosses(64)
    assert "cache line 1 starts at byte 64" in big.text()
    assert lab.struct_layout(c, "tdef_t").size == 16


def test_packed_and_forced_alignment(c):
    pk = lab.struct_layout(c, "struct pk")          # the offsets come from the compiler
    assert (pk.size, pk.align) == (7, 1)
    assert [(f.name, f.offset) for f in pk.fields] == [("a", 0), ("b", 1), ("c", 5)]
    assert pk.holes == [] and "misaligned for its type" in pk.table()
    cl = lab.struct_layout(c, "struct cl")
    assert (cl.size, cl.align, cl.field("b").offset) == (128, 64, 64)
    assert "forced alignment" in cl.table()


def test_incomplete_and_non_struct_types_are_refused(c):
    with pytest.raises(sl.LayoutUnavailable, match="incomplete"):
        lab.struct_layout(c, "struct hidden")
    with pytest.raises(sl.LayoutUnavailable, match="not a struct"):
        lab.struct_layout(c, "int")


def test_views_are_deterministic(c):
    lay = lab.struct_layout(c, "struct rec")
    t = lay.text()
    assert t == lab.struct_layout(c, "struct rec").text()
    assert "|A.......:BBBBBBBB|CC..DDDD:E.......|" in t
    from labsupport.widgets.structlayout import layout_html
    assert "0x" not in t and "0x" not in layout_html(lay)
    assert "hatched = padding" in layout_html(lay)
    assert "cache line 1 (byte 64)" in layout_html(lab.struct_layout(c, "struct big"))
    assert "struct rec" in sl.cell_types(c) and "union u" in sl.cell_types(c)


def test_widget(c):
    pytest.importorskip("ipywidgets")
    w = lab.StructLayoutView(c, "struct rec")
    assert repr(w).startswith("StructLayoutView(struct rec: size 32")
    w._field.value = "value"
    assert "alignof" in w._details.value
    w._pick.value = "struct hidden"           # incomplete: a message, not a crash
    assert "incomplete" in w._picture.value


def test_parse_pahole_text():
    text = """struct anon {
\tchar                       k;                    /*     0     1 */

\t/* XXX 3 bytes hole, try to pack */

\tunion {
\t\tint                i;                    /*     4     4 */
\t\tfloat              f;                    /*     4     4 */
\t};                                               /*     4     4 */
\tstruct {
\t\tshort int          s1;                   /*     8     2 */
\t\tshort int          s2;                   /*    10     2 */
\t} pair;                                          /*     8     4 */
\tunsigned int               b:5;                  /*    12: 3  4 */

\t/* size: 16, cachelines: 1, members: 3 */
};"""
    p = sl.parse_pahole(text)
    assert p["size"] == 16
    assert p["fields"] == [("k", 0, 1, None, None), ("i", 4, 4, None, None), ("f", 4, 4, None, None),
                           ("pair", 8, 4, None, None), ("b", 12, 4, 3, 5)]


@pytest.mark.skipif(not lab.have("pahole"), reason="pahole (dwarves) not installed")
@pytest.mark.parametrize("name", ["struct rec", "struct bits", "struct outer", "union u", "struct arr",
                                  "struct fam", "struct anon", "struct big", "tdef_t", "struct pk",
                                  "struct cl"])
def test_agrees_with_pahole(c, name):
    ok, report = lab.compare_with_pahole(lab.struct_layout(c, name), c.path)
    assert ok, report


@pytest.mark.skipif(not lab.have("pahole"), reason="pahole (dwarves) not installed")
def test_disagreement_is_reported(c):
    lay = lab.struct_layout(c, "struct rec")
    import dataclasses
    wrong = dataclasses.replace(lay, fields=(dataclasses.replace(lay.fields[0], offset=2), *lay.fields[1:]))
    ok, report = lab.compare_with_pahole(wrong, c.path)
    assert not ok and "tag" in report
    assert "saved 16 bytes" in lab.pahole_text(c.path, "struct rec", reorganize=True)


def test_pragma_pack_is_not_called_incomplete(monkeypatch):
    """cffi's parser never sees #pragma pack: its natural layout disagrees with gcc's.
    That is said as such (never "incomplete"), and with pahole the real layout is read."""
    c = lab.build_c(PRAGMA)
    with pytest.raises(sl.LayoutMismatch, match="disagrees with the compiler.*pragma pack") as e:
        sl.from_cffi(c.ffi, "struct pragma2")
    assert "incomplete" not in str(e.value) and "reading" in str(e.value)
    if lab.have("pahole"):
        L = lab.struct_layout(c, "struct pragma2")
        assert L.source == "pahole" and (L.size, L.align) == (22, 2)
        assert [(f.name, f.offset, f.size, f.align, f.type) for f in L.fields] == [
            ("kind", 0, 2, 2, "short"), ("reading", 2, 8, 8, "double"), ("id", 10, 1, 1, "char"),
            ("count", 12, 4, 4, "int"), ("u", 16, 6, 2, "unsigned short[3]")]
        assert lab.compare_with_pahole(L, c.path)[0]
    monkeypatch.setattr("labsupport.toolchain.have", lambda tool: False)
    with pytest.raises(sl.LayoutMismatch, match="install pahole"):
        lab.struct_layout(c, "struct pragma2")


def test_a_layout_displays_as_its_picture_and_its_text(c):
    # lab.struct_layout comes through widgets.structlayout, which makes IPython show a Layout
    # as layout_html (text/html) beside its text picture (text/plain): what lesson 02 shows
    from IPython.core.interactiveshell import InteractiveShell

    from IPython import get_ipython

    from labsupport.widgets import structlayout as view
    InteractiveShell.instance()
    shell = get_ipython()          # the one the formatter is registered with (an earlier test's, in a full run)
    view._register_html_formatter()
    lay = lab.struct_layout(c, "struct rec")
    # the registration itself (a terminal shell, an earlier test's in a full run, has HTML off)
    assert shell.display_formatter.formatters["text/html"].lookup(lay) is view.layout_html
    data, _meta = shell.display_formatter.format(lay)
    assert data.get("text/html", view.layout_html(lay)) == view.layout_html(lay)
    assert data["text/plain"] == lay.text()
    assert lab.struct_layout is sl.struct_layout and lab.StructLayoutView is view.StructLayoutView
