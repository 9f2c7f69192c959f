"""labsupport has no import loops: each module imports only what sits below it.

Every ``import`` of a labsupport module counts, at the top of a module or inside a function
(a lazy import is still a dependency: it only hides a loop until the function runs). The
layers, bottom up (CONTRIBUTING.md): toolchain; building (cbuild, cmakebuild, wasm, winlab);
running (isolate, lastword, calls); the heap model and lesson data; pictures and widgets;
lessons/. A loop names the modules in it.
"""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "labsupport"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _absolute(package: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``package``."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> set:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            target = _absolute(package, node)
            if not target.startswith("labsupport"):
                continue
            for alias in node.names:                   # "from . import winlab" imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PKG.parent / sub.replace(".", "/")).is_dir() else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("labsupport")}
    return found - {name}


def graph() -> dict:
    g = {}
    for path in PKG.rglob("*.py"):
        name = _module_name(path)
        g[name] = {m for m in _imports(path) if m != "labsupport"}   # the package's lazy API
    return g


def cycles(g: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_loops():
    found = cycles(graph())
    assert not found, "import loops in labsupport:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checker_sees_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# ---------------------------------------------------------------------------------------------
# Data apart from drawing. Every module outside widgets/ and lessons/ (and the package's lazy
# __init__) is data or machinery: it imports no drawing library, nothing of IPython's display
# and nothing of labsupport.widgets, at the top or inside a function. Pictures and widgets live
# in labsupport/widgets/, which may import the data; lessons/ sits on top of both.

DRAWING = ("matplotlib", "ipywidgets", "anywidget", "IPython.display", "IPython.core.display",
           "labsupport.widgets")
TOP = ("labsupport", "labsupport.widgets", "labsupport.lessons")    # these may draw

# modules that still draw, each with who is to move its picture; an entry that no longer
# draws fails test_known_drawing_is_still_there, so the list only shrinks
KNOWN_DRAWING: dict[str, str] = {}


def _drawing_imports(path: Path) -> set:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(package, node)
            targets = [mod] if _draws(mod) else [f"{mod}.{a.name}" for a in node.names]  # "from IPython import display"
        found |= {t for t in targets if _draws(t)}
    return found


def _draws(module: str) -> bool:
    return any(module == d or module.startswith(d + ".") for d in DRAWING)


def drawing_in_data_modules() -> dict:
    out = {}
    for path in PKG.rglob("*.py"):
        name = _module_name(path)
        if name in TOP or name.startswith(("labsupport.widgets.", "labsupport.lessons.")):
            continue
        found = _drawing_imports(path)
        if found:
            out[name] = sorted(found)
    return out


def test_no_drawing_import_in_a_data_module():
    found = {m: d for m, d in drawing_in_data_modules().items() if m not in KNOWN_DRAWING}
    assert not found, ("a data module imports drawing (move the picture to labsupport/widgets/):\n"
                       + "\n".join(f"{m}: {', '.join(d)}" for m, d in sorted(found.items())))


def test_known_drawing_is_still_there():
    stale = set(KNOWN_DRAWING) - set(drawing_in_data_modules())
    assert not stale, f"no longer drawing, remove from KNOWN_DRAWING: {sorted(stale)}"


def test_the_checker_sees_drawing(tmp_path, monkeypatch):
    pkg = tmp_path / "labsupport"
    (pkg / "widgets").mkdir(parents=True)
    (pkg / "data.py").write_text("def f():\n    from matplotlib.figure import Figure\n")
    (pkg / "data2.py").write_text("from IPython import display\n")
    (pkg / "data3.py").write_text("from .widgets import heapdraw\n")
    (pkg / "ok.py").write_text("from IPython import get_ipython\nimport re\n")
    (pkg / "widgets" / "view.py").write_text("import ipywidgets\n")
    monkeypatch.setitem(globals(), "PKG", pkg)
    assert drawing_in_data_modules() == {"labsupport.data": ["matplotlib.figure"],
                                         "labsupport.data2": ["IPython.display"],
                                         "labsupport.data3": ["labsupport.widgets"]}


def test_an_isolated_child_that_needs_only_data_imports_no_drawing():
    import subprocess
    import sys
    code = ("import labsupport.addrspace, labsupport.structlayout, labsupport.allocbench, sys; "
            "assert not any(m.split('.')[0] in ('matplotlib', 'ipywidgets') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)


def test_contributing_names_every_module_where_it_sits():
    # CONTRIBUTING.md's "where does X go" section shows the layers as they are: every module
    # file of labsupport/, heap/ and widgets/ is named there, and nothing it names is gone
    text = (PKG.parent / "CONTRIBUTING.md").read_text()
    section = text[text.index("### Inside `labsupport/`: where does X go?"):text.index("## Build a notebook")]
    files = {p.name for d in (PKG, PKG / "heap", PKG / "widgets") for p in d.glob("*.py")}
    files |= {p.name for p in PKG.glob("*.c")}
    missing = sorted(f for f in files if f"`{f}`" not in section)
    assert not missing, f"CONTRIBUTING.md's module table does not name: {missing}"
    import re
    named = set(re.findall(r"`([a-z_]+\.py)`", section))
    everywhere = {p.name for p in PKG.rglob("*.py")}
    assert not named - everywhere, f"CONTRIBUTING.md names modules that are gone: {sorted(named - everywhere)}"
