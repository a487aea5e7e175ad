"""Input checks shared by the architecture kernels: encodings are ``... x n x d`` tensors of a known width ``d``."""

from __future__ import annotations

from torch import Tensor


def check_width(x1: Tensor, x2: Tensor, expected_dim: int, kernel_name: str) -> None:
    """Raise ``ValueError`` unless both inputs (``... x n x d``, ``... x m x d``) have ``d == expected_dim``."""
    for name, x in (("x1", x1), ("x2", x2)):
        if x.dim() < 2:
            raise ValueError(f"{kernel_name}: {name} must be '... x n x d', got shape {tuple(x.shape)}")
        if x.size(-1) != expected_dim:
            raise ValueError(
                f"{kernel_name}: {name} has last dimension {x.size(-1)}, expected {expected_dim} "
                f"(the width of the encoding the kernel was built for)"
            )
