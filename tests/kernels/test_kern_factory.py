"""make_kernel: every name builds a scaled kernel of the right type; bad names, groups and widths raise."""

from __future__ import annotations

import pytest
import torch
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel

from bonas.kernels import KERNEL_NAMES, TanimotoKernel, TreeWassersteinKernel, make_kernel

GROUPS = {"op": slice(0, 5), "in": slice(5, 8), "out": slice(8, 12)}


@pytest.mark.parametrize(
    ("name", "base_type"),
    [("tw", TreeWassersteinKernel), ("tanimoto", TanimotoKernel), ("matern", MaternKernel), ("rbf", RBFKernel),
     ("matern-iso", MaternKernel)],
)
def test_builds_scaled_kernel(name, base_type):
    kernel = make_kernel(name, 12, groups=GROUPS)
    assert isinstance(kernel, ScaleKernel)
    assert isinstance(kernel.base_kernel, base_type)
    gram = kernel(torch.rand(6, 12, dtype=torch.float64)).to_dense()
    assert gram.shape == (6, 6)


def test_names_are_listed():
    assert KERNEL_NAMES == ("tw", "tanimoto", "matern", "rbf", "matern-iso")


def test_isotropic_matern_has_one_lengthscale():
    kernel = make_kernel("matern-iso", 12)
    assert kernel.base_kernel.nu == 2.5 and kernel.base_kernel.lengthscale.shape == (1, 1)


def test_matern_is_five_halves_with_one_lengthscale_per_column():
    kernel = make_kernel("matern", 12)
    assert kernel.base_kernel.nu == 2.5
    assert kernel.base_kernel.lengthscale.shape == (1, 12)
    assert make_kernel("rbf", 12).base_kernel.lengthscale.shape == (1, 12)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown kernel 'wl'.*'tw', 'tanimoto', 'matern', 'rbf', 'matern-iso'"):
        make_kernel("wl", 12)


def test_tw_needs_groups_that_fit_dim():
    with pytest.raises(ValueError, match="needs groups"):
        make_kernel("tw", 12)
    with pytest.raises(ValueError, match=r"expected exactly \[0, 13\)"):
        make_kernel("tw", 13, groups=GROUPS)
    with pytest.raises(ValueError, match="expected exactly"):
        make_kernel("tw", 11, groups=GROUPS)


def test_bad_dim_raises():
    with pytest.raises(ValueError, match="positive encoding width"):
        make_kernel("matern", 0)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_wrong_width_names_both_sizes(name):
    kernel = make_kernel(name, 12, groups=GROUPS)
    with pytest.raises(ValueError, match=r"last dimension 11, expected 12"):
        kernel(torch.rand(4, 11)).to_dense()
    with pytest.raises(ValueError, match=r"last dimension 11, expected 12"):
        kernel(torch.rand(4, 11), diag=True)
