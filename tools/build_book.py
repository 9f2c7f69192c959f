"""Build the published book: a static HTML site of the executed course.

    .venv/bin/python tools/build_book.py                 # -> build/book/html/index.html
    .venv/bin/python tools/build_book.py --out DIR       # -> DIR/html/index.html
    .venv/bin/python tools/build_book.py --check-only DIR/html   # only check the links

What it does, in order:
1. stages a Sphinx source folder (DIR/src): book/conf.py, every notebooks/NN_topic.ipynb
   as it is on disk (the committed lessons with their real outputs and pictures: nothing is
   executed again), a landing page made from README.md (its introduction and its lesson
   table, the notebook names turned into links), and TEACHING.md as the teachers' page;
2. takes the widget renderer (@jupyter-widgets/html-manager) and require.js from npm
   (``npm pack``, cached under ~/.cache/labsupport/book/), so the saved widget state in the
   notebooks is drawn in the page with no CDN; without npm the widgets show their text form;
3. runs Sphinx with MyST-NB and the Sphinx Book Theme (the "book" extra in pyproject.toml;
   installed into the running environment if missing);
4. checks every internal link and picture of the site (files and #anchors) and fails if one
   is broken.
Open DIR/html/index.html in a browser, or serve it: ``python -m http.server -d build/book/html``.
"""
from __future__ import annotations

import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NB_DIR = ROOT / "notebooks"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
# the widget renderer that matches ipywidgets 8 (widget state format 2.x), and its loader
NPM_PACKAGES = {"@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8"}


def say(msg: str) -> None:
    print(f"[book] {msg}", flush=True)


# ---------------------------------------------------------------- 1. the source folder
def lessons() -> list[Path]:
    return sorted(NB_DIR.glob(LESSON_GLOB))


