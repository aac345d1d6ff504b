"""torch's error and warning texts, word for word, so users can search for them."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._base.dtypes import from_np

NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead."
)
CAN_CAST = (  # torch's text for max/min(out=) of a dtype the result can't be cast to
    "Expected canCast( typeMetaToScalarType(self.dtype()), typeMetaToScalarType(out.dtype())) "
    "to be true, but got false.  (Could this error message be improved?  If so, please report "
    "an enhancement request to PyTorch.)")
LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of " + LEAF_INPLACE
NO_GRAD_VIEW = (
    "A view was created in no_grad mode and {} modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked).")
DETACH_VIEW = (
    "Can't detach views in-place. Use detach() instead. If you are using "
    "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, "
    "gradients are views of DDP buckets, and hence detach_() cannot be called on these "
    "gradients. To fix this error, please refer to the Optimizer.zero_grad() function in "
    "torch/optim/optimizer.py as the solution.")
OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation.")
SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
    "you need to backward through the graph a second time or if you need to access saved "
    "tensors after calling backward."
)


def modified_message(node_name: str, data: np.ndarray, producer: str | None, output_nr: int,
                     version: Any, expected: int) -> str:
    """torch's error for a saved value modified in place since the forward pass."""
    kind = from_np(data.dtype).tensor_type
    shape = ", ".join(str(d) for d in data.shape)
    # torch names the producing op without its "Backward<N>" suffix here.
    op = producer.rsplit("Backward", 1)[0] if producer else None
    where = f", which is output {output_nr} of {op}," if op else ""
    return (
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [engine.{kind} [{shape}]]{where} is at version {version}; "
        f"expected version {expected} instead. Hint: the backward of {node_name} needs "
        "the value it had in the forward pass; clone() it before modifying it in place."
    )
