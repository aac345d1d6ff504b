"""JitGrad's desktop lab: a Qt window that steps through the engine's backward pass."""
