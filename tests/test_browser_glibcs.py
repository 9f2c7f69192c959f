"""Lesson 01's three glibc versions side by side, in a real browser.

JupyterLab in headless Chromium (``tests/test_browser.py``'s server and browser, imported)
opens lesson 01 (a copy with its outputs cleared), runs its import cell and the cell that
steps one trace under glibc 2.36, 2.41 and 2.43 (``widgets.sidebyside.glibcs_view``), then
moves the one slider: all three panels must change together, each must show its own
version's bins at step 34 (``free a8``: the unsorted bin, a small bin, the tcache), and the
browser console must stay free of errors. Skipped when the three C libraries cannot be
fetched here (``heap.glibcs``), as the lesson's own cell then switches the view off.
"""
from __future__ import annotations

import re
import time

import pytest

from test_browser import (CHROMIUM, _accept_dialogs, _open, _shot, browser,  # noqa: F401 (fixtures)
                                lab_server)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: sudo apt-get install -y chromium"),
]

LESSON = "01_heap_managers.ipynb"
IMPORTS = "from labsupport.widgets.text import format_table"     # lesson 01's import cell
THREE = "versions_view = glibcs_view(three)"                      # the three-glibc cell


@pytest.fixture(scope="module")
def three_glibcs():
    from labsupport.heap import glibcs
    from labsupport.toolchain import MissingTool
    try:
        roots = glibcs.fetch(say=lambda line: None)
    except (MissingTool, RuntimeError) as exc:
        pytest.skip(f"the three glibc versions cannot be fetched here: {exc}")
    if len(roots) < 3:
        pytest.skip(f"only {len(roots)} glibc versions in the course cache")
    return roots


def _cell(page, text: str):
    cell = page.locator(".jp-CodeCell", has_text=text)
    assert cell.count() == 1, f"lesson 01 has {cell.count()} code cells holding {text!r}"
    return cell.first


def _run_cell(page, cell, timeout_s: float = 240):
    """Select the cell (command mode), run it with Shift+Enter, wait for its prompt's number."""
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Escape")
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    _accept_dialogs(page)
    prompt = cell.locator(".jp-InputPrompt").first
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if re.search(r"\[\d+\]", prompt.inner_text()):
            return
        page.wait_for_timeout(500)
    raise TimeoutError(f"the cell did not finish in {timeout_s:.0f} s: {prompt.inner_text()!r}")


_PANELS = """out => [...out.querySelectorAll('h4')].filter(h => /^glibc \\d/.test(h.textContent)).map(h => {
    const box = h.closest('.widget-vbox') || h.parentElement.parentElement;
    return {title: h.textContent, html: box.innerHTML, text: box.innerText,
            svgs: box.querySelectorAll('svg').length}; })"""


def test_three_glibc_versions_on_one_slider(lab_server, browser, three_glibcs):  # noqa: F811 (fixtures)
    url, token, _ = lab_server
    errors: list[str] = []
    page = _open(browser, url, token, LESSON, errors)
    try:
        _run_cell(page, _cell(page, IMPORTS))
        cell = _cell(page, THREE)
        _run_cell(page, cell)
        out = cell.locator(".jp-OutputArea").first
        page.wait_for_timeout(1500)
        assert "Error displaying widget" not in out.inner_text()
        assert "is off" not in out.inner_text(), out.inner_text()[:300]
        before = out.evaluate(_PANELS)
        titles = [p["title"] for p in before]
        assert titles == ["glibc 2.36 (bookworm)", "glibc 2.41 (trixie)", "glibc 2.43 (sid)"], titles
        assert all(p["svgs"] >= 1 for p in before), "a panel without its heap picture"
        assert all("step 0 of 52" in p["text"] for p in before), [p["text"][:80] for p in before]

        slider = out.locator(".noUi-handle, input[type=range]").first
        slider.focus()
        for _ in range(3):                       # step 3: alloc a3, a new chunk in every heap
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1500)
        after = out.evaluate(_PANELS)
        changed = [a["title"] for a, b in zip(after, before) if a["html"] != b["html"]]
        assert changed == titles, f"moving the slider changed only {changed}"
        assert all("step 3 of 52" in p["text"] for p in after), [p["text"][:80] for p in after]

        for _ in range(31):                      # step 34: free a8, where the three versions differ
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(2000)
        at34 = {p["title"]: p for p in out.evaluate(_PANELS)}
        assert all("step 34 of 52" in p["text"] for p in at34.values())
        assert "unsorted" in at34["glibc 2.36 (bookworm)"]["text"]
        assert "smallbin 0xd0" in at34["glibc 2.41 (trixie)"]["text"]
        assert "unsorted" not in at34["glibc 2.41 (trixie)"]["text"]
        sid = at34["glibc 2.43 (sid)"]["text"]
        assert "tcache 0xd0" in sid and "smallbin 0xd0" not in sid and "unsorted" not in sid
        assert len({p["html"] for p in at34.values()}) == 3, "two versions drew the same picture at step 34"
        assert not errors, f"browser console: {errors[:3]}"
        shown = {t: ", ".join(line.split(":")[0].split("(")[0].strip() for line in p["text"].splitlines()
                              if "head →" in line) for t, p in at34.items()}
        print(f"{LESSON}: panels {titles}; the slider moved all three to step 3, then 34, where their bins are: "
              + "; ".join(f"{t}: {text}" for t, text in shown.items()))
    except Exception:
        print(f"screenshot: {_shot(page, 'browser_glibcs')}")
        raise
    finally:
        page.close()
