"""Struct layouts as data: where the compiler put each field, the holes between, and the
8/16-byte and 64-byte cache-line boundaries they cross.

    lay = lab.struct_layout(c, "struct rec")   # c: a %%cffi module; read from the compiler
    lay                                          # in a notebook: the picture (HTML) and the text one
    print(lay.text())                            # the text picture, then the table
    print(lay.table())                           # offset, size, align, end of every field
    lay.holes                                    # [Hole(offset=1, size=7, kind="hole", after="tag"), ...]
    lab.StructLayoutView(c)                      # widget: pick any struct of the cell, any field
    ok, report = lab.compare_with_pahole(lay, c.path)   # the same struct, read from DWARF by pahole

This module is the data (``Field``, ``Hole``, ``Layout``, ``from_cffi``,
``struct_layout``, ``parse_pahole``, ``from_pahole``, ``compare_with_pahole``) and its
text renderings (``Layout.text()``, ``Layout.table()``, ``Layout.summary()``, which
nbval compares). It imports no drawing library and nothing of ``labsupport.widgets``,
so a check or an isolated child reads layouts without loading matplotlib or
ipywidgets. The HTML picture of a layout and the ``StructLayoutView`` widget are in
``labsupport/widgets/structlayout.py``; importing that module (``lab.struct_layout``
does) makes a ``Layout`` display as its picture in a notebook.

Where the numbers come from: cffi's ``ffi.sizeof``/``ffi.alignof`` and
``ffi.typeof(T).fields`` of the *built* module (cffi asks the C compiler for the
real offsets in API mode). cffi flattens anonymous struct/union members; so does
``parse_pahole``. A struct cffi cannot see into (declared opaque) raises ``LayoutUnavailable``
with the reason; its size and
alignment are still readable with ``c.ffi.sizeof``/``c.ffi.alignof``, and pahole
shows its fields. (labsupport's cbuild declares packed and aligned structs to cffi
with ``...;``, so cffi takes their offsets from the compiler and they do have
layouts.) An incomplete type (declared, never defined) raises ``LayoutUnavailable``.
A ``#pragma pack`` region, which cffi's parser never sees, makes cffi's declaration
disagree with the compiler: ``struct_layout`` then reads the layout from the module's
debug information with pahole (``from_pahole``), or raises ``LayoutMismatch`` with
cffi's own message when pahole is missing.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass


__all__ = ["CACHE_LINE", "Field", "Hole", "Layout", "LayoutMismatch", "LayoutUnavailable",
           "cell_types", "compare_with_pahole", "from_cffi", "from_pahole", "pahole_text", "parse_pahole",
           "struct_layout"]

CACHE_LINE = 64


class LayoutUnavailable(LookupError):
    """cffi cannot give this type's fields (opaque to it, or its cdef disagrees with gcc)."""


class LayoutMismatch(LayoutUnavailable):
    """cffi's declaration of the type disagrees with the compiler's layout (a #pragma pack
    cffi's parser never saw): its message is cffi's, not "incomplete"."""


@dataclass(frozen=True)
class Field:
    name: str
    offset: int               # bytes from the start of the struct (for a bit-field: of its storage unit)
    size: int                 # bytes (a bit-field: its storage unit; a flexible array member: 0)
    align: int                # alignof(the field's type)
    type: str
    bit_offset: int | None = None   # bit-fields only: first bit inside the storage unit
    bit_size: int | None = None     # bit-fields only: width in bits
    flexible: bool = False          # a flexible array member (``T name[];``)

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def is_bitfield(self) -> bool:
        return self.bit_size is not None

    def bit_range(self) -> tuple[int, int]:
        """[first bit, end bit) from the start of the struct."""
        if self.is_bitfield:
            start = self.offset * 8 + self.bit_offset
            return start, start + self.bit_size
        return self.offset * 8, self.end * 8

    def byte_range(self) -> tuple[int, int]:
        a, b = self.bit_range()
        return a // 8, -(-b // 8)

    def crosses(self, boundary: int) -> bool:
        """True when the field's bytes straddle a multiple of ``boundary`` (from offset 0)."""
        a, b = self.byte_range()
        return b > a and a // boundary != (b - 1) // boundary