def lesson_title(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


def landing_page(readme: str, present: set[str]) -> str:
    """README's title and introduction, then its "Lessons" section, with every
    `NN_topic.ipynb` that exists turned into a link to that lesson's page."""
    lines = readme.splitlines()
    title = next((ln for ln in lines if ln.startswith("# ")), "# Memory, hands-on")
    start = lines.index(title) + 1
    intro = []
    for ln in lines[start:]:
        if ln.startswith("## "):
            break
        intro.append(ln)
    lessons_md: list[str] = []
    inside = False
    for ln in lines:
        if ln.startswith("## "):
            if inside:
                break
            inside = ln.strip() == "## Lessons"
        if inside:
            lessons_md.append(ln)

    def link(m: re.Match) -> str:
        name = m.group(1)
        return f"[{name}]({name})" if name in present else m.group(0)

    body = "\n".join(lessons_md)
    body = re.sub(r"`(\d\d_[A-Za-z0-9_]+\.ipynb)`", link, body)
    return "\n".join([
        title, *intro,
        "This site is the course as a book: every lesson executed for real, with the "
        "outputs, crashes and pictures it produced stored in the notebook. To run the "
        "lessons yourself, clone the repository and run `./lab start` (see its README). "
        "The widgets show the state they were saved in: moving a slider or picking a block "
        "needs the running lesson's kernel.",
        "", body, "",
    ])


def stage(src: Path) -> list[Path]:
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy2(BOOK / "conf.py", src / "conf.py")
    (src / "_static").mkdir()
    if (BOOK / "_static").is_dir():
        shutil.copytree(BOOK / "_static", src / "_static", dirs_exist_ok=True)
    found = lessons()
    for nb in found:
        shutil.copy2(nb, src / nb.name)
    index = landing_page((ROOT / "README.md").read_text(encoding="utf-8"),
                         {nb.name for nb in found})
    toc = "\n".join(nb.stem for nb in found)
    index += f"\n```{{toctree}}\n:hidden:\n:caption: Lessons\n\n{toc}\n```\n"
    if (ROOT / "TEACHING.md").exists():     # the teacher's guide, as the book's last page
        shutil.copy2(ROOT / "TEACHING.md", src / "teaching.md")
        index += "\n```{toctree}\n:hidden:\n:caption: For teachers\n\nteaching\n```\n"
    (src / "index.md").write_text(index, encoding="utf-8")
    return found


# ---------------------------------------------------------------- 2. the widget renderer
def cache_dir() -> Path:
    base = os.environ.get("LABSUPPORT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "labsupport")
    return Path(base) / "book"


def widget_assets(static: Path) -> bool:
    """Put html-manager's embed-amd.js (+ its fonts) and require.js in static/widgets/.
    Returns False when npm could not supply them."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarballs = {}
    for name, version in NPM_PACKAGES.items():
        tgz = cache / (name.lstrip("@").replace("/", "-") + f"-{version}.tgz")
        if not tgz.exists():
            npm = shutil.which("npm")
            if npm is None:
                say("npm not found: widgets are shown as text (install npm for live widgets)")
                return False
            r = subprocess.run([npm, "pack", "--silent", f"{name}@{version}"], cwd=cache,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0 or not tgz.exists():
                say(f"npm pack {name}@{version} failed: widgets are shown as text\n"
                    + r.stderr.strip()[-500:])
                return False
        tarballs[name] = tgz
    out = static / "widgets"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs["@jupyter-widgets/html-manager"]) as tf:
        for m in tf.getmembers():
            p = Path(m.name)
            # the bundle and the font files it loads relative to itself
            if (m.isfile() and p.parts[:2] == ("package", "dist") and len(p.parts) == 3
                    and not p.name.endswith((".map", ".LICENSE.txt"))
                    and p.name not in ("embed.js", "libembed-amd.js")):
                (out / p.name).write_bytes(tf.extractfile(m).read())
    # the bundle asks for its icon fonts under @jupyter-widgets/... beside the page
    fonts = static.parent / "_extra" / "@jupyter-widgets" / "html-manager" / "dist"
    fonts.mkdir(parents=True, exist_ok=True)
    for f in out.iterdir():
        if f.suffix in (".woff", ".woff2", ".ttf", ".eot", ".svg"):
            shutil.copy2(f, fonts / f.name)
            shutil.copy2(f, fonts.parent.parent / f.name)
    with tarfile.open(tarballs["requirejs"]) as tf:
        (out / "require.js").write_bytes(tf.extractfile("package/require.js").read())
    # the heap maps are anywidgets (labsupport/widgets/heapfront.py): html-manager asks
    # require.js for the module "anywidget" beside the page before any CDN; the installed
    # anywidget (the lock's version) carries that AMD module, which runs the widget's own saved
    # ES module (its _esm)
    try:
        import anywidget
        amd = Path(anywidget.__file__).parent / "nbextension" / "index.js"
        shutil.copy2(amd, static.parent / "_extra" / "anywidget.js")
    except (ImportError, OSError) as exc:
        say(f"anywidget's front end not found ({exc}): the heap maps show as text")
    return True


# ---------------------------------------------------------------- 3. Sphinx
def book_requirements() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return meta["project"]["optional-dependencies"]["book"]


def ensure_tools() -> None:
    try:
        import myst_nb  # noqa: F401
        import sphinx  # noqa: F401
        import sphinx_book_theme  # noqa: F401
        import linkify_it  # noqa: F401
    except ImportError:
        reqs = book_requirements()
        say("installing the book's tools (pyproject.toml, extra 'book'): " + " ".join(reqs))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *reqs], check=True)


def sphinx_build(src: Path, html_dir: Path, doctrees: Path, widgets: bool) -> tuple[int, str]:
    env = dict(os.environ, BOOK_WIDGETS="on" if widgets else "off")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E",
           "-d", str(doctrees), str(src), str(html_dir)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


# ---------------------------------------------------------------- 4. the link check
class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if tag in ("a", "link", "img", "script", "iframe", "source") and a.get(key):
                self.refs.append(a[key])


def check_links(html_dir: Path) -> list[str]:
    """Every relative href/src of every page must name a file of the site, and every
    #anchor an id in that page. Returns the broken ones as 'page: ref (why)'."""
    html_dir = Path(html_dir)
    pages: dict[Path, _Refs] = {}
    for page in sorted(html_dir.rglob("*.html")):
        if page.relative_to(html_dir).parts[0] == "_static":
            continue  # the themes' template fragments, not pages
        p = _Refs()
        p.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = p
    broken = []
    for page, p in pages.items():
        for ref in p.refs:
            u = urllib.parse.urlsplit(ref)
            if u.scheme or u.netloc or ref.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = page if not u.path else (page.parent / urllib.parse.unquote(u.path)).resolve()
            if u.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            rel = page.relative_to(html_dir.resolve())
            if not target.exists():
                broken.append(f"{rel}: {ref} (no such file)")
                continue
            if u.fragment and target.suffix == ".html":
                ids = pages.get(target)
                if ids is not None and urllib.parse.unquote(u.fragment) not in ids.ids:
                    broken.append(f"{rel}: {ref} (no such anchor)")
    return broken


def external_loads(html_dir: Path) -> list[str]:
    """Scripts, stylesheets and pictures the pages would load from another host."""
    found = set()
    for page in Path(html_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r'<(?:script|link|img)\b[^>]*?(?:src|href)="(https?://[^"]+)"', text):
            tag = m.group(0)
            if tag.startswith("<link") and 'rel="stylesheet"' not in tag and "preload" not in tag:
                continue
            found.add(m.group(1))
    return sorted(found)


# ---------------------------------------------------------------- main
def build(out: Path) -> int:
    t0 = time.perf_counter()
    ensure_tools()
    src, html_dir, doctrees = out / "src", out / "html", out / "doctrees"
    found = stage(src)
    if not found:
        say(f"no lessons found in {NB_DIR}")
        return 1
    widgets = widget_assets(src / "_static")
    if html_dir.exists():
        shutil.rmtree(html_dir)
    say(f"building {len(found)} lessons ({found[0].stem} ... {found[-1].stem}) with Sphinx + MyST-NB")
    rc, log = sphinx_build(src, html_dir, doctrees, widgets)
    if log:
        print(log)
    if rc != 0:
        say(f"Sphinx failed (exit {rc})")
        return rc
    broken = check_links(html_dir)
    ext = external_loads(html_dir)
    dt = time.perf_counter() - t0
    for b in broken:
        say(f"broken link: {b}")
    if ext:
        say("pages load from other hosts: " + ", ".join(ext))
    say(f"{len(list(html_dir.glob(LESSON_GLOB.replace('.ipynb', '.html'))))} lesson pages, "
        f"widgets {'live (saved state)' if widgets else 'as text'}, "
        f"{len(broken)} broken internal links, built in {dt:.0f} s")
    say(f"open {html_dir / 'index.html'}")
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "book",
                    help="output folder (default build/book; the site is in OUT/html)")
    ap.add_argument("--check-only", type=Path, metavar="HTML_DIR",
                    help="only check the internal links of an already built site")
    a = ap.parse_args(argv)
    if a.check_only:
        broken = check_links(a.check_only)
        for b in broken:
            say(f"broken link: {b}")
        say(f"{len(broken)} broken internal links")
        return 1 if broken else 0
    return build(a.out.resolve())


if __name__ == "__main__":
    sys.exit(main())
