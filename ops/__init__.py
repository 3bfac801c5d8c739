"""voxformer.ops: tensor-in, tensor-out ops for sparse voxel detectors.

Depends on torch only (numba and triton are optional fast backends). Every op has a plain-PyTorch
reference and dispatches to a fast backend by device; see :mod:`voxformer.ops.backends`.
"""

from .backends import BACKEND_ENV, usable_backends

__all__ = ["BACKEND_ENV", "usable_backends"]
