"""TanimotoKernel: gpytorch's shared kernel suite, the direct min/max formula, zero rows, diag, bad input."""

from __future__ import annotations

import unittest

import pytest
import torch
from gpytorch.test.base_kernel_test_case import BaseKernelTestCase

from bonas.kernels import TanimotoKernel


def minmax_by_definition(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``n x m`` sum min / sum max by broadcasting, with k(0, 0) = 1."""
    shared = torch.minimum(x1.unsqueeze(-2), x2.unsqueeze(-3)).sum(-1)
    union = torch.maximum(x1.unsqueeze(-2), x2.unsqueeze(-3)).sum(-1)
    return torch.where(union == 0, torch.ones_like(union), shared / union.clamp_min(1e-300))


class TestTanimotoKernelSuite(BaseKernelTestCase, unittest.TestCase):
    """gpytorch's shared tests on non-negative data; the kernel has no ARD and no parameters."""

    seed = 0

    def create_kernel_no_ard(self, **kwargs):
        return TanimotoKernel(**kwargs)

    def create_data_no_batch(self):
        return torch.rand(50, 10)

    def create_data_single_batch(self):
        return torch.rand(2, 3, 2)

    def create_data_double_batch(self):
        return torch.rand(3, 2, 50, 2)

    def test_kernel_dtype_device(self):
        # gpytorch's version expects a parameter to clash with; a parameterless kernel follows its input's dtype.
        kernel = self.create_kernel_no_ard()
        self.assertEqual(list(kernel.parameters()), [])
        for dtype in (torch.float32, torch.float64):
            self.assertEqual(kernel(torch.rand(4, 3, dtype=dtype)).to_dense().dtype, dtype)


def test_matches_definition_on_counts():
    generator = torch.Generator().manual_seed(0)
    x1 = torch.randint(0, 4, (9, 12), generator=generator).double()
    x2 = torch.randint(0, 4, (5, 12), generator=generator).double()
    torch.testing.assert_close(TanimotoKernel()(x1, x2).to_dense(), minmax_by_definition(x1, x2))


def test_is_jaccard_on_binary_vectors():
    x1 = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    x2 = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    # shared {0, 3}, union {0, 1, 2, 3}
    assert TanimotoKernel()(x1, x2).to_dense().item() == pytest.approx(0.5)


def test_zero_rows():
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    gram = TanimotoKernel()(x).to_dense()
    torch.testing.assert_close(gram.diagonal(), torch.ones(3))
    assert gram[0, 2] == 1.0
    assert gram[0, 1] == 0.0
    assert not gram.isnan().any()
    torch.testing.assert_close(TanimotoKernel()(x, diag=True), torch.ones(3))


def test_diag_equals_diagonal_of_full_matrix_with_batches():
    x1 = torch.rand(2, 3, 6, 8, dtype=torch.float64)
    x2 = torch.rand(2, 3, 6, 8, dtype=torch.float64)
    kernel = TanimotoKernel()
    full = kernel(x1, x2).to_dense()
    assert full.shape == (2, 3, 6, 6)
    torch.testing.assert_close(kernel(x1, x2, diag=True), full.diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(full, minmax_by_definition(x1, x2))


def test_negative_entries_raise():
    with pytest.raises(ValueError, match="negative entry -0.5"):
        TanimotoKernel()(torch.tensor([[1.0, -0.5]])).to_dense()


def test_wrong_width_names_both_sizes():
    with pytest.raises(ValueError, match=r"last dimension 5, expected 6"):
        TanimotoKernel(dim=6)(torch.rand(3, 5)).to_dense()
    with pytest.raises(ValueError, match="positive encoding width"):
        TanimotoKernel(dim=0)
