"""Layer 0 of the engine: numpy-only building blocks every other layer may use.

Nothing here imports a Tensor, a graph node or a kernel.
"""
