"""The heap map drawn in the browser (labsupport/widgets/heapfront.py + heapfront.js), in a
real browser: JupyterLab in headless Chromium (Debian's), lesson 01's stepper over the
recorded real program's heap (10,000 operations; the heap grows to some 1,700 blocks).

The slider is moved in the browser (keys on its handle) and from the kernel; after each move
the SVG the front end drew must be the SVG ``stepviews.heap_svg`` gives for the same step
(today's picture, inserted into the same page by a cell: both serialised by the browser), and
their screenshots must be the same pixels (up to a one-pixel shift of the clip). Nothing may go to the browser's console.

Needs Debian's ``chromium`` and the ``playwright`` package (driver only), like test_browser.py,
whose JupyterLab and browser fixtures this reuses.
"""
from __future__ import annotations

import io
import time

import pytest

from test_browser import CHROMIUM, _open, _run_all, _shot, browser, lab_server  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: sudo apt-get install -y chromium"),
]

SETUP = """\
import sys
from labsupport.heap import recorder
from labsupport.widgets.stepper import Stepper
rec = recorder.record([sys.executable, "-I", "-c",
                       "import json, email.parser, argparse, decimal, http.client, xml.dom.minidom"],
                       "python imports", env={"LC_ALL": "C.UTF-8"})
win = recorder.window(rec, 0, 10000)
st = Stepper(win, arena_size=recorder.replay_window(rec, 0, 10000, lazy=True).arena_size, editable=False)
st"""

REFERENCE = """\
from IPython.display import HTML
HTML(f'<div class="heapfront-reference" data-step="{st.slider.value}">{st.map.value}</div>')"""


def _wait_idle(page, timeout_s: float = 120):
    """Until no cell is running (test_browser's _run_all runs every cell first: not wanted here)."""
    deadline = time.time() + timeout_s
    page.wait_for_timeout(500)
    while time.time() < deadline:
        if (page.locator(".jp-InputPrompt", has_text="[*]").count() == 0
                and page.evaluate("""() => !document.querySelector('[data-status="busy"]')""")):
            return
        page.wait_for_timeout(300)
    raise TimeoutError(f"a cell still runs after {timeout_s:.0f} s")


def _pixels(png: bytes):
    from matplotlib.image import imread
    return imread(io.BytesIO(png), format="png")


def _same_pixels(a, b) -> bool:
    """The same pixels, up to where the screenshot's clip fell: an element at a fractional
    position is clipped one pixel up or down (measured: the two pictures then match exactly
    one row apart), so the inside (a 2-pixel frame cut) must match at one of the nine shifts."""
    import numpy as np
    if a.shape != b.shape:
        return False
    inner = (slice(2, -2), slice(2, -2))
    return any(np.array_equal(np.roll(np.roll(a, dx, 1), dy, 0)[inner], b[inner])
               for dx in (0, -1, 1) for dy in (0, -1, 1))


def _compare(page, problems: list[str], what: str):
    """The front end's SVG vs the reference cell's: markup (as the browser serialises both) and pixels."""
    ref = page.locator(".heapfront-reference").first
    step = ref.get_attribute("data-step")
    front = page.locator(".lab-heapfront").first
    deadline = time.time() + 20
    while front.get_attribute("data-step") != step and time.time() < deadline:
        page.wait_for_timeout(200)
    if front.get_attribute("data-step") != step:
        problems.append(f"{what}: the front end shows step {front.get_attribute('data-step')}, the kernel {step}")
        return None
    a = front.locator("svg").evaluate("e => e.outerHTML")
    b = ref.locator("svg").evaluate("e => e.outerHTML")
    if a != b:
        cut = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        problems.append(f"{what}: the SVG differs from heap_svg's at character {cut}: "
                        f"{a[max(0, cut - 80):cut + 80]!r} vs {b[max(0, cut - 80):cut + 80]!r}")
    import numpy as np
    sa, sb = front.locator("svg").screenshot(), ref.locator("svg").screenshot()
    pa, pb = _pixels(sa), _pixels(sb)
    if not _same_pixels(pa, pb):
        from test_browser import ARTIFACTS
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "heapfront-front.png").write_bytes(sa)
        (ARTIFACTS / "heapfront-reference.png").write_bytes(sb)
        differ = (np.abs(pa - pb).max(axis=-1) > 0).mean() if pa.shape == pb.shape else 1.0
        problems.append(f"{what}: the screenshots differ ({pa.shape} vs {pb.shape}, {differ:.2%} of the pixels; "
                        f"saved as heapfront-front.png and heapfront-reference.png in {ARTIFACTS})")
    return int(step), a.count("<rect")


