"""Build a GP covariance for an encoding by name: ``make_kernel("tw" | "tanimoto" | "matern" | "rbf" | "matern-iso", dim)``,
or any kernel added with :func:`register_kernel`.

Every kernel comes wrapped in a ``ScaleKernel`` (an outputscale botorch fits
with the rest) that rejects encodings of the wrong width with a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from gpytorch.kernels import Kernel, MaternKernel, RBFKernel, ScaleKernel
from torch import Tensor

from bonas.kernels._inputs import check_width
from bonas.registry import Registry
from bonas.kernels.tanimoto import TanimotoKernel
from bonas.kernels.tree_wasserstein import TreeWassersteinKernel, check_groups


class EncodingScaleKernel(ScaleKernel):
    """A ``ScaleKernel`` over ``... x n x d`` encodings with ``d == input_dim``; other widths raise ``ValueError``."""

    def __init__(self, base_kernel: Kernel, input_dim: int, **kwargs) -> None:
        super().__init__(base_kernel, **kwargs)
        self.input_dim = input_dim

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        check_width(x1, x2, self.input_dim, type(self.base_kernel).__name__)
        return super().forward(x1, x2, diag=diag, **params)


def _tree_wasserstein(dim: int, groups: Mapping[str, slice] | None) -> Kernel:
    if groups is None:
        raise ValueError("kernel 'tw' needs groups (name -> column slice) from the tree-Wasserstein encoder, got None")
    check_groups(groups, dim)
    return TreeWassersteinKernel(groups, dim=dim)


KernelBuilder = Callable[[int, Mapping[str, slice] | None], Kernel]
"""Builds a kernel over ``n x dim`` encodings from ``(dim, groups)``; ``groups`` is the encoder's, or ``None``."""
KERNELS: Registry[KernelBuilder] = Registry("kernel")
"""Every registered kernel builder, by name."""


def register_kernel(name: str, builder: KernelBuilder, replace: bool = False) -> KernelBuilder:
    """Add ``builder`` under ``name`` (``ValueError`` if the name is taken, unless ``replace``); an
    :class:`~bonas.encoders.registry.EncodingEntry` then names it as its ``kernel``."""
    if not callable(builder):
        raise ValueError(f"register_kernel takes a callable (dim, groups) -> Kernel, got {type(builder).__name__}")
    return KERNELS.register(name, builder, replace)


register_kernel("tw", _tree_wasserstein)
register_kernel("tanimoto", lambda dim, groups: TanimotoKernel(dim=dim))
register_kernel("matern", lambda dim, groups: MaternKernel(nu=2.5, ard_num_dims=dim))
register_kernel("rbf", lambda dim, groups: RBFKernel(ard_num_dims=dim))
register_kernel("matern-iso", lambda dim, groups: MaternKernel(nu=2.5))
KERNEL_NAMES: tuple[str, ...] = tuple(KERNELS)
"""The kernels bonas ships."""


def make_kernel(name: str, dim: int, groups: Mapping[str, slice] | None = None,
                active_dims: Sequence[int] | None = None) -> ScaleKernel:
    """A scaled kernel over ``n x dim`` encodings.

    :param name: a registered kernel (:data:`KERNELS`, :func:`register_kernel`): ``"tw"``
        (:class:`TreeWassersteinKernel`, needs ``groups``),
        ``"tanimoto"`` (:class:`TanimotoKernel`), ``"matern"`` (gpytorch Matern 5/2
        with one lengthscale per column), ``"rbf"`` (gpytorch RBF, same) or ``"matern-iso"``
        (Matern 5/2 with one lengthscale: Euclidean distance, as for CATE embeddings).
    :param dim: the encoding width ``d``.
    :param groups: for ``"tw"``: group name -> column slice, partitioning ``[0, dim)``.
    :param active_dims: the ``dim`` input columns the kernel reads, when its inputs are wider (an encoding with a
        fidelity index appended, :func:`bonas.fidelity.fidelity_kernel`); ``None``: all of them.
    :returns: an :class:`EncodingScaleKernel` around the named kernel.
    """
    builder = KERNELS[name]
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim is {dim!r}; expected a positive encoding width")
    if active_dims is not None and len(active_dims) != dim:
        raise ValueError(f"active_dims names {len(active_dims)} columns for an encoding of width {dim}")
    return EncodingScaleKernel(builder(dim, groups), input_dim=dim, active_dims=active_dims)
