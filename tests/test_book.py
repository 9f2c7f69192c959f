"""The published book (tools/build_book.py): built once into a temporary folder (about
25 s here), then checked as a reader would find it: a page per lesson with the stored
outputs and pictures, the README's lesson table as the landing page with working links,
saved widgets drawn from local files, nothing loaded from another host, no broken
internal link. Also checks the link checker itself on a small made-up site."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil

import pytest

import labsupport as lab

ROOT = lab.ROOT
for mod in ("sphinx", "myst_nb", "sphinx_book_theme", "linkify_it"):
    if importlib.util.find_spec(mod) is None:
        pytest.skip(f"{mod} is not installed (pyproject.toml, extra 'book')", allow_module_level=True)

spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
build_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_book)

LESSONS = build_book.lessons()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    rc = build_book.main(["--out", str(out)])
    assert rc == 0, "tools/build_book.py failed (its output above says why)"
    # the staged lessons are the notebooks as stored: Sphinx was told never to run them
    assert re.search(r'^nb_execution_mode = "off"$', (out / "src" / "conf.py").read_text(), re.M)
    return out / "html"


def _outputs(nb_path):
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            yield o
    return nb


def test_every_lesson_has_a_page_in_order(site):
    assert LESSONS, "no notebooks/NN_topic.ipynb found"
    index = (site / "index.html").read_text(encoding="utf-8")
    pos = []
    for nb in LESSONS:
        assert (site / f"{nb.stem}.html").exists(), nb.name
        pos.append(index.find(f'href="{nb.stem}.html"'))
        assert pos[-1] >= 0, f"the landing page's navigation misses {nb.stem}"
    assert pos == sorted(pos), "lessons are not in order in the navigation"


def test_landing_page_is_the_readme_lesson_table(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Lessons", 1)[1]
    named = re.findall(r"`(\d\d_\w+)\.ipynb`", table)
    assert named, "README's lesson table names no notebook"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<table" in index
    for stem in named:
        if (ROOT / "notebooks" / f"{stem}.ipynb").exists():
            assert re.search(rf'<a class="reference internal" href="{stem}\.html[^"]*"', index), stem


def test_stored_outputs_and_pictures_are_shown_not_recomputed(site):
    for nb in LESSONS:
        page = (site / f"{nb.stem}.html").read_text(encoding="utf-8")
        outputs = list(_outputs(nb))
        pngs = sum("image/png" in o.get("data", {}) for o in outputs)
        shown = len(re.findall(r'<img[^>]+src="_images/[^"]+\.png"', page))
        assert shown >= pngs, f"{nb.name}: {pngs} stored pictures, {shown} on the page"
        # the first stored line of program output appears as stored
        streams = [o for o in outputs if o["output_type"] == "stream" and "".join(o["text"]).strip()]
        if streams:
            first = "".join(streams[0]["text"]).strip().splitlines()[0].strip()
            words = re.findall(r"[A-Za-z]{4,}", first)[:3]
            for w in words:
                assert w in page, f"{nb.name}: stored output word {w!r} not on the page"


def test_saved_widgets_are_drawn_from_local_files(site):
    with_widgets = [nb for nb in LESSONS
                    if any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                           for o in _outputs(nb))]
    if not with_widgets:
        pytest.skip("no lesson stores a widget")
    live = (site / "_static" / "widgets" / "embed-amd.js").exists()
    for nb in with_widgets:
        page = (site / f"{nb.stem}.html").read_text(encoding="utf-8")
        if live:
            assert "application/vnd.jupyter.widget-state+json" in page, nb.name
            assert 'src="_static/widgets/embed-amd.js' in page, nb.name
            if '"_model_module": "anywidget"' in nb.read_text(encoding="utf-8"):
                # the heap maps: html-manager finds the module "anywidget" beside the page
                assert (site / "anywidget.js").exists(), f"{nb.name} has anywidgets, the book no anywidget.js"
        else:  # npm was not reachable: the widget's text form is shown instead
            assert "application/vnd.jupyter.widget-view+json" not in page, nb.name


def test_no_page_loads_from_another_host(site):
    assert build_book.external_loads(site) == []


def test_no_broken_internal_links(site):
    assert build_book.check_links(site) == []


def test_link_checker_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text(
        '<h1 id="top">A</h1><a href="b.html#there">ok</a> <a href="#top">self</a>'
        '<a href="https://example.org/x">external</a> <img src="pic.png">'
        '<a href="gone.html">missing</a> <a href="b.html#nowhere">bad anchor</a>')
    (tmp_path / "b.html").write_text('<p id="there">B</p>')
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    broken = build_book.check_links(tmp_path)
    assert broken == ["a.html: gone.html (no such file)", "a.html: b.html#nowhere (no such anchor)"]


def test_landing_page_links_only_lessons_that_exist():
    readme = "# T\n\nintro\n\n## Lessons\n\n| # | nb |\n|---|---|\n| 00 | `00_a.ipynb` |\n| 01 | `01_b.ipynb` |\n\n## Next\n"
    md = build_book.landing_page(readme, {"00_a.ipynb"})
    assert "[00_a.ipynb](00_a.ipynb)" in md
    assert "`01_b.ipynb`" in md and "](01_b.ipynb)" not in md
    assert "## Next" not in md and md.startswith("# T")


def test_teaching_guide_has_every_lesson_with_its_stated_time(site):
    guide = (ROOT / "TEACHING.md").read_text(encoding="utf-8")
    assert (site / "teaching.html").exists(), "TEACHING.md is not in the book"
    for src in sorted((ROOT / "src" / "lessons").glob("[0-9][0-9]_*.py")):
        nn = src.name[:2]
        heading = re.search(rf"^### {nn} · .*$", guide, re.M)
        assert heading, f"TEACHING.md has no section for lesson {nn}"
        stated = re.search(r"about (\d+) minutes", src.read_text(encoding="utf-8"))
        if stated:
            assert f"{stated.group(1)} minutes" in heading.group(0), (
                f"lesson {nn} says about {stated.group(1)} minutes; TEACHING.md says: {heading.group(0)}")


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(not AXE.exists() or CHROMIUM is None,
                    reason="axe-core (npm ci) and chromium (apt-test.txt) are needed")
def test_pages_pass_axe_core(site):
    """axe-core, the accessibility checker browsers' own tools use, finds nothing critical or
    serious on the lesson pages with widgets and pictures (their controls named, their pictures
    described, scrolled boxes reachable by keyboard, text readable on its background)."""
    import functools
    import http.server
    import threading
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            pages = {}
            for nb in LESSONS:       # loaded one by one; axe then runs on all at once (a renderer each)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/{nb.stem}.html")
                page.wait_for_load_state("networkidle", timeout=120_000)
                page.wait_for_timeout(1500)                 # html-manager draws the saved widgets
                page.add_script_tag(content=AXE.read_text())
                page.evaluate("() => { window.__axe = axe.run(document, {resultTypes: ['violations']}); }")
                pages[nb.stem] = page
            for stem, page in pages.items():
                bad = page.evaluate("""async () => (await window.__axe).violations
                    .filter(v => v.impact === 'critical' || v.impact === 'serious')
                    .map(v => `${v.impact} ${v.id} (${v.nodes.length}): ${v.nodes[0].html.slice(0, 120)}`)""")
                if bad:
                    found[stem] = bad
                page.close()
            browser.close()
    finally:
        server.shutdown()
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())
