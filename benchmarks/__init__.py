"""JitGrad's benchmarks: the engine against torch (and numpy where it applies).

Run ``python -m benchmarks`` (``--quick`` for a ~30 s pass, ``--markdown`` for tables to
paste into a README).  Each topic module exposes ``CASES``: a dict from a case key to a
function ``(Config) -> list[Row | Table]``; ``__main__`` runs them in order and prints
one main table and the scaling tables.  See ``benchmarks/README.md``.
"""
