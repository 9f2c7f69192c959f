"""labsupport.widgets.heapfront: the heap map drawn in the browser from each step's changes.

The diff protocol: applying every message the kernel sends to the first state gives each
step's full state, whichever way the slider goes (forwards, back, jumps, a new replay); the
picture drawn from a state is ``stepviews.heap_svg``'s, in Python (``svg_of``) and in the
front end's own JavaScript (``heapfront.js`` run by node, when node is installed)."""
from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from labsupport.heap import talloc
from labsupport.heap.model import Bin, Bins, BinType, Figures, Step
from labsupport.heap.traces import Op, random_trace
from labsupport.widgets import heapfront as hf
from labsupport.widgets import stepviews
from labsupport.widgets.stepper import Stepper, StepView, talloc_renderer

NODE = shutil.which("node")


def _moves(n, seed=1):
    """Forwards, back by 7, random jumps, forwards again from the middle."""
    rng = random.Random(seed)
    return (list(range(1, n)) + list(range(n - 2, -1, -7)) + [rng.randrange(n) for _ in range(40)]
            + list(range(n // 2, n)) + [0, n - 1, 1, n - 2])


def _listen(front):
    sent = []
    front.send = lambda msg, buffers=None: sent.append(msg)
    return sent


def _as_state(wire):
    return {"blocks": {b[0]: tuple(b) for b in wire["blocks"]}, "list": wire["list"], "fl": tuple(wire["fl"]),
            "changed": wire["changed"]}


def _follow(view, moves):
    """Move the view's slider; yield (step index, the state the browser holds after the messages)."""
    sent = _listen(view.map)
    state, seen = _as_state(view.map.state), 0
    for i in moves:
        view.slider.value = i
        for msg in sent[seen:]:
            assert msg["e"] == view.map.state["epoch"]
            state = hf.apply(state, msg)
        seen = len(sent)
        yield i, state


def test_diff_then_apply_gives_the_other_state():
    r = talloc.replay(random_trace(300, seed=4))
    states = [hf.state_of(s) for s in r.states]
    rng = random.Random(2)
    for _ in range(200):
        a, b = rng.choice(states), rng.choice(states)
        assert hf.apply(a, hf.diff(a, b)) == b


def test_a_far_jump_sends_every_block_as_columns():
    r = talloc.replay(random_trace(400, seed=7))
    a, b = hf.state_of(r.states[5]), hf.state_of(r.states[390])
    d = {"full": hf.full_blocks(b), "fl": list(hf.splice(a["fl"], b["fl"])), "changed": b["changed"]}
    assert hf.apply(a, d) == b
    view = StepView(r.states, talloc_renderer(r))
    sent = _listen(view.map)
    view.slider.value = 390
    assert "full" in sent[-1] and "add" not in sent[-1]
    assert len(json.dumps(sent[-1])) < len(json.dumps(hf.diff(a, b)))


def test_splice_is_one_edit_from_head_and_tail():
    assert hf.splice((1, 2, 3), (9, 1, 2, 3)) == (0, 0, [9])        # a LIFO push
    assert hf.splice((1, 2, 3, 4), (1, 3, 4)) == (1, 1, [])          # taken from the middle
    old, new = (5, 6, 7), (5, 8, 9, 7)
    p, k, ins = hf.splice(old, new)
    assert list(old[:p]) + ins + list(old[p + k:]) == list(new)


@pytest.mark.parametrize("trace", ["fragment", "intro", "random"])
def test_every_step_is_the_first_state_plus_the_changes(trace):
    r = talloc.replay(random_trace(400, seed=7) if trace == "random" else trace)
    view = StepView(r.states, talloc_renderer(r))
    assert isinstance(view.map, hf.HeapFront)
    for i, state in _follow(view, _moves(len(r.states))):
        assert state == hf.state_of(r.states[i]), f"step {i}"
        assert view.map.index == i and view.map.current() == state


def test_lazy_steps_and_a_new_replay_start_over_with_a_new_epoch():
    st = Stepper(random_trace(600, seed=3), editable=False, lazy=True)
    moves = _moves(len(st.replay.states))
    for i, state in _follow(st.view, moves[:300]):
        assert state == hf.state_of(st.replay.states[i])
    epoch = st.map.state["epoch"]
    st.policy.value = "best"                          # a new replay: the full state is sent again
    assert st.map.state["epoch"] == epoch + 1 and st.map.state["index"] == st.slider.value
    for i, state in _follow(st.view, moves[300:]):
        assert state == hf.state_of(st.replay.states[i])


def test_a_view_that_missed_messages_gets_the_whole_state():
    st = Stepper("fragment", editable=False)
    _listen(st.map)
    st.slider.value = 5
    st.map._on_msg(st.map, {"at": 0, "e": st.map.state["epoch"]}, [])     # the view still holds step 0
    assert st.map.state["index"] == 5 and _as_state(st.map.state) == hf.state_of(st.replay.states[5])
    before = dict(st.map.state)
    st.map._on_msg(st.map, {"at": 5, "e": st.map.state["epoch"]}, [])     # up to date: nothing sent
    assert st.map.state == before


def test_the_picture_is_heap_svg():
    for trace in ("fragment", "intro", random_trace(200, seed=9)):
        r = talloc.replay(trace)
        cfg = hf.front_config(r.arena_size, r.frame)
        for s in r.states:
            assert hf.svg_of(cfg, hf.state_of(s)) == stepviews.heap_svg(s, r.arena_size, r.frame)


def test_named_lists_other_than_the_free_list():
    figs = Figures(24, 96, 32, 32, 0.25, 0.0)
    blocks = ((0, 32, 1, "a"), (32, 32, 0, ""), (64, 32, 1, "c<&>'\""), (96, 400, 0, ""))
    steps = [Step(0, None, blocks, Bins(), figs),
             Step(1, Op("free", "b"), blocks, Bins([Bin("tcache 0x20", BinType.TCACHE, (32,), size=32)]), figs,
                  changed=32),
             Step(2, Op("free", "d"), blocks, Bins([Bin("unsorted", BinType.UNSORTED, (96, 32))]), figs)]
    view = StepView(steps, stepviews.HtmlRenderer(512))
    for i, state in _follow(view, [1, 2, 0, 2, 1]):
        assert state == hf.state_of(steps[i])
        assert hf.svg_of(view.map.config, state) == stepviews.heap_svg(steps[i], 512) == view.map.value


def test_the_stepper_keeps_its_api_and_its_stored_text():
    st = Stepper("intro")
    assert "<svg" in st.map.value and st.map.value == st._svg(0)
    assert repr(st.widget).startswith("VBox(children=(HBox(children=(Play(value=0, interval=300, max=7), "
                                      "IntSlider(value=0, description='step'")
    assert repr(st.map) == "HeapFront(step 0 of 7, 1 block)"
    assert st.map.config["colors"] == stepviews.COLORS


def test_other_renderers_keep_the_html_picture():
    view = StepView(talloc.replay("intro").states, stepviews.TextRenderer(1024))
    assert not isinstance(view.map, hf.HeapFront)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_front_end_draws_the_same_svg(tmp_path):
    """heapfront.js itself (run by node): the first state plus every message, drawn, is
    heap_svg of the step the slider is on."""
    r = talloc.replay(random_trace(500, seed=11))
    view = StepView(r.states, talloc_renderer(r))
    sent = _listen(view.map)
    first = json.loads(json.dumps(view.map.state))
    want = {}
    for k, i in enumerate(_moves(len(r.states), seed=5)):
        view.slider.value = i
        if k % 5 == 0:
            want[len(sent)] = stepviews.heap_svg(r.states[i], r.arena_size, r.frame)
    assert any("full" in m for m in sent) and any("add" in m for m in sent)   # both kinds of message
    (tmp_path / "heapfront.mjs").write_text((hf.HERE / "heapfront.js").read_text())
    (tmp_path / "case.json").write_text(json.dumps({"config": view.map.config, "state": first, "msgs": sent,
                                                    "want": {str(k): v for k, v in want.items()}}))
    (tmp_path / "run.mjs").write_text("""
import {fromWire, applyDiff, svgOf, fmt1, floorDiv6} from "./heapfront.mjs";
import fs from "fs";
const c = JSON.parse(fs.readFileSync(process.argv[2]));
const s = fromWire(c.state);
const bad = [];
let n = 0;
c.msgs.forEach((m, k) => {
  applyDiff(s, m);
  const want = c.want[String(k + 1)];
  if (want !== undefined) { n++; if (svgOf(c.config, s) !== want) bad.push(k); }
});
const fmt = [0.25, 11.25, 0.75, 2.5, 9.45, 3.05, 56].map(fmt1);
console.log(JSON.stringify({n, bad, fmt, fd: [17.999, 18, 23.9, 0.6].map(floorDiv6)}));
""")
    out = subprocess.run([NODE, str(tmp_path / "run.mjs"), str(tmp_path / "case.json")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["n"] == len(want) and res["bad"] == []
    assert res["fmt"] == [f"{v:.1f}" for v in (0.25, 11.25, 0.75, 2.5, 9.45, 3.05, 56)]
    assert res["fd"] == [int(v // 6) for v in (17.999, 18, 23.9, 0.6)]


def test_heap_map_sends_the_blocks_as_columns():
    import labsupport as lab
    from labsupport.widgets import style
    from labsupport.widgets.heapmap import HeapMap
    blocks = [lab.Block(0, 16, "meta"), lab.Block(16, 32, "used", "a"), lab.Block(64, 48, "free")]
    w = hf.blocks_wire(blocks)
    assert w["start"] == 0 and w["gap"] == [0, 0, 16] and w["size"] == [16, 32, 48]
    assert [w["states"][k] for k in w["state"]] == ["meta", "used", "free"] and w["owner"] == ["", "a", ""]
    hm = HeapMap(blocks, title="t")
    assert hm.picture.blocks == w and hm.picture.config["colors"] == style.COLORS
    assert hm.picture.config["hatches"] == getattr(style, "HATCHES", {})
    assert "a heap map of 3 blocks" in hm.picture.config["alt"]
    hm.picker.value = 2
    assert hm.picture.highlight == 2 and hm.image.value[:4] == b"\x89PNG"
    hm.update(blocks[:1])
    assert hm.picture.blocks["size"] == [16] and hm.picture.highlight == 0
