"""The TW-NAS kernel (Nguyen, Le, Yamada, Osborne, ICML 2021) over a tree-Wasserstein embedding.

The tree-Wasserstein encoder (``bonas.encoders``) writes each architecture as an
``n x d`` row whose column groups (``"op"``, ``"in"``, ``"out"``) are weighted
subtree-mass vectors: the tree-Wasserstein distance of a group is the L1 distance
between the rows' columns of that group. This kernel turns those distances into
``k = exp(-d_op / l_op - d_in / l_in - d_out / l_out)``, one lengthscale per group.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from gpytorch.kernels import Kernel
from torch import Tensor

from bonas.kernels._inputs import check_width


def check_groups(groups: Mapping[str, slice], dim: int | None = None) -> int:
    """Check that ``groups`` are contiguous column slices that partition ``[0, d)``; return ``d``.

    ``d`` is ``dim`` when given, else the largest ``stop``. Raises ``ValueError``
    naming the offending group otherwise.
    """
    if not groups:
        raise ValueError("groups is empty; expected a dict of group name -> column slice, e.g. {'op': slice(0, 10)}")
    covered: list[tuple[int, int, str]] = []
    for name, columns in groups.items():
        if not isinstance(columns, slice) or columns.step not in (None, 1):
            raise ValueError(f"group {name!r} is {columns!r}; expected a slice(start, stop) with step 1")
        if columns.start is None or columns.stop is None or not 0 <= columns.start < columns.stop:
            raise ValueError(f"group {name!r} is {columns!r}; expected 0 <= start < stop, both given")
        covered.append((columns.start, columns.stop, name))
    covered.sort()
    width = covered[-1][1] if dim is None else dim
    position = 0
    for start, stop, name in covered:
        if start != position:
            what = "overlaps the group before it" if start < position else f"leaves columns {position}..{start - 1} out"
            raise ValueError(f"group {name!r} = slice({start}, {stop}) {what}; groups must partition [0, {width})")
        position = stop
    if position != width:
        raise ValueError(f"groups cover columns [0, {position}), expected exactly [0, {width}) for dim={width}")
    return width


class TreeWassersteinKernel(Kernel):
    r"""Product of Laplace kernels on the tree-Wasserstein (L1) embedding, one lengthscale per group.

    .. math::
        k(x_1, x_2) = \exp\Big(-\sum_g \lVert x_1[g] - x_2[g] \rVert_1 / l_g\Big)
                    = \prod_g \exp(-d_g(x_1, x_2) / l_g)

    Positive definite: the L1 distance is conditionally negative definite, so by
    Schoenberg's theorem ``exp(-t * L1)`` is positive definite for every ``t > 0``;
    each factor is therefore a PD Laplace kernel on its group's columns, and a
    product of PD kernels is PD (Schur). Tree-Wasserstein distances are exactly
    such L1 distances between subtree-mass vectors (Le et al., NeurIPS 2019), which
    is what makes TW-NAS's kernel valid where an ``exp(-W)`` of a general Wasserstein
    distance need not be.

    :param groups: group name -> column slice of the encoding; the slices must
        partition ``[0, d)`` (TW-NAS: ``"op"``, ``"in"``, ``"out"``). The lengthscale
        has shape ``batch_shape x 1 x n_groups``, ordered as ``groups``.
    :param dim: the encoding width ``d``; defaults to the largest slice stop.

    ``ard_num_dims`` stays ``None``: the lengthscales are per group, not per
    input column, and gpytorch's debug check compares ``ard_num_dims`` with ``d``.
    Other keyword arguments (``batch_shape``, ``active_dims``,
    ``lengthscale_prior``, ``lengthscale_constraint``) go to :class:`gpytorch.kernels.Kernel`.

    Inputs are ``... x n x d`` and ``... x m x d``; the output is ``... x n x m``,
    or ``... x n`` with ``diag=True``.
    """

    has_lengthscale = True

    def __init__(self, groups: Mapping[str, slice], dim: int | None = None, **kwargs) -> None:
        self.input_dim = check_groups(groups, dim)
        self.groups = dict(groups)
        super().__init__(**kwargs)
        # The base class made a batch_shape x 1 x 1 lengthscale (ard_num_dims=None); widen it to one per group.
        # Its constraint and any lengthscale prior, registered by the base class, apply unchanged.
        self.register_parameter(
            name="raw_lengthscale",
            parameter=torch.nn.Parameter(torch.zeros(*self.batch_shape, 1, len(self.groups))),
        )
        column_group = [0] * self.input_dim
        for group_index, columns in enumerate(self.groups.values()):
            column_group[columns] = [group_index] * (columns.stop - columns.start)
        # A plain tuple, not a buffer: gpytorch's Kernel.__getitem__ indexes every buffer as batch-shaped.
        self.column_group = tuple(column_group)
        self._distances: tuple | None = None  # (x1, x2, n x m x n_groups distances, versions) of the last fit call

    def __getstate__(self) -> dict:
        """Pickles and copies (``condition_on_observations`` deep-copies a model) leave the distance cache out."""
        state = self.__dict__.copy()
        state["_distances"] = None
        return state

    @property
    def group_names(self) -> tuple[str, ...]:
        """The group names, in the order of the lengthscale's last dimension."""
        return tuple(self.groups)

    def _scale_columns(self, x: Tensor) -> Tensor:
        """``... x n x d`` -> the same with every column divided by its group's lengthscale."""
        lengthscale = self.lengthscale
        column_group = torch.tensor(self.column_group, device=lengthscale.device)
        column_lengthscale = lengthscale.index_select(-1, column_group)
        return x.div(column_lengthscale)

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        check_width(x1, x2, self.input_dim, type(self).__name__)
        if diag:
            return torch.exp(-(self._scale_columns(x1) - self._scale_columns(x2)).abs().sum(dim=-1))
        if x1.requires_grad or x2.requires_grad:
            batch_shape = torch.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
            x1 = x1.expand(*batch_shape, *x1.shape[-2:])
            x2 = x2.expand(*batch_shape, *x2.shape[-2:])
            return torch.exp(-torch.cdist(self._scale_columns(x1), self._scale_columns(x2), p=1))
        return self._scaled_distance(x1, x2).neg_().exp_()

    def _scaled_distance(self, x1: Tensor, x2: Tensor) -> Tensor:
        """``sum_g d_g / l_g`` for inputs that need no gradient: ``... x n x m``.

        Equal to ``cdist`` of the scaled columns (a group's columns share its lengthscale), but the group
        distances ``d_g`` are computed without autograd, so a marginal-likelihood fit differentiates
        ``n x m x n_groups`` numbers instead of running ``cdist``'s backward over all ``d`` columns, and they are
        kept for the next call on the same two tensors (a fit evaluates the kernel on its training inputs at
        every optimiser step). Without a gradient to the lengthscales they are summed in place, no stack of
        ``n_groups`` matrices. Tested against ``cdist``.
        """
        lengthscale = self.lengthscale.unsqueeze(-2)  # batch x 1 x 1 x n_groups
        batch_shape = torch.broadcast_shapes(x1.shape[:-2], x2.shape[:-2], lengthscale.shape[:-3])
        if not (torch.is_grad_enabled() and lengthscale.requires_grad):
            x1 = x1.expand(*batch_shape, *x1.shape[-2:])
            x2 = x2.expand(*batch_shape, *x2.shape[-2:])
            total = None
            for index, columns in enumerate(self.groups.values()):
                with torch.no_grad():
                    distance = torch.cdist(x1[..., columns], x2[..., columns], p=1)
                distance = distance.div_(lengthscale[..., index])
                total = distance if total is None else total.add_(distance)
            return total
        cached = self._distances
        if cached is None or cached[0] is not x1 or cached[1] is not x2 or cached[3] != (x1._version, x2._version):
            expanded1 = x1.expand(*batch_shape, *x1.shape[-2:])
            expanded2 = x2.expand(*batch_shape, *x2.shape[-2:])
            with torch.no_grad():
                distances = torch.stack([torch.cdist(expanded1[..., columns], expanded2[..., columns], p=1)
                                         for columns in self.groups.values()], dim=-1)
            cached = self._distances = (x1, x2, distances, (x1._version, x2._version))
        return (cached[2] / lengthscale).sum(dim=-1)
