"""The widgets and pictures in a real browser: JupyterLab in headless Chromium, every cell run.

For each lesson that shows a widget or a picture (its stored outputs hold a widget view, a
PNG or an SVG), the test opens the book notebook (a copy with its outputs cleared, so
JupyterLab's autosave can never touch the committed one and everything on the page comes
from this run) in JupyterLab, runs all cells, and checks what a learner would see: every
widget rendered (no "Error displaying widget", no text fallback such as
``VBox(children=...)``), every picture the book stores drawn again and none blank, a slider
or dropdown that changes the picture when moved, no error in the browser console, and
axe-core (npm, the checker browsers' own tools use) on the outputs that hold the widgets
and pictures: nothing critical or serious (controls named, pictures described, scrolled
boxes reachable by keyboard, text readable on its background). On failure it saves a
screenshot and names it.

Needs Debian's ``chromium`` (``./lab test`` installs apt-test.txt) and the
``playwright`` Python package (its driver only: it never downloads a browser).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

import labsupport as lab
from conftest import selected_params

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = lab.ROOT
ARTIFACTS = Path(os.environ.get("LABSUPPORT_ARTIFACTS", ROOT / "tests" / "artifacts"))
WIDGET_CLASSES = re.compile(r"\b(HeapMap|Stepper|stepper|struct_layout|StructLayout|AddressSpace|"
                            r"address_space|ipywidgets|widgets\.)\b")
TEXT_FALLBACK = re.compile(r"^(VBox|HBox|Box|Tab|Output|IntSlider|Dropdown|HTML|Image|Button|Play)\(",
                           re.M)
BENIGN_CONSOLE = ("favicon", "[Violation]", "DevTools", "Failed to load resource: the server responded "
                  "with a status of 404")


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _stored(name: str) -> dict:
    """What the book stores for a lesson: widget views, PNG pictures, SVG pictures."""
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    count = {"widgets": 0, "png": 0, "svg": 0}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            count["widgets"] += "application/vnd.jupyter.widget-view+json" in data
            count["png"] += "image/png" in data
            count["svg"] += "image/svg+xml" in data or "<svg" in "".join(data.get("text/html", ""))
    return count


def _lessons_drawing() -> list[str]:
    """Every lesson whose stored outputs hold a widget or a picture."""
    return [src.name for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            if any(_stored(src.name).values())]


def _lessons_with_widgets() -> list[str]:
    out = []
    for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = src.read_text()
        if WIDGET_CLASSES.search(text) and "application/vnd.jupyter.widget-view+json" in text:
            out.append(src.name)
    return out


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: sudo apt-get install -y chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    pytest.importorskip("playwright", reason="pip install playwright (the driver only)")
    root = tmp_path_factory.mktemp("course")
    (root / "notebooks").mkdir()
    import nbformat
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):   # outputs cleared: all must come from this run
        book = nbformat.read(nb, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        book.metadata.pop("widgets", None)
        nbformat.write(book, root / "notebooks" / nb.name)
    (root / "native_examples").symlink_to(ROOT / "native_examples")
    (root / "node_modules").symlink_to(ROOT / "node_modules") if (ROOT / "node_modules").exists() else None
    (root / "package.json").symlink_to(ROOT / "package.json")
    port, token = _free_port(), "browser-test"
    settings = root / "settings"        # every cell in the page (no windowing), no autosave
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                           "docmanager-extension/plugin": {"autosave": False}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["PYTHONFAULTHANDLER"] = "1"     # a kernel that crashes leaves its Python stack in server.log
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(root / "workspaces")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.open_browser=False", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.expose_app_in_browser=True"]           # window.jupyterapp: run commands by name
    if os.getuid() == 0:
        cmd.append("--allow-root")
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start:\n" + (root / "server.log").read_text()[-2000:])
    yield url, token, root
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        yield b
        b.close()


_RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
_STARTED = """() => [...document.querySelectorAll('.jp-InputPrompt')]
    .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"""


def _start_all(page):
    _accept_dialogs(page)
    # by the command's name (the palette, typed into, once left a cell in edit mode and ran
    # nothing); its promise is not awaited: it settles only when every cell has run, and a
    # kernel dialog meanwhile would hold it for ever
    page.evaluate(_RUN_ALL)


_NOT_RUN = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .filter(e => /\\[\\s*\\]/.test(e.textContent)).length"""
_CODE_CELLS = "() => document.querySelectorAll('.jp-CodeCell').length"


