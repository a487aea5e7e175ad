"""TreeWassersteinKernel: gpytorch's shared kernel suite, hand computations, diag, batches, bad input."""

from __future__ import annotations

import pickle
import unittest

import pytest
import torch
from gpytorch.test.base_kernel_test_case import BaseKernelTestCase

from bonas.kernels import TreeWassersteinKernel, check_groups

GROUPS_10 = {"op": slice(0, 4), "in": slice(4, 7), "out": slice(7, 10)}


def three_groups(width: int) -> dict[str, slice]:
    """Split ``[0, width)`` into three contiguous groups (the last one takes the remainder)."""
    first, second = max(1, width // 3), max(2, 2 * width // 3)
    return {"op": slice(0, first), "in": slice(first, second), "out": slice(second, width)}


class TestTreeWassersteinKernelSuite(BaseKernelTestCase, unittest.TestCase):
    """gpytorch's shared tests (batches, active_dims, getitem, pickling, dtype); ARD does not apply (per group)."""

    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        active_dims = kwargs.get("active_dims")
        width = 10 if active_dims is None else len(active_dims)
        return TreeWassersteinKernel(three_groups(width), **kwargs)

    def _check_active_dims(self, active_dims):
        x = self.create_data_no_batch()
        covar = self.create_kernel_no_ard(active_dims=active_dims)(x).to_dense()
        covar_on_columns = TreeWassersteinKernel(three_groups(len(active_dims)))(x[:, active_dims]).to_dense()
        self.assertAllClose(covar, covar_on_columns, rtol=1e-3, atol=1e-5)

    def test_active_dims_list(self):
        # gpytorch's version evaluates one kernel at two widths; a TW kernel has one width, so build one per width.
        self._check_active_dims([0, 2, 4, 6])

    def test_active_dims_range(self):
        self._check_active_dims(list(range(3, 9)))

    def create_data_no_batch(self):
        return torch.rand(50, 10)

    def create_data_single_batch(self):
        return torch.rand(2, 3, 10)

    def create_data_double_batch(self):
        return torch.rand(3, 2, 50, 10)


def test_matches_hand_computation_on_small_example():
    kernel = TreeWassersteinKernel({"op": slice(0, 2), "in": slice(2, 3), "out": slice(3, 5)})
    kernel.lengthscale = torch.tensor([[0.5, 2.0, 4.0]])
    x1 = torch.tensor([[0.2, 0.8, 0.0, 1.0, 0.0], [0.5, 0.5, 1.0, 0.5, 0.5]], dtype=torch.float64)
    x2 = torch.tensor([[0.0, 1.0, 0.5, 0.0, 1.0]], dtype=torch.float64)
    gram = kernel(x1, x2).to_dense()
    # row 0: d_op = 0.2 + 0.2, d_in = 0.5, d_out = 1 + 1; row 1: d_op = 0.5 + 0.5, d_in = 0.5, d_out = 0.5 + 0.5
    expected = torch.tensor([[torch.exp(torch.tensor(-(0.4 / 0.5 + 0.5 / 2.0 + 2.0 / 4.0)))],
                             [torch.exp(torch.tensor(-(1.0 / 0.5 + 0.5 / 2.0 + 1.0 / 4.0)))]], dtype=torch.float64)
    torch.testing.assert_close(gram, expected)


def test_matches_per_group_loop_on_random_inputs():
    generator = torch.Generator().manual_seed(1)
    kernel = TreeWassersteinKernel(GROUPS_10)
    kernel.lengthscale = torch.tensor([[0.3, 1.7, 5.0]])
    x1 = torch.rand(7, 10, generator=generator, dtype=torch.float64)
    x2 = torch.rand(4, 10, generator=generator, dtype=torch.float64)
    exponent = torch.zeros(7, 4, dtype=torch.float64)
    for lengthscale, columns in zip(kernel.lengthscale[0], GROUPS_10.values()):
        for i in range(7):
            for j in range(4):
                exponent[i, j] += (x1[i, columns] - x2[j, columns]).abs().sum() / lengthscale
    torch.testing.assert_close(kernel(x1, x2).to_dense(), torch.exp(-exponent))


def test_diag_equals_diagonal_of_full_matrix():
    generator = torch.Generator().manual_seed(2)
    kernel = TreeWassersteinKernel(GROUPS_10, batch_shape=torch.Size([2]))
    kernel.lengthscale = torch.rand(2, 1, 3, generator=generator) + 0.1
    x1 = torch.rand(2, 6, 10, generator=generator, dtype=torch.float64)
    x2 = torch.rand(2, 6, 10, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(kernel(x1, x2, diag=True), kernel(x1, x2).to_dense().diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(kernel(x1, diag=True), torch.ones(2, 6, dtype=torch.float64))


def test_batched_lengthscales_broadcast_over_unbatched_inputs():
    kernel = TreeWassersteinKernel(GROUPS_10, batch_shape=torch.Size([3]))
    kernel.lengthscale = torch.tensor([[[0.5, 1.0, 2.0]], [[1.0, 1.0, 1.0]], [[3.0, 0.2, 0.7]]])
    x = torch.rand(5, 10, dtype=torch.float64)
    gram = kernel(x).to_dense()
    assert gram.shape == (3, 5, 5)
    for batch in range(3):
        single = TreeWassersteinKernel(GROUPS_10)
        single.lengthscale = kernel.lengthscale[batch]
        torch.testing.assert_close(gram[batch], single(x).to_dense())


def test_lengthscale_is_one_per_group_and_registered():
    kernel = TreeWassersteinKernel(GROUPS_10)
    assert kernel.lengthscale.shape == (1, 3)
    assert kernel.group_names == ("op", "in", "out")
    assert "raw_lengthscale" in dict(kernel.named_parameters())
    assert kernel.raw_lengthscale_constraint is not None
    restored = pickle.loads(pickle.dumps(kernel))
    assert restored.column_group == kernel.column_group == (0,) * 4 + (1,) * 3 + (2,) * 3


def test_gradients_reach_every_lengthscale():
    kernel = TreeWassersteinKernel(GROUPS_10)
    x = torch.rand(8, 10, dtype=torch.float64)
    kernel(x).to_dense().sum().backward()
    assert kernel.raw_lengthscale.grad is not None
    assert (kernel.raw_lengthscale.grad.abs() > 0).all()


def test_wrong_width_names_both_sizes():
    kernel = TreeWassersteinKernel(GROUPS_10)
    with pytest.raises(ValueError, match=r"last dimension 9, expected 10"):
        kernel(torch.rand(4, 9)).to_dense()


@pytest.mark.parametrize(
    ("groups", "dim", "message"),
    [
        ({}, None, "groups is empty"),
        ({"op": slice(0, 4), "in": slice(3, 6)}, None, "overlaps"),
        ({"op": slice(0, 4), "in": slice(5, 6)}, None, "leaves columns 4..4 out"),
        ({"op": slice(0, 4), "in": slice(4, 6)}, 8, r"expected exactly \[0, 8\)"),
        ({"op": slice(0, 4, 2)}, None, "step 1"),
        ({"op": [0, 1]}, None, "expected a slice"),
        ({"op": slice(None, 3)}, None, "both given"),
    ],
)
def test_bad_groups_raise(groups, dim, message):
    with pytest.raises(ValueError, match=message):
        check_groups(groups, dim)


def test_group_order_need_not_follow_columns():
    assert check_groups({"out": slice(5, 9), "op": slice(0, 2), "in": slice(2, 5)}) == 9


def test_fit_path_equals_cdist_and_reuses_distances_until_the_inputs_change():
    # the kernel's fast paths (group distances without autograd, kept between calls on the same tensors) must
    # give cdist's values and lengthscale gradients
    import copy

    kernel = TreeWassersteinKernel(GROUPS_10).double()
    kernel.raw_lengthscale.data = torch.tensor([[0.3, -0.7, 1.1]], dtype=torch.float64)
    x = torch.rand(9, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.rand(4, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def reference(a, b):
        return torch.exp(-torch.cdist(kernel._scale_columns(a), kernel._scale_columns(b), p=1))

    with torch.no_grad():
        torch.testing.assert_close(kernel.forward(x, y), reference(x, y), rtol=1e-12, atol=1e-14)
    fast = kernel.forward(x, x)
    (fast * torch.arange(81.0, dtype=torch.float64).reshape(9, 9)).sum().backward()
    fast_grad = kernel.raw_lengthscale.grad.clone()
    kernel.zero_grad()
    slow = reference(x, x)
    (slow * torch.arange(81.0, dtype=torch.float64).reshape(9, 9)).sum().backward()
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(fast_grad, kernel.raw_lengthscale.grad, rtol=1e-10, atol=1e-12)
    kept = kernel._distances[2]
    kernel.forward(x, x)
    assert kernel._distances[2] is kept
    x.mul_(2.0)  # an in-place change of the inputs: the kept distances are stale
    torch.testing.assert_close(kernel.forward(x, x), reference(x, x), rtol=1e-12, atol=1e-14)
    assert kernel._distances[2] is not kept
    assert copy.deepcopy(kernel)._distances is None and pickle.loads(pickle.dumps(kernel))._distances is None
    # inputs that need a gradient (a continuous acquisition optimiser) take cdist's autograd path
    z = y.clone().requires_grad_(True)
    kernel.forward(x, z).sum().backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())
