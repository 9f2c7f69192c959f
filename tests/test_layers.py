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


def _imports(path: Path) -> set:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
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