def _wait_all(page, timeout_s: float, log: Path | None = None, notes: list | None = None):
    """Until every cell has run. A run that stops short with nothing busy (the page lost its
    kernel's replies: a kernel that died, or a connection dropped on a loaded machine) is
    noted in ``notes``, with what the server logged, and the kernel restarted and every
    cell run again, once."""
    page.wait_for_timeout(1000)
    deadline = time.time() + timeout_s
    asked_again = 0.0                  # when the run was asked for again (0: not yet)
    restarted = False
    while time.time() < deadline:
        _accept_dialogs(page)            # a kernel dialog that came late (a busy machine) holds the run
        if not asked_again and time.time() > deadline - timeout_s + 60 and not page.evaluate(_STARTED):
            page.evaluate(_RUN_ALL)      # a minute and no cell queued: the kernel was not ready; once more
            asked_again = time.time()
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        if busy == 0:
            idle = page.evaluate("""() => !document.querySelector('[data-status="busy"]')""")
            # idle with nothing run: the kernel was not there yet (a "Select Kernel" dialog
            # came after the run was asked for); wait, accept it and ask again (above)
            if idle and (page.evaluate(_STARTED) or (asked_again and time.time() > asked_again + 120)):
                short = page.evaluate(_NOT_RUN)
                if not short or not page.evaluate(_STARTED):
                    return
                if restarted:
                    raise AssertionError(f"the run stopped short twice: {short} of "
                                         f"{page.evaluate(_CODE_CELLS)} cells not run; " + "; ".join(notes or []))
                said = _server_said(log, page.evaluate(_KERNEL_ID))
                stem = Path(page.url.split("?")[0]).stem
                shot = _shot(page, f"{stem}-stopped")
                if notes is not None:
                    notes.append(f"the run stopped with {short} of {page.evaluate(_CODE_CELLS)} cells "
                                 f"not run; dialogs seen: {_DIALOGS.get(id(page)) or 'none'}; the server "
                                 f"logged: {said or 'nothing'}; screenshot {shot}; restarted and ran again")
                restarted = True
                page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-run-all'); }")
                page.wait_for_timeout(3000)
                _accept_dialogs(page)    # "Restart Kernel?"
                page.wait_for_timeout(3000)
        page.wait_for_timeout(1000)
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s")


_KERNEL_ID = """() => { const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return k ? k.id : ''; }"""


def _server_said(log: Path | None, kernel: str) -> str:
    """What the server logged about this page's kernel (restarts, deaths), in short, and the
    lines before its first restart (a crashed kernel's own last words: PYTHONFAULTHANDLER)."""
    if not log or not log.exists() or not kernel:
        return ""
    lines = log.read_text(errors="replace").splitlines()
    said = [ln.strip()[:160] for ln in lines if kernel in ln and re.search(r"restart|died|dead", ln, re.I)]
    first = next((i for i, ln in enumerate(lines) if f"{kernel} restarted" in ln), None)
    before = [] if first is None else [ln.rstrip()[:160] for ln in lines[max(0, first - 15):first]]
    return " | ".join(said[-6:]) + ("\n    before the restart:\n    " + "\n    ".join(before) if before else "")


def _run_all(page, timeout_s: float):
    _start_all(page)
    _wait_all(page, timeout_s)


