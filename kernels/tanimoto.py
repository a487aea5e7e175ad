"""The Tanimoto (MinMax, weighted Jaccard) kernel for non-negative count encodings: path, WL, adjacency.

``k(x, y) = sum_i min(x_i, y_i) / sum_i max(x_i, y_i)``: the share of the two
architectures' features (paths, WL subtrees, edges and ops) they have in common.
For 0/1 vectors it is the Jaccard index of the two feature sets. It has no
hyperparameters; wrap it in a ``ScaleKernel`` for an outputscale.
"""

from __future__ import annotations

import copy

import torch
from gpytorch.kernels import Kernel
from torch import Tensor

from bonas.kernels._inputs import check_width


class TanimotoKernel(Kernel):
    r"""MinMax kernel ``k(x, y) = sum min(x, y) / sum max(x, y)`` on non-negative ``... x n x d`` inputs.

    Positive definite on non-negative vectors (Ralaivola et al., "Graph kernels for
    chemical informatics", Neural Networks 2005; Ioffe, "Improved consistent
    sampling, weighted minhash and L1 sketching", ICDM 2010). Two all-zero rows
    are defined to have ``k(0, 0) = 1``; an all-zero row against any other row has
    ``k = 0``. Values lie in ``[0, 1]`` and ``k(x, x) = 1``.

    Computed through one L1 ``torch.cdist`` instead of an ``n x m x d`` broadcast of
    min and max: for non-negative ``x, y`` we have ``min(a, b) = (a + b - |a - b|) / 2``
    and ``max(a, b) = (a + b + |a - b|) / 2``, so with ``s = sum x + sum y`` and
    ``t = ||x - y||_1``, ``k = (s - t) / (s + t)``; the tests check this against the
    direct formula.

    :param dim: the encoding width ``d``; when given, inputs of another width
        raise ``ValueError``. Other keyword arguments go to :class:`gpytorch.kernels.Kernel`.
    """

    def __init__(self, dim: int | None = None, **kwargs) -> None:
        if dim is not None and dim < 1:
            raise ValueError(f"dim is {dim}; expected a positive encoding width")
        super().__init__(**kwargs)
        self.input_dim = dim

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        name = type(self).__name__
        check_width(x1, x2, x1.size(-1) if self.input_dim is None else self.input_dim, name)
        for input_name, x in (("x1", x1), ("x2", x2)):
            if x.numel() and x.min() < 0:
                raise ValueError(f"{name}: {input_name} has a negative entry {x.min().item():g}; expected counts >= 0")
        if diag:
            mass_sum = x1.sum(dim=-1) + x2.sum(dim=-1)
            l1_distance = (x1 - x2).abs().sum(dim=-1)
        else:
            mass_sum = x1.sum(dim=-1).unsqueeze(-1) + x2.sum(dim=-1).unsqueeze(-2)
            batch_shape = torch.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
            l1_distance = torch.cdist(
                x1.expand(*batch_shape, *x1.shape[-2:]), x2.expand(*batch_shape, *x2.shape[-2:]), p=1
            )
        both_zero = mass_sum == 0
        shared = (mass_sum - l1_distance).clamp_min(0)
        union = torch.where(both_zero, torch.ones_like(mass_sum), mass_sum + l1_distance)
        similarity = torch.where(both_zero, torch.ones_like(mass_sum), shared / union)
        # gpytorch expects the kernel's own batch_shape in the output even though no parameter carries it.
        output_batch_shape = torch.broadcast_shapes(self.batch_shape, similarity.shape[: -1 if diag else -2])
        return similarity.expand(*output_batch_shape, *similarity.shape[-1 if diag else -2 :])

    def __getitem__(self, index) -> TanimotoKernel:
        """The kernel for a slice of its batch: only ``batch_shape`` changes, there are no parameters to index."""
        if len(self.batch_shape) == 0:
            return self
        new_kernel = copy.deepcopy(self)
        new_kernel.batch_shape = torch.empty(self.batch_shape)[index].shape
        return new_kernel
