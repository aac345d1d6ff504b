"""Layered left-to-right layout of a small DAG, free of Qt.

Sugiyama-style: networkx gives the topological order, nodes get layers (longest
path, then pulled right next to their consumers), long edges get dummy points,
barycentre sweeps order each layer, and boxes are stacked so none overlap.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx


@dataclass
class Box:
    """A placed node: top-left corner and size, in scene units."""

    x: float
    y: float
    w: float
    h: float

    def overlaps(self, other: Box, margin: float = 0.0) -> bool:
        return not (self.x + self.w + margin <= other.x or other.x + other.w + margin <= self.x
                    or self.y + self.h + margin <= other.y or other.y + other.h + margin <= self.y)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass
class Layout:
    """Result of :func:`layered_layout`: boxes per node, polyline per edge, layer per node."""

    boxes: dict[Hashable, Box] = field(default_factory=dict)
    edges: dict[tuple[Hashable, Hashable], list[tuple[float, float]]] = field(default_factory=dict)
    layers: dict[Hashable, int] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


def assign_layers(g: nx.DiGraph) -> dict[Hashable, int]:
    """Longest-path layers, then every node moved as far right as its successors allow."""
    order = list(nx.topological_sort(g))
    layer: dict[Hashable, int] = {}
    for n in order:
        preds = list(g.predecessors(n))
        layer[n] = 1 + max(layer[p] for p in preds) if preds else 0
    for n in reversed(order):
        succ = list(g.successors(n))
        if succ:
            layer[n] = max(layer[n], min(layer[s] for s in succ) - 1)
    return layer


def count_crossings(rows: Sequence[Sequence[Hashable]], links: Iterable[tuple]) -> int:
    """Edge crossings between consecutive rows (``links`` join neighbouring rows)."""
    pos = {n: (li, i) for li, row in enumerate(rows) for i, n in enumerate(row)}
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for a, b in links:
        (la, ia), (lb, ib) = pos[a], pos[b]
        if la > lb:
            (la, ia), (lb, ib) = (lb, ib), (la, ia)
        by_gap.setdefault(la, []).append((ia, ib))
    total = 0
    for segs in by_gap.values():
        for i in range(len(segs)):
            for j in range(i + 1, len(segs)):
                (a1, b1), (a2, b2) = segs[i], segs[j]
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def layered_layout(nodes: dict[Hashable, tuple[float, float]],
                   edges: Sequence[tuple[Hashable, Hashable]], *, layer_gap: float = 150.0,
                   node_gap: float = 28.0, margin: float = 20.0, sweeps: int = 8) -> Layout:
    """Place ``nodes`` (id -> (width, height)) in columns, edges pointing to the right.

    Returns non-overlapping boxes and, per edge, a polyline that bends only in the
    gaps between columns (so edge labels placed there never cross a box).
    """
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(e for e in edges if e[0] != e[1])
    if not nx.is_directed_acyclic_graph(g):
        raise ValueError("layered_layout needs an acyclic graph")
    layer = assign_layers(g)
    n_layers = 1 + max(layer.values(), default=-1)

    # Split long edges with dummy nodes so each link joins neighbouring layers.
    links: list[tuple[Hashable, Hashable]] = []
    chains: dict[tuple[Hashable, Hashable], list[Hashable]] = {}
    sizes = dict(nodes)
    for a, b in g.edges:
        chain = [a]
        for k in range(layer[a] + 1, layer[b]):
            d = ("__dummy__", a, b, k)
            layer[d] = k
            sizes[d] = (0.0, 0.0)
            chain.append(d)
        chain.append(b)
        chains[(a, b)] = chain
        links.extend(zip(chain, chain[1:]))

    rows: list[list[Hashable]] = [[] for _ in range(n_layers)]
    topo = {n: i for i, n in enumerate(nx.topological_sort(g))}
    for n in sorted(layer, key=lambda n: (topo.get(n, 0), str(n))):
        rows[layer[n]].append(n)
    nbrs_left: dict[Hashable, list[Hashable]] = {n: [] for n in layer}
    nbrs_right: dict[Hashable, list[Hashable]] = {n: [] for n in layer}
    for a, b in links:
        nbrs_right[a].append(b)
        nbrs_left[b].append(a)

    rows = _order_rows(rows, links, nbrs_left, nbrs_right, sweeps)

    # Columns: x from the widest box of each layer.
    col_w = [max((sizes[n][0] for n in row), default=0.0) for row in rows]
    col_x = []
    x = margin
    for w in col_w:
        col_x.append(x)
        x += w + layer_gap
    # Rows: stack each column, then nudge towards neighbours' centres without overlaps.
    ys: dict[Hashable, float] = {}
    for row in rows:
        y = margin
        for n in row:
            h = sizes[n][1]
            ys[n] = y + h / 2
            y += h + node_gap
    for it in range(6):
        forward = it % 2 == 0
        order = rows if forward else list(reversed(rows))
        for row in order:
            side = nbrs_left if forward else nbrs_right
            want = []
            for n in row:
                ns = [ys[m] for m in side[n]] or [ys[m] for m in nbrs_left[n] + nbrs_right[n]]
                want.append(sum(ns) / len(ns) if ns else ys[n])
            _place_row(row, want, sizes, ys, node_gap, margin)
    top = min((ys[n] - sizes[n][1] / 2 for n in ys), default=margin)
    shift = margin - top
    out = Layout()
    for li, row in enumerate(rows):
        for n in row:
            w, h = sizes[n]
            cx = col_x[li] + col_w[li] / 2
            if n in nodes:
                out.boxes[n] = Box(cx - w / 2, ys[n] + shift - h / 2, w, h)
                out.layers[n] = li
            else:
                out.boxes.setdefault(("__point__", n), Box(cx, ys[n] + shift, 0, 0))
    # Spread the ends of several edges over the box's side, ordered by the other end.
    y_of = {n: ys[n] + shift for n in ys}
    port_out: dict[tuple, float] = {}
    port_in: dict[tuple, float] = {}
    for n in nodes:
        box = out.boxes[n]
        outs = sorted((e for e in chains if e[0] == n), key=lambda e: y_of[chains[e][1]])
        ins = sorted((e for e in chains if e[1] == n), key=lambda e: y_of[chains[e][-2]])
        for group, ports in ((outs, port_out), (ins, port_in)):
            for i, e in enumerate(group):
                ports[e] = box.y + box.h * (i + 1) / (len(group) + 1)
    for (a, b), chain in chains.items():
        pts: list[tuple[float, float]] = []
        ba, bb = out.boxes[a], out.boxes[b]
        pts.append((ba.x + ba.w, port_out[(a, b)]))
        for d in chain[1:-1]:
            li = layer[d]
            y = ys[d] + shift
            pts.append((col_x[li] - 2, y))
            pts.append((col_x[li] + col_w[li] + 2, y))
        pts.append((bb.x, port_in[(a, b)]))
        out.edges[(a, b)] = pts
    out.boxes = {k: v for k, v in out.boxes.items() if k in nodes}
    out.width = (col_x[-1] + col_w[-1] + margin) if rows else 2 * margin
    out.height = max((b.y + b.h for b in out.boxes.values()), default=0.0) + margin
    return out


def _order_rows(rows: list[list[Hashable]], links: list[tuple[Hashable, Hashable]],
                nbrs_left: dict[Hashable, list[Hashable]],
                nbrs_right: dict[Hashable, list[Hashable]], sweeps: int) -> list[list[Hashable]]:
    """The order of each row with the fewest crossings seen in ``sweeps`` barycentre sweeps.

    Sweeps alternate left-to-right and back; each sorts a row by the mean position of its
    neighbours in the row just placed.
    """
    n_layers = len(rows)
    best = [list(r) for r in rows]
    best_cross = count_crossings(best, links)
    for sweep in range(sweeps):
        rng = range(1, n_layers) if sweep % 2 == 0 else range(n_layers - 2, -1, -1)
        for li in rng:
            ref = rows[li - 1] if sweep % 2 == 0 else rows[li + 1]
            idx = {n: i for i, n in enumerate(ref)}
            side = nbrs_left if sweep % 2 == 0 else nbrs_right
            cur = {n: i for i, n in enumerate(rows[li])}

            def bary(n: Hashable, idx: dict = idx, side: dict = side, cur: dict = cur) -> float:
                ns = [idx[m] for m in side[n] if m in idx]
                return sum(ns) / len(ns) if ns else float(cur[n])

            rows[li].sort(key=bary)
        c = count_crossings(rows, links)
        if c < best_cross:
            best, best_cross = [list(r) for r in rows], c
    return best


def _place_row(row: list[Hashable], want: list[float], sizes: dict, ys: dict, gap: float,
               margin: float) -> None:
    """Put each node's centre as close to ``want`` as the order and the gaps allow."""
    if not row:
        return
    pos = list(want)
    half = [sizes[n][1] / 2 for n in row]
    # Push down to clear the previous box, then pull back up to clear the next one.
    for i in range(1, len(row)):
        need = pos[i - 1] + half[i - 1] + gap + half[i]
        pos[i] = max(pos[i], need)
    for i in range(len(row) - 2, -1, -1):
        limit = pos[i + 1] - half[i + 1] - gap - half[i]
        pos[i] = min(pos[i], limit)
    for n, p in zip(row, pos):
        ys[n] = p
