"""Op families (a node class above each forward function), tensor creation, and the
table of ``Tensor`` methods (``methods``), bound once by ``engine/__init__.py``.

Families import only those before them: convert < unary < selection < elementwise <
indexing < shape < reduce < extrema < join < linalg < activation < loss < pointwise_loss <
layers, with creation beside them and the random stream (generator) below them all;
inplace, views, random (the random factories) and methods sit on top.
"""
