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


# --------------------------------------------------------------------------- allocator pictures (lesson 09)
def _comparison():
    from labsupport.allocbench import Comparison
    res = Comparison(["churn", "large"], ["glibc", "mimalloc", "talloc"])
    for w in res.workloads:
        for k, a in enumerate(res.allocators):
            res.samples[w, a] = [{"wall": 0.1 * (k + 1) + 0.01 * r, "cpu": 0.1, "maxrss_kb": 2048 * (k + 1),
                                  "minflt": 10} for r in range(3)]
    return res


def test_plot_comparison_gives_each_allocator_one_colour_in_both_panels():
    from matplotlib.colors import to_hex
    from matplotlib.container import BarContainer

    from labsupport.widgets.allocplot import plot_comparison
    fig = plot_comparison(_comparison())
    speed, rss = fig.axes
    assert "/proc/self/status" in rss.get_title()
    colours = lambda ax: {c.get_label(): to_hex(c.patches[0].get_facecolor())        # noqa: E731
                          for c in ax.containers if isinstance(c, BarContainer)}
    left, right = colours(speed), colours(rss)
    assert set(left) == {"mimalloc", "teaching (talloc)"} and set(right) == set(left) | {"glibc"}
    assert all(left[a] == right[a] for a in left)


def test_lab_plot_draws_the_lab_path_filled_and_the_reference_hollow():
    from labsupport.allocbench import Score
    from labsupport.widgets.allocplot import lab_plot
    scores = [Score("glibc", "t", True, "", 100, 4096, 0.01, 10, reference=True),
              Score("mine", "t", True, "", 100, 200, 0.02, 10)]
    ax = lab_plot(scores).axes[0]
    ref, mine = ax.collections
    assert len(ref.get_facecolors()) == 0 or ref.get_facecolors()[0][3] == 0      # hollow
    assert mine.get_facecolors()[0][3] == 1 and tuple(mine.get_offsets()[0]) == (0.5, 0.5)


def test_progress_goes_where_the_display_layer_says(capsys):
    from labsupport import allocbench as ab
    from labsupport.widgets.progress import ProgressLine
    lines = []
    try:
        ab.set_progress_display(lambda: lines.append)
        ab._reporter(True)("round 1")
        assert lines == ["round 1"] and ab._reporter(False) is None and ab._reporter(print) is print
    finally:
        ab.set_progress_display(ProgressLine)
    ProgressLine()("outside a kernel: stderr")      # no IPython kernel here
    assert capsys.readouterr().err == "outside a kernel: stderr\n"
