"""Gram matrices of 300 inputs are symmetric PSD for every kernel: random encoding-like inputs, NB201 encodings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bonas.kernels import KERNEL_NAMES, make_kernel

N_POINTS = 300
TW_GROUPS = {"op": slice(0, 14), "in": slice(14, 19), "out": slice(19, 24)}


def encoding_like(name: str, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, slice] | None]:
    """300 random inputs shaped like the encodings each kernel is meant for."""
    if name == "tw":
        # per group: cumulative masses of a normalised histogram, scaled by edge weights (non-negative, bounded)
        columns = []
        for group in TW_GROUPS.values():
            width = group.stop - group.start
            histogram = torch.rand(N_POINTS, width, generator=generator, dtype=torch.float64)
            histogram *= torch.rand(N_POINTS, width, generator=generator, dtype=torch.float64) < 0.5
            histogram /= histogram.sum(-1, keepdim=True).clamp_min(1e-12)
            columns.append(histogram.cumsum(-1) * torch.rand(width, generator=generator, dtype=torch.float64))
        return torch.cat(columns, dim=-1), TW_GROUPS
    # sparse small counts, as path / WL / adjacency encodings are; repeated rows included on purpose
    counts = torch.randint(0, 4, (N_POINTS, 60), generator=generator).double()
    counts *= torch.rand(N_POINTS, 60, generator=generator, dtype=torch.float64) < 0.15
    counts[N_POINTS // 2 :: 7] = counts[: len(counts[N_POINTS // 2 :: 7])]
    counts[-1] = 0
    return counts, None


def assert_symmetric_psd(gram: torch.Tensor) -> None:
    n = gram.size(-1)
    torch.testing.assert_close(gram, gram.mT)
    smallest = torch.linalg.eigvalsh(gram).min().item()
    assert smallest >= -1e-6 * n, f"smallest eigenvalue {smallest:.3g} < {-1e-6 * n:.3g}"


@pytest.mark.parametrize("name", KERNEL_NAMES)
@pytest.mark.parametrize("lengthscale", [0.05, 1.0, 30.0])
def test_random_encodings_give_psd_gram(name, lengthscale):
    generator = torch.Generator().manual_seed(0)
    x, groups = encoding_like(name, generator)
    kernel = make_kernel(name, x.size(-1), groups=groups).double()
    if kernel.base_kernel.has_lengthscale:
        kernel.base_kernel.lengthscale = torch.full_like(kernel.base_kernel.lengthscale, lengthscale)
    with torch.no_grad():
        assert_symmetric_psd(kernel(x).to_dense())


ENCODER_FOR_KERNEL = [
    ("tw", "tw"),
    ("path", "tanimoto"),
    ("wl", "tanimoto"),
    ("adjacency", "tanimoto"),
    ("path", "matern"),
    ("wl", "matern"),
    ("adjacency", "matern"),
    ("adjacency", "rbf"),
    ("cate", "matern-iso"),
]


@pytest.mark.parametrize(
    ("encoder_name", "kernel_name", "space_name"),
    [(*pair, space) for pair in ENCODER_FOR_KERNEL for space in ("nb201", "nb101", "darts")
     if not (pair[0] == "cate" and space == "darts")],  # no CATE checkpoint ships for DARTS
)
def test_real_encodings_give_psd_gram(encoder_name, kernel_name, space_name):
    from bonas import encoders
    from bonas.spaces.registry import space_from_name

    space = space_from_name(space_name)
    archs = space.sample(N_POINTS, np.random.default_rng(0))
    encoder = encoders.make_encoder(encoder_name, space)
    x = encoder.encode(archs).double()
    assert x.shape == (N_POINTS, encoder.dim)
    groups = getattr(encoder, "groups", None) if kernel_name == "tw" else None
    kernel = make_kernel(kernel_name, encoder.dim, groups=groups).double()
    with torch.no_grad():
        assert_symmetric_psd(kernel(x).to_dense())