def test_front_end_draws_todays_picture_after_slider_moves(lab_server, browser):  # noqa: F811
    import nbformat
    url, token, root = lab_server
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(REFERENCE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "zz_heapfront.ipynb")
    errors: list[str] = []
    page = _open(browser, url, token, "zz_heapfront.ipynb", errors)
    problems: list[str] = []
    seen = []
    try:
        _run_all(page, timeout_s=300)
        page.add_style_tag(content=".Toastify { display: none !important; }")   # JupyterLab's news toast
        page.wait_for_selector(".lab-heapfront svg", timeout=60_000)
        seen.append(_compare(page, problems, "step 0"))

        def rerun_reference():
            page.locator(".jp-Cell").nth(1).click()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
            _wait_idle(page)

        handle = page.locator(".jupyter-widgets .noUi-handle").first
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()                          # moved in the browser: the handle dragged
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        for dx in range(10, 130, 10):
            page.mouse.move(x + dx, y)
            page.wait_for_timeout(100)
        page.mouse.up()
        page.wait_for_timeout(2000)
        _wait_idle(page)
        rerun_reference()
        seen.append(_compare(page, problems, f"after a drag (slider at {handle.get_attribute('aria-valuenow')})"))
        handle.focus()
        for _ in range(3):                                   # and three key presses
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1500)
        rerun_reference()
        seen.append(_compare(page, problems, f"after three keys (slider at {handle.get_attribute('aria-valuenow')})"))
        for target in (6000, 5990, 9999, 0, 7000):          # moved from the kernel: far jumps, back, forth
            page.locator(".jp-Cell").nth(1).click()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:enter-edit-mode')")
            page.keyboard.press("Control+a")
            page.keyboard.type(f"st.slider.value = {target}\n" + REFERENCE)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
            _wait_idle(page)
            seen.append(_compare(page, problems, f"after the kernel moved it to {target}"))
        problems += [f"browser console: {e[:200]}" for e in errors]
        print("steps compared (step, rectangles):", seen)
        assert any(s and s[1] > 1000 for s in seen), f"no step with a big heap was compared: {seen}"
        if problems:
            pytest.fail("; ".join(problems) + f" (screenshot: {_shot(page, 'zz_heapfront.ipynb')})")
    finally:
        page.close()


HEAPMAP = """\
import random, time
import labsupport as lab
from labsupport.widgets.heapmap import HeapMap
rng, blocks, off = random.Random(0), [], 0
while len(blocks) < 10_000:                     # benchmarks/bench_heapmap.py's heap
    size = rng.choice([16, 32, 48, 64, 96, 128, 256])
    blocks.append(lab.Block(off, size, rng.choice(["used", "used", "free", "meta"])))
    off += size
t = time.perf_counter()
hm = HeapMap(blocks)
print(f"kernel: {1e3 * (time.perf_counter() - t):.0f} ms")
hm"""


def test_heap_map_of_10000_blocks_is_drawn_by_the_browser(lab_server, browser):  # noqa: F811
    """HeapMap sends the blocks as data: the browser draws every state in its colour and
    pattern, the legend, and outlines the block picked in the number box."""
    import nbformat

    from labsupport.widgets import style
    url, token, root = lab_server
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(HEAPMAP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "zz_heapmap.ipynb")
    errors: list[str] = []
    page = _open(browser, url, token, "zz_heapmap.ipynb", errors)
    try:
        _run_all(page, timeout_s=300)
        svg = page.locator(".lab-heapmap svg").first
        svg.wait_for(timeout=60_000)
        fills = set(svg.evaluate("s => [...s.querySelectorAll('rect')].map(r => r.getAttribute('fill'))"))
        problems = [f"no block drawn in {c} ({s})" for s, c in style.COLORS.items() if c not in fills]
        problems += [f"no {s} pattern" for s, h in style.HATCHES.items() if h and "url(#" not in " ".join(fills)]
        label = svg.get_attribute("aria-label") or ""
        if "10000 blocks" not in label:
            problems.append(f"the picture is not named: {label!r}")
        box = page.locator(".jupyter-widgets input[type=number]").first
        box.fill("4321")
        box.press("Enter")
        page.wait_for_timeout(1500)
        outlined = svg.evaluate(f"s => s.querySelectorAll('rect[stroke=\"{style.FAILED_COLOR}\"]').length")
        if not outlined:
            problems.append("the picked block is not outlined")
        problems += [f"browser console: {e[:200]}" for e in errors]
        print(page.locator(".jp-OutputArea-output").first.inner_text()[:40], "rectangles drawn:",
              svg.evaluate("s => s.querySelectorAll('rect').length"))
        if problems:
            pytest.fail("; ".join(problems) + f" (screenshot: {_shot(page, 'zz_heapmap.ipynb')})")
    finally:
        page.close()
