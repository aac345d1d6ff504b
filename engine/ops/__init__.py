"""Op families (a node class above each forward function), tensor creation, and the
table of ``Tensor`` methods (``methods``), bound once by ``engine/__init__.py``.

Families import only those before them: convert < unary < elementwise < shape/indexing <
reduce < join < linalg < activation < loss < layers; inplace, views and methods sit on top.
"""
