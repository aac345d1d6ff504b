"""Labels the graph views read from the Qt-free model."""

from __future__ import annotations

import numpy as np

from gui.model.graph_model import short_values


def test_short_values_fit_between_columns():
    assert short_values(None) == ""
    assert short_values(np.float32(0.123456)) == "0.1235"
    assert short_values(np.array([0.27, -0.12, 0.5])) == "[0.27, -0.12, 0.5]"
    # Too wide with two significant digits: two decimals instead.
    assert short_values(np.array([0.27, 0.12, 0.0027], dtype=np.float32)) == "[0.27, 0.12, 0.00]"
    # Too wide either way for the gap between two boxes: the norm.
    g = np.array([-0.27, -0.12, -0.0027], dtype=np.float32)
    assert short_values(g) == f"‖g‖={np.linalg.norm(g):.3g}" == "‖g‖=0.295"
    assert short_values(np.ones(4)) == "‖g‖=2"