@dataclass(frozen=True)
class Hole:
    offset: int
    size: int
    kind: str                 # "hole" (between fields) or "tail" (padding at the end)
    after: str | None = None  # the field just before it


@dataclass(frozen=True)
class Layout:
    name: str                 # "struct rec"
    kind: str                 # "struct" or "union"
    size: int
    align: int
    fields: tuple[Field, ...]
    source: str = "cffi"      # where the numbers came from

    # ------------------------------------------------------------------ model
    @property
    def holes(self) -> list[Hole]:
        """Byte ranges no field touches: holes between fields and tail padding.

        A byte shared by bit-fields counts as used even if some of its bits are not
        (see ``unused_bits``)."""
        used = bytearray(self.size)
        for f in self.fields:
            a, b = f.byte_range()
            for i in range(a, min(b, self.size)):
                used[i] = 1
        out, i = [], 0
        ends = sorted((f.byte_range()[1], f.name) for f in self.fields)
        while i < self.size:
            if used[i]:
                i += 1
                continue
            j = i
            while j < self.size and not used[j]:
                j += 1
            after = None
            for e, n in ends:
                if e <= i:
                    after = n
            kind = "hole" if any(f.offset >= j for f in self.fields) else "tail"
            out.append(Hole(i, j - i, kind, after))
            i = j
        return out

    @property
    def padding(self) -> int:
        return sum(h.size for h in self.holes)

    @property
    def member_bytes(self) -> int:
        return self.size - self.padding

    @property
    def unused_bits(self) -> int:
        """Bits inside used bytes that no bit-field covers (0 without bit-fields)."""
        if not any(f.is_bitfield for f in self.fields):
            return 0
        bits = bytearray(self.size * 8)
        for f in self.fields:
            a, b = f.bit_range()
            for i in range(a, min(b, len(bits))):
                bits[i] = 1
        used_bytes = {i // 8 for i, v in enumerate(bits) if v}
        return sum(1 for i in range(len(bits)) if not bits[i] and i // 8 in used_bytes)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}; it has: {', '.join(f.name for f in self.fields)}")

    def min_size(self) -> int:
        """The smallest size any order of these fields could reach (no bit-fields):
        the member bytes rounded up to the struct's alignment."""
        total = sum(f.size for f in self.fields) if self.kind == "struct" else max(
            (f.size for f in self.fields), default=0)
        return -(-total // self.align) * self.align if self.align else total

    def summary(self) -> str:
        holes = [h for h in self.holes if h.kind == "hole"]
        tail = sum(h.size for h in self.holes if h.kind == "tail")
        s = (f"{self.name}: size {self.size}, align {self.align}, {len(self.fields)} field"
             f"{'s' if len(self.fields) != 1 else ''}; {sum(h.size for h in holes)} bytes in "
             f"{len(holes)} hole{'s' if len(holes) != 1 else ''} + {tail} bytes of tail padding")
        if self.size:
            s += f" ({100 * self.padding / self.size:.0f}% padding)"
        if self.unused_bits:
            s += f"; {self.unused_bits} unused bits inside bit-field bytes"
        return s

    # ------------------------------------------------------------------ text views
    def _letters(self) -> dict[str, str]:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return {f.name: alphabet[i % len(alphabet)] for i, f in enumerate(self.fields)}

    def byte_owners(self) -> list[list[str]]:
        owners: list[list[str]] = [[] for _ in range(self.size)]
        for f in self.fields:
            a, b = f.byte_range()
            for i in range(a, min(b, self.size)):
                owners[i].append(f.name)
        return owners

    def text(self, row_bytes: int = 32) -> str:
        """A deterministic picture: one character per byte ('.' = padding), '|' at every
        16-byte boundary and ':' at the 8-byte ones in between, a marked line at every
        64-byte cache-line boundary; then the table."""
        letters = self._letters()
        owners = self.byte_owners()
        lines = [self.summary()]
        for start in range(0, max(self.size, 1), row_bytes):
            if start and start % CACHE_LINE == 0:
                lines.append(f"        ---- cache line {start // CACHE_LINE} starts at byte {start} ----")
            cells = []
            for i in range(start, min(start + row_bytes, self.size)):
                if i % 16 == 0:
                    cells.append("|")
                elif i % 8 == 0:
                    cells.append(":")
                o = owners[i]
                cells.append("." if not o else ("*" if len(o) > 1 else letters[o[0]]))
            lines.append(f"  {start:5d} {''.join(cells)}|")
        legend = "  ".join(f"{letters[f.name]}={f.name}" for f in self.fields)
        lines.append(f"  key: {legend}  .=padding" + ("  *=shared (union or bit-fields)"
                                                     if any(len(o) > 1 for o in owners) else "")
                     + "  |=16-byte boundary  :=8-byte boundary")
        lines.append(self.table())
        return "\n".join(lines)

    def table(self) -> str:
        rows = [("offset", "size", "align", "end", "field", "type", "note")]
        holes = {h.offset: h for h in self.holes}
        items: list[tuple[int, int, object]] = [(f.byte_range()[0], 1, f) for f in self.fields]
        items += [(h.offset, 0 if h.kind == "hole" else 2, h) for h in holes.values()]
        for _, _, it in sorted(items, key=lambda t: (t[0], t[1])):
            if isinstance(it, Hole):
                nxt = [f for f in self.fields if f.offset >= it.offset + it.size]
                if it.kind == "tail":
                    why = "tail padding: size rounded up to a multiple of the alignment"
                elif nxt and nxt[0].align and it.size >= nxt[0].align:
                    why = (f"more than {nxt[0].name}'s own alignment ({nxt[0].align}) needs: a forced "
                           f"alignment (_Alignas, aligned attribute)")
                else:
                    why = "the next field needs a multiple of its alignment"
                rows.append((str(it.offset), str(it.size), "", str(it.offset + it.size),
                             "(padding)" if it.kind == "tail" else "(hole)", "", why))
                continue
            f = it
            if f.is_bitfield:
                size = f"{f.bit_size}b"
                off = f"{f.offset}:{f.bit_offset}"
            else:
                size, off = str(f.size), str(f.offset)
            notes = []
            if f.flexible:
                notes.append("flexible array member: not counted in sizeof")
            if f.crosses(CACHE_LINE):
                notes.append("crosses a 64-byte cache line")
            elif f.crosses(16) and not f.is_bitfield:
                notes.append("crosses a 16-byte boundary")
            if not f.is_bitfield and f.align and f.offset % f.align:
                notes.append(f"misaligned for its type (offset % {f.align} = {f.offset % f.align})")
            rows.append((off, size, str(f.align), str(f.end), f.name, f.type, "; ".join(notes)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out = ["  " + "  ".join(c.rjust(w) if i < 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
               for r in rows]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle):
        p.text(self.text())

    def __repr__(self) -> str:
        return f"<Layout {self.name}: size {self.size}, align {self.align}, {len(self.fields)} fields>"


# ---------------------------------------------------------------------- model builders

def _norm(name: str) -> str:
    return " ".join(name.split())


def from_cffi(ffi, ctype) -> Layout:
    """The layout of a struct/union type of a cffi FFI (as the C compiler laid it out)."""
    try:
        T = ffi.typeof(ctype) if isinstance(ctype, str) else ctype
    except Exception as exc:          # cffi checks its cdef against the compiler here
        raise LayoutUnavailable(f"cffi cannot lay out {ctype!r}: {exc}") from None
    if T.kind == "pointer":
        T = T.item
    if T.kind not in ("struct", "union"):
        raise LayoutUnavailable(f"{T.cname} is not a struct or a union")
    try:
        ffi.sizeof(T)          # an incomplete type: asking cffi for its fields would abort
    except Exception as exc:
        msg = str(exc)
        if re.search(r"\bwrong (offset|size|total size|alignment)\b", msg):
            # cffi computed the natural layout from its declaration and gcc laid the type
            # out otherwise: a #pragma pack (or another layout pragma) cffi never saw
            raise LayoutMismatch(f"cffi's declaration of {T.cname} disagrees with the compiler "
                                 f"({msg.split(': ', 1)[-1].split('. fix it')[0]}): the compiler "
                                 f"packed or aligned it in a way cffi's parser does not see, such "
                                 f"as #pragma pack") from None
        raise LayoutUnavailable(f"{T.cname} is incomplete here (declared, never defined): "
                                f"it has no layout ({msg})") from None
    try:
        fields = T.fields
    except Exception as exc:
        raise LayoutUnavailable(f"cffi cannot lay out {T.cname}: {exc}") from None
    if not fields:
        raise LayoutUnavailable(
            f"cffi sees {T.cname} as opaque (its declaration was not parsed: e.g. "
            f"__attribute__((packed)) or _Alignas); size {ffi.sizeof(T)}, align {ffi.alignof(T)} "
            f"are known, the fields are not. Read them with pahole, or with offsetof() in C.")
    out = []
    for name, f in fields:
        ft = f.type
        flexible = ft.kind == "array" and ft.length is None
        if flexible:
            size, align = 0, ffi.alignof(ft.item)
        else:
            size, align = ffi.sizeof(ft), ffi.alignof(ft)
        if f.bitsize is not None and f.bitsize >= 0 and f.bitshift is not None and f.bitshift >= 0:
            out.append(Field(name, f.offset, size, align, ft.cname, f.bitshift, f.bitsize))
        else:
            out.append(Field(name, f.offset, size, align, ft.cname, flexible=flexible))
    return Layout(_norm(T.cname), T.kind, ffi.sizeof(T), ffi.alignof(T), tuple(out), "cffi")


def struct_layout(module, ctype: str) -> Layout:
    """``lab.struct_layout(c, "struct rec")``: the layout of a type of a %%cffi module
    (or of a cffi FFI).

    Where cffi's declaration disagrees with the compiler (a ``#pragma pack`` region,
    which cffi's parser does not see), the layout is read from the module's debug
    information with pahole instead, when pahole is installed (``source == "pahole"``);
    otherwise ``LayoutMismatch`` says what cffi and the compiler disagree on."""
    ffi = getattr(module, "ffi", module)
    try:
        return from_cffi(ffi, ctype)
    except LayoutMismatch as exc:
        path = getattr(module, "path", None)
        from .toolchain import have
        if path is None or not have("pahole"):
            raise LayoutMismatch(f"{exc} (install pahole to read its real layout from the debug "
                                 f"information)") from None
        try:
            return from_pahole(pahole_text(path, ctype), ffi)
        except (LookupError, ValueError) as err:
            raise LayoutMismatch(f"{exc}; pahole could not read it either: {err}") from None


def _natural_align(ffi, ctype: str, size: int) -> int:
    """A field type's own alignment (what it would have outside a packed struct)."""
    try:
        return ffi.alignof(ctype)
    except Exception:
        a = 1
        while a < 16 and size % (a * 2) == 0:
            a *= 2
        return a


_DWARF_NAMES = {       # gcc's DWARF base-type names -> the names cffi uses
    "short int": "short", "short unsigned int": "unsigned short", "long int": "long",
    "long unsigned int": "unsigned long", "long long int": "long long",
    "long long unsigned int": "unsigned long long", "_Bool": "_Bool",
}


def from_pahole(text: str, ffi=None) -> Layout:
    """A layout from ``pahole -C NAME`` output: offsets and sizes as the compiler laid
    them out (packed by #pragma pack included). A field's ``align`` is its type's own
    alignment (asked of cffi for the type pahole names), so a packed field shows as
    misaligned; the struct's alignment is the largest power of two, up to its largest
    field alignment, that divides its size and every field offset whose own alignment is
    at least that large (what #pragma pack(n) gives)."""
    p = parse_pahole(text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    name = _norm(re.sub(r"\s*\{\s*$", "", lines[0]).replace("typedef ", ""))
    decls = {}
    for ln in lines[1:]:
        m = _MEMBER.match(ln)
        if m:
            nm, _ = _decl_name(m.group("decl"))
            decls[nm] = m.group("decl")
    fields = []
    for fname, off, size, bit, bits in p["fields"]:
        decl = re.sub(r"__attribute__\s*\(\(.*\)\)", "", decls.get(fname, "")).strip()
        decl = re.sub(r":\s*\d+\s*$", "", decl)
        arr = re.findall(r"\[(\d*)\]", decl)
        base = re.sub(r"(\[[^\]]*\])+\s*$", "", decl).strip()
        ctype = base[:base.rfind(fname)].strip() if fname in base else base
        one = size // max(1, int(arr[0] or 1)) if arr else size
        align = _natural_align(ffi, ctype, one) if ffi is not None else _natural_align(None, "", one)
        ctype = _DWARF_NAMES.get(" ".join(ctype.split()), ctype)
        tname = ctype + "".join(f"[{a}]" for a in arr)
        if bits is not None:
            fields.append(Field(fname, off, size, align, tname, bit or 0, bits))
        else:
            fields.append(Field(fname, off, size, align, tname))
    size = p["size"] if p["size"] is not None else max((f.end for f in fields), default=0)
    top = max((f.align for f in fields), default=1)
    align = top
    while align > 1 and (size % align or any(f.offset % align for f in fields if f.align >= align)):
        align //= 2
    return Layout(name, p["kind"], size, align, tuple(fields), "pahole")


def cell_types(module) -> list[str]:
    """Every struct, union and typedef-to-struct name a module declares to cffi."""
    ffi = getattr(module, "ffi", module)
    typedefs, structs, unions = ffi.list_types()
    names = [f"struct {s}" for s in structs if not s.startswith("$")] + \
            [f"union {u}" for u in unions if not u.startswith("$")]
    for t in typedefs:
        try:
            if ffi.typeof(t).kind in ("struct", "union"):
                names.append(t)
        except Exception:
            pass
    return sorted(names)


# ---------------------------------------------------------------------- pahole

_MEMBER = re.compile(r"^(?P<decl>[^/]*?);\s*/\*\s*(?P<off>\d+)(?::\s*(?P<bit>\d+))?\s+(?P<size>\d+)\s*\*/")
_CLOSE = re.compile(r"^\}\s*(?P<name>[A-Za-z_]\w*)?(?P<arr>\[[^\]]*\])?\s*;\s*/\*\s*(?P<off>\d+)\s+(?P<size>\d+)\s*\*/")
_SIZE = re.compile(r"/\*\s*size:\s*(\d+)")


def _decl_name(decl: str) -> tuple[str, int | None]:
    decl = re.sub(r"__attribute__\s*\(\(.*\)\)", "", decl).strip()
    bits = None
    m = re.search(r":\s*(\d+)\s*$", decl)
    if m:
        bits = int(m.group(1))
        decl = decl[:m.start()].strip()
    decl = re.sub(r"(\[[^\]]*\])+\s*$", "", decl).strip()
    name = re.findall(r"[A-Za-z_]\w*", decl)[-1]
    return name, bits


def parse_pahole(text: str) -> dict:
    """Parse ``pahole -C NAME`` output: {"kind", "size", "fields": [(name, offset, size,
    bit_offset, bit_size)]}. Anonymous struct/union members are flattened (as cffi does)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("empty pahole output")
    head = lines[0]
    kind = "union" if re.match(r"(typedef\s+)?union\b", head) else "struct"
    fields, depth, size = [], 0, None
    stack: list[list] = []
    for ln in lines[1:]:
        if ln.startswith("/*"):
            m = _SIZE.search(ln)
            if m and depth == 0:
                size = int(m.group(1))
            continue
        if ln.endswith("{"):                   # an inline (anonymous or nested) struct/union
            depth += 1
            stack.append([])
            continue
        if ln.startswith("}"):
            if depth == 0:
                continue                        # the end of the type itself
            inner = stack.pop()
            depth -= 1
            m = _CLOSE.match(ln)
            target = stack[-1] if stack else fields
            if m and m.group("name"):           # a named member of an inline type
                target.append((m.group("name"), int(m.group("off")), int(m.group("size")), None, None))
            else:                               # anonymous: its members belong to the parent
                target.extend(inner)
            continue
        m = _MEMBER.match(ln)
        if m:
            name, bits = _decl_name(m.group("decl"))
            entry = (name, int(m.group("off")), int(m.group("size")),
                     int(m.group("bit")) if m.group("bit") is not None else None, bits)
            (stack[-1] if stack else fields).append(entry)
    if size is None and kind == "union":
        size = None     # pahole prints no size line for a union: the caller compares fields only
    return {"kind": kind, "size": size, "fields": fields}


def pahole_text(path, name: str, *, reorganize: bool = False, timeout: float = 30) -> str:
    """pahole's view of type ``name`` (without "struct ") in the -g object at ``path``."""
    from .toolchain import tool_path
    exe = tool_path("pahole")
    if exe is None:
        from .toolchain import missing
        raise FileNotFoundError(missing("pahole"))
    bare = re.sub(r"^(struct|union)\s+", "", name.strip())
    # -F dwarf: the cffi module carries DWARF (-g); without it pahole may try BTF first
    # ("libbpf: failed to find '.BTF' ELF section") before falling back to DWARF
    argv = [exe, "-F", "dwarf", *(["--reorganize"] if reorganize else []), "-C", bare, str(path)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    # pahole 1.29 and 1.30 (Debian 13 ships 1.30) print the type and then exit 1 with
    # "pahole: FILE: Invalid argument": the multithreaded DWARF loader of 1.29 takes the
    # stop it makes once the one type asked for with -C is printed for an error. Fixed in
    # 1.31 (dwarves commit 6b78b72, "pahole: Do not return an error when printing only a
    # specific class"). So the printed type is what counts, not the exit status (a type
    # pahole cannot find prints nothing on stdout, with exit status 0).
    if not p.stdout.strip():
        raise LookupError(f"pahole found no type {bare!r} in the module "
                          "(a type the C never uses may have no debug info)"
                          + (f": {p.stderr.strip()}" if p.stderr.strip() else ""))
    return p.stdout.rstrip("\n")


def compare_with_pahole(layout: Layout, path, text: str | None = None) -> tuple[bool, str]:
    """Compare a layout with pahole's reading of the DWARF in ``path``.

    Returns (agree, report). Compares the size and every field's offset and size
    (bit position and width for bit-fields). A flexible array member is size 0 in both.
    """
    text = text if text is not None else pahole_text(path, layout.name)
    p = parse_pahole(text)
    diffs = []
    if p["size"] is not None and p["size"] != layout.size:
        diffs.append(f"size: layout {layout.size}, pahole {p['size']}")
    ours = {f.name: f for f in layout.fields}
    theirs = {e[0]: e for e in p["fields"]}
    if list(ours) != list(theirs):
        diffs.append(f"fields: layout {list(ours)}, pahole {list(theirs)}")
    for name in ours.keys() & theirs.keys():
        f, (_, off, size, bit, bits) = ours[name], theirs[name]
        if f.is_bitfield:
            if (f.bit_size, f.offset * 8 + f.bit_offset) != (bits, off * 8 + (bit or 0)):
                diffs.append(f"{name}: layout bits {f.offset}:{f.bit_offset} width {f.bit_size}, "
                             f"pahole {off}:{bit} width {bits}")
        elif (f.offset, f.size) != (off, size):
            diffs.append(f"{name}: layout offset {f.offset} size {f.size}, pahole offset {off} size {size}")
    if diffs:
        return False, f"{layout.name}: cffi and pahole DISAGREE:\n  " + "\n  ".join(diffs)
    return True, (f"{layout.name}: cffi and pahole agree (size {layout.size}, "
                  f"{len(layout.fields)} fields, same offsets and sizes)")
