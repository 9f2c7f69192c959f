"""Tests of labsupport.widgets: the shared style, the step views and renderers, the generic StepView."""
from __future__ import annotations

from labsupport.heap.model import Bin, Bins, BinType, Figures, Step
from labsupport.heap.traces import Op
from labsupport.widgets import heapdraw, stepviews, style
from labsupport.widgets.stepper import Stepper, StepView, talloc_renderer


def _glibc_like_steps():
    """Three steps of a glibc-bins stepper to come: named lists, not one free list."""
    figs = Figures(24, 96, 32, 32, 0.25, 0.0)
    blocks = ((0, 32, 1, "a"), (32, 32, 0, ""), (64, 32, 1, "c"), (96, 400, 0, ""))
    return [
        Step(0, None, blocks, Bins(), figs),
        Step(1, Op("free", "b"), blocks, Bins([Bin("tcache 0x20", BinType.TCACHE, (32,), size=32)]), figs, changed=32),
        Step(2, Op("free", "d"), blocks, Bins([Bin("tcache 0x20", BinType.TCACHE, (32,), size=32),
                                    Bin("unsorted", BinType.UNSORTED, (96,))]), figs),
    ]


def test_pictures_share_one_palette():
    assert heapdraw.COLORS is style.COLORS is stepviews.COLORS
    assert set(style.COLORS) == {"used", "free", "meta"} and style.offset_label(656) == "+656"


def test_lists_render_one_line_per_named_list():
    s = _glibc_like_steps()[2]
    text = stepviews.lists_text(s)
    assert text.splitlines() == ["tcache 0x20: head → +32 (32 B) → NULL", "unsorted: head → +96 (400 B) → NULL"]
    html = stepviews.lists_html(s)
    assert html.count("<br>") == 1 and "<b>unsorted</b>: head → +96 (400 B) → NULL" in html
    svg = stepviews.heap_svg(s, 512)
    assert "#1" in svg and "(tcache 0x20 #1)" in svg    # numbered by the first list
    assert stepviews.heap_svg(s, 512, numbered="unsorted").count("#1<") == 1


def test_text_renderer_says_what_the_html_shows():
    r = stepviews.TextRenderer(512, heap_start=0, heap_end=496)
    out = r.render(_glibc_like_steps()[1], 2)
    assert out.splitlines()[0] == "step 1 of 2: free b → block at +32"
    assert "tcache 0x20: head → +32 (32 B) → NULL" in out and "untouched tail 400 B" in out
    assert "<" not in out.replace("<=", "")


def test_stepview_steps_any_list_of_steps():
    steps = _glibc_like_steps()
    v = StepView(steps, stepviews.HtmlRenderer(512))
    assert v.slider.max == v.play.max == 2 and "step 0 of 2" in v.label.value
    v.slider.value = 2
    assert "unsorted" in v.lists.value and "<svg" in v.map.value
    v.set_steps(steps[:2])
    assert v.slider.max == 1 and v.slider.value == 1 and "unsorted" not in v.lists.value


def test_stepper_is_a_stepview_over_the_teaching_allocator():
    st = Stepper("intro")
    assert isinstance(st.view, StepView) and st.widget is st.view.widget
    r = st.replay
    assert talloc_renderer(r).heap(r.final) == stepviews.heap_svg(r.final, r.arena_size, r.frame)
    assert st.freelist.value == stepviews.list_html(r.states[0], "free list", 12)
    # the widget tree the lesson's committed output shows
    assert repr(st.widget).startswith("VBox(children=(HBox(children=(Play(value=0, interval=300, max=7), "
                                      "IntSlider(value=0, description='step'")