def _until_changed(read, before, timeout_s: float = 20.0):
    """What ``read()`` returns once it differs from ``before``, or the last value after
    ``timeout_s`` (a kernel busy with another lesson answers a slider later than an idle one)."""
    deadline = time.time() + timeout_s
    while True:
        now = read()
        if now != before or time.time() > deadline:
            return now
        time.sleep(0.3)


def _check_page(page, stored: dict | None = None) -> list[str]:
    stored = stored or {"widgets": 1, "png": 0, "svg": 0}
    problems = []
    text = page.locator(".jp-Notebook").first.inner_text()
    ran = len(re.findall(r"\[\d+\]:", page.locator(".jp-Notebook").first.inner_text()))
    if ran == 0:
        problems.append("no cell ran")
    if "Error displaying widget" in text:
        problems.append("a widget failed to display (Error displaying widget)")
    for m in TEXT_FALLBACK.finditer(text):
        problems.append(f"a widget shown as text: {text[m.start():m.start() + 60]!r}")
    blank = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea img')]
        .filter(i => !i.complete || i.naturalWidth === 0).length""")
    if blank:
        problems.append(f"{blank} image(s) did not load")
    views = page.locator(".jupyter-widgets").count()
    if stored["widgets"] and views == 0:
        problems.append("no widget view rendered at all")
    pictures = page.locator(".jp-RenderedImage img").count()
    if pictures < stored["png"]:
        problems.append(f"{pictures} picture(s) drawn, the book stores {stored['png']}")
    svgs = page.locator(".jp-OutputArea-output svg").count()
    if stored["svg"] and not svgs:
        problems.append("no SVG picture drawn, the book stores one")
    return problems


# What axe-core finds that no notebook or widget of the course can change, by rule and element:
# - JupyterLab (4.6.6) draws a PNG output as an <img> with no alt (@jupyterlab/rendermime,
#   renderers.ts renderImage: only src, width, height and two classes; no alt is read from the
#   output's metadata either: jupyter/enhancement-proposals#120 proposes it);
# - ipywidgets (8.1.9) gives a slider's handle (noUiSlider, role=slider) no name: the
#   description's <label> is not tied to it and noUiSlider's handleAttributes are not passed.
# Counted and printed, not failed on; everything else must be nothing critical or serious.
UPSTREAM = {("image-alt", ".jp-RenderedImage img"): "JupyterLab's PNG output",
            ("aria-input-field-name", ".noUi-handle"): "ipywidgets slider handle"}


def _axe(page) -> tuple[list[str], list[str]]:
    """axe-core on the outputs that hold a widget or a picture: its critical and serious
    findings, as (the course's, upstream's)."""
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate("""async (upstream) => {
        const areas = [...document.querySelectorAll('.jp-OutputArea-output')]
            .filter(o => o.querySelector('.jupyter-widgets, img, svg, canvas'));
        areas.forEach(o => o.setAttribute('data-axe-target', ''));
        if (!areas.length) return [];
        const result = await axe.run({include: [['[data-axe-target]']]}, {resultTypes: ['violations']});
        return result.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
            .flatMap(v => v.nodes.map(n => {
                const el = document.querySelector(n.target[0]);
                const known = upstream.find(([rule, sel]) => rule === v.id && el && el.matches(sel));
                return [known ? known[1] : null, `${v.impact} ${v.id}: ${n.html.slice(0, 160)}`];
            }));
    }""", [[rule, sel] for rule, sel in UPSTREAM])
    ours = [text for known, text in found if known is None]
    upstream = [f"{UPSTREAM[next(k for k in UPSTREAM if k[1] == known)]}: {text}" for known, text in found
                if known is not None]
    return ours, upstream


def _picture_of(widget):
    return widget.evaluate("""w => { const p = w.closest('.jp-OutputArea-output') || w.parentElement;
        const pics = p.querySelectorAll('svg, img, canvas, pre, .widget-html-content');
        return [...pics].map(e => e.outerHTML.length + ':' + (e.src || e.innerHTML || '').slice(-400)).join('|'); }""")


def _interact(page) -> str | None:
    """Move the first slider (or choose another dropdown option, or type another number into
    a number box); the picture must change."""
    slider = page.locator(".jupyter-widgets .noUi-handle, .jupyter-widgets input[type=range]").first
    if slider.count():
        box = slider.locator("xpath=ancestor::div[contains(@class,'jupyter-widgets')][1]")
        before = _picture_of(box.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]"))
        slider.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        after = _until_changed(lambda: _picture_of(
            box.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]")), before)
        return None if before != after else "moving the slider did not change the picture"
    select = page.locator(".jupyter-widgets select").first
    if select.count():
        area = select.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]")
        before = _picture_of(area)
        count = select.locator("option").count()
        if count < 2:
            return None
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(current + 1) % count)
        after = _until_changed(lambda: _picture_of(area), before)
        return None if after != before else "choosing another option did not change the picture"
    number = page.locator(".jupyter-widgets input[type=number]").first
    if number.count():
        area = number.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]")
        before = _picture_of(area)
        number.fill(str(int(number.input_value() or 0) + 1))
        number.press("Enter")
        after = _until_changed(lambda: _picture_of(area), before)
        return None if after != before else "typing another number did not change the picture"
    return "no slider, dropdown or number box to move"


def _play(page) -> str | None:
    """The named play button (widgets.stepper.play_toggle), where there is one: pressing it
    must move the slider it drives. None: it did; "": no play button; else what went wrong."""
    button = page.locator(".jupyter-widgets button.widget-toggle-button", has_text="play").first
    if not button.count():
        return ""
    row = button.locator("xpath=ancestor::div[contains(@class,'widget-hbox')][1]")
    handle = row.locator(".noUi-handle").first
    before = handle.get_attribute("aria-valuenow")
    button.click()
    page.wait_for_timeout(1000)
    after = _until_changed(lambda: handle.get_attribute("aria-valuenow"), before)
    if button.get_attribute("aria-pressed") == "true" or "mod-active" in (button.get_attribute("class") or ""):
        button.click()                                   # pause
    return None if after != before else "pressing play did not move the slider"


def _open(browser, url, token, name, errors):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not any(b in m.text for b in BENIGN_CONSOLE) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    workspace = re.sub(r"\W", "-", Path(name).stem)            # a fresh workspace per notebook
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/notebooks/{name}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-Toolbar", timeout=60_000)
    page.wait_for_timeout(3000)                              # kernel start
    _accept_dialogs(page)
    return page


_DIALOGS: dict = {}     # id(page) -> the dialogs it showed (title and body), for the notes


def _accept_dialogs(page):
    """A "Select Kernel" dialog (or any other) takes its default answer."""
    for _ in range(3):
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if not dialog.count():
            return
        try:
            said = " ".join(page.locator(".jp-Dialog-content").first.inner_text(timeout=2000).split())
        except Exception as e:          # gone meanwhile: what it said is not essential
            said = f"(unread: {type(e).__name__})"
        _DIALOGS.setdefault(id(page), []).append(said[:200])
        dialog.first.click()
        page.wait_for_timeout(1500)


def _shot(page, name) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{Path(name).stem}.png"
    page.screenshot(path=str(path), full_page=False)
    return str(path)


# Lessons run ahead: while one lesson's page is checked, the next one's cells already run in
# their own kernel (the machine has 2 cores; the checks themselves mostly wait on the browser).
AHEAD = int(os.environ.get("LABSUPPORT_BROWSER_AHEAD", "1"))


class _Runs:
    """Each lesson's page opened and its cells started, up to AHEAD lessons before the test
    that checks them asks for it."""

    def __init__(self, browser, url, token, order, log=None):
        self.browser, self.url, self.token, self.order, self.log = browser, url, token, order, log
        self.started: dict = {}

    def take(self, name):
        i = self.order.index(name)
        for n in self.order[i:i + 1 + AHEAD]:
            if n not in self.started:
                errors: list[str] = []
                start = time.monotonic()
                page = _open(self.browser, self.url, self.token, n, errors)
                _start_all(page)
                self.started[n] = (page, errors, start)
        return self.started.pop(name)

    def close(self):
        for page, _, _ in self.started.values():
            page.close()


@pytest.fixture(scope="module")
def runs(request, lab_server, browser):
    url, token, root = lab_server
    order = selected_params(request, "test_lesson_widgets_render_and_respond")
    r = _Runs(browser, url, token, order, root / "server.log")
    yield r
    r.close()


@pytest.mark.parametrize("name", _lessons_drawing())
def test_lesson_widgets_render_and_respond(runs, name):
    stored = _stored(name)
    page, errors, start = runs.take(name)
    try:
        notes: list[str] = []
        _wait_all(page, timeout_s=900, log=runs.log, notes=notes)
        ran_s = time.monotonic() - start
        problems = _check_page(page, stored)
        # a run that stopped short (the kernel restarted, or the page lost its replies) is run
        # again once and said in the warnings summary; stopping short twice fails (_wait_all)
        if notes:                    # in the warnings summary: the run that passed on a second try
            warnings.warn(f"{name}: " + "; ".join(notes), stacklevel=1)
        moved = _interact(page) if stored["widgets"] else None
        if moved:
            problems.append(moved)
        played = _play(page) if stored["widgets"] else ""
        if played:
            problems.append(played)
        lost = ("Canceled future", "Could not restore the debugger state")   # the replies the page lost
        problems += [f"browser console: {e[:200]}" for e in errors
                     if not (notes and any(x in e for x in lost))]
        if AXE.exists():
            found, upstream = _axe(page)
            problems += [f"axe-core: {f}" for f in found]
        else:
            found, upstream = ["axe-core not installed (npm ci)"], []
        views = page.locator(".jupyter-widgets").count()
        ran = len(re.findall(r"\[\d+\]:", page.locator(".jp-Notebook").first.inner_text()))
        print(f"{name}: {ran} cells ran in {ran_s:.0f} s, {views} widget views, "
              f"{page.locator('.jp-RenderedImage img').count()} pictures, "
              f"interaction: {moved or ('picture changed' if stored['widgets'] else 'none (no control)')}"
              f"{'' if played == '' else ', play button moved the slider' if played is None else ''}, "
              f"axe-core critical+serious: {len(found)} (upstream's, not counted: {len(upstream)}), "
              f"{time.monotonic() - start:.0f} s in all")
        for f in found + upstream:
            print("   ", f[:200])
        for n in notes:
            print("    note:", n)
        if problems:
            pytest.fail(f"{name}: " + "; ".join(problems) + f" (screenshot: {_shot(page, name)})")
    finally:
        page.close()


def test_a_broken_widget_is_caught(lab_server, browser):
    """The check itself: a widget whose front-end model does not exist must fail it."""
    import nbformat
    url, token, root = lab_server
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets, traitlets\n"
        "class Broken(ipywidgets.DOMWidget):\n"
        "    _model_name = traitlets.Unicode('NoSuchModel').tag(sync=True)\n"
        "    _model_module = traitlets.Unicode('no-such-module').tag(sync=True)\n"
        "    _view_name = traitlets.Unicode('NoSuchView').tag(sync=True)\n"
        "    _view_module = traitlets.Unicode('no-such-module').tag(sync=True)\n"
        "Broken()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "zz_broken.ipynb")
    errors: list[str] = []
    page = _open(browser, url, token, "zz_broken.ipynb", errors)
    try:
        _run_all(page, timeout_s=120)
        page.wait_for_timeout(2000)
        problems = _check_page(page) + errors
        assert problems, "a broken widget went unnoticed"
    finally:
        page.close()
