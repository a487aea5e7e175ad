"""Hypothesis properties of every kernel before scaling: symmetric, k(x, x) = 1, values in (0, 1] (Tanimoto: [0, 1])."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bonas.kernels import KERNEL_NAMES, make_kernel

GROUPS = {"op": slice(0, 3), "in": slice(3, 5), "out": slice(5, 7)}
WIDTH = 7

encodings = st.integers(min_value=1, max_value=8).flatmap(
    lambda n: arrays(
        dtype="float64",
        shape=(n, WIDTH),
        elements=st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=5.0, allow_subnormal=False)),
    )
)
lengthscales = st.floats(min_value=0.2, max_value=20.0)


def unscaled_gram(name: str, x: torch.Tensor, lengthscale: float) -> torch.Tensor:
    base_kernel = make_kernel(name, WIDTH, groups=GROUPS).base_kernel.double()
    if base_kernel.has_lengthscale:
        base_kernel.lengthscale = torch.full_like(base_kernel.lengthscale, lengthscale)
    with torch.no_grad():
        return base_kernel(x).to_dense()


@pytest.mark.parametrize("name", KERNEL_NAMES)
@settings(max_examples=40, deadline=None)
@given(values=encodings, lengthscale=lengthscales)
def test_symmetric_unit_diagonal_bounded(name, values, lengthscale):
    x = torch.from_numpy(values)
    gram = unscaled_gram(name, x, lengthscale)
    torch.testing.assert_close(gram, gram.mT)
    torch.testing.assert_close(gram.diagonal(), torch.ones(len(x), dtype=torch.float64))
    assert (gram <= 1 + 1e-12).all()
    assert (gram >= 0).all()  # exp(-large) underflows to exactly 0 in float64


@pytest.mark.parametrize("name", KERNEL_NAMES)
@settings(max_examples=25, deadline=None)
@given(values=encodings, lengthscale=lengthscales)
def test_diag_mode_is_the_diagonal(name, values, lengthscale):
    x = torch.from_numpy(values)
    x_shifted = x.roll(1, dims=0)
    base_kernel = make_kernel(name, WIDTH, groups=GROUPS).base_kernel.double()
    if base_kernel.has_lengthscale:
        base_kernel.lengthscale = torch.full_like(base_kernel.lengthscale, lengthscale)
    with torch.no_grad():
        full = base_kernel(x, x_shifted).to_dense()
        torch.testing.assert_close(base_kernel(x, x_shifted, diag=True), full.diagonal())
