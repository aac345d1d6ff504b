"""The layered layout, without Qt: columns, no overlapping boxes, edges between columns."""

from __future__ import annotations

import itertools

import pytest

from gui.model.config import PRESETS, preset_config
from gui.model.graph_layout import assign_layers, count_crossings, layered_layout
from gui.model.session import Session


def _sizes(gm):
    return {nid: (40 + 8 * len(n.title), 40) for nid, n in gm.nodes.items()}


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("view", ["backward", "forward"])
def test_presets_have_no_overlapping_boxes(preset, view):
    s = Session(preset_config(preset))
    gm = s.view(view)
    lay = layered_layout(_sizes(gm), gm.edges)
    assert set(lay.boxes) == set(gm.nodes)
    for (a, ba), (b, bb) in itertools.combinations(lay.boxes.items(), 2):
        assert not ba.overlaps(bb, margin=4), (a, b)


@pytest.mark.parametrize("preset", PRESETS)
def test_edges_go_left_to_right_and_bend_only_between_columns(preset):
    s = Session(preset_config(preset))
    gm = s.backward_graph
    lay = layered_layout(_sizes(gm), gm.edges)
    for (a, b), pts in lay.edges.items():
        assert lay.layers[a] < lay.layers[b]
        xs = [p[0] for p in pts]
        assert xs == sorted(xs)
        # No edge segment passes through a box other than its own ends.
        for n, box in lay.boxes.items():
            if n in (a, b):
                continue
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                if y0 == y1 and box.y < y0 < box.y + box.h:
                    assert x1 <= box.x or x0 >= box.x + box.w


def test_root_in_first_column_and_leaves_pulled_next_to_consumers():
    import networkx as nx

    g = nx.DiGraph([("loss", "add"), ("add", "mm"), ("mm", "w"), ("add", "b")])
    layers = assign_layers(g)
    assert layers["loss"] == 0
    assert layers["w"] == 3 and layers["b"] == 2


def test_crossings_are_reduced():
    nodes = {k: (50, 30) for k in "abcdef"}
    edges = [("a", "e"), ("b", "d"), ("c", "f"), ("a", "d")]
    lay = layered_layout(nodes, edges)
    rows: dict[int, list] = {}
    for n, li in sorted(lay.layers.items(), key=lambda kv: lay.boxes[kv[0]].y):
        rows.setdefault(li, []).append(n)
    assert count_crossings([rows[k] for k in sorted(rows)], edges) == 0


def test_cycle_is_refused():
    with pytest.raises(ValueError):
        layered_layout({"a": (1, 1), "b": (1, 1)}, [("a", "b"), ("b", "a")])
