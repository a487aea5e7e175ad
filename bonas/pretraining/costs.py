"""Cost models for CATE pretraining: a space's pretraining architectures and a cost for each.

A cost model is ``(space, n_samples, seed) -> (archs, costs, cost name)``; the
space registry (:mod:`bonas.spaces.registry`) names one per space, and
:func:`bonas.pretraining.cate.space_architectures` calls it. A space without
one (a user's) is costed by :func:`network_costs`: the parameters or FLOPs of
each sampled architecture's network, built on the ``meta`` device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bonas.spaces.base import Space
from bonas.spaces.cell import CellArch, CellSpace
from bonas.spaces.graph import INPUT, OUTPUT, graph_to_matrix


def nb201_flops(space: Space, n_samples: int, seed: int) -> tuple[list[Any], np.ndarray, str]:
    """All 15,625 NB201 cells and their FLOPs from the bundled table (``n_samples`` and ``seed`` unused)."""
    from bonas.nasbench import NASBench201Table

    table = NASBench201Table("cifar10")
    archs = list(table.architectures())
    return archs, np.array([table.query(arch).flops for arch in archs], dtype=np.float64), "flops"


def nb101_params(space: CellSpace, n_samples: int, seed: int) -> tuple[list[Any], np.ndarray, str]:
    """``n_samples`` NB101 cells, one per canonical class kept, and their parameters, counted exactly.

    A fifth are ``space.sample`` cells (NB101's own sampler: a random matrix,
    pruned), which are mostly small: only 0.3 % keep all seven nodes, while 85 %
    of NB101's 423,624 classes have seven. The rest come from :func:`live_cells`,
    so the model sees the cells a search meets.
    """
    from bonas.networks.nb101 import nb101_param_count

    archs = sampled_classes(space, n_samples, seed)
    costs = [nb101_param_count(*graph_to_matrix(space.to_graph(arch))) for arch in archs]
    return archs, np.array(costs, dtype=np.float64), "params"


def sampled_classes(space: Space, n_samples: int, seed: int) -> list[Any]:
    """``n_samples`` architectures drawn from ``space``, the first of each canonical class kept, in draw order.

    A :class:`~bonas.spaces.CellSpace` draws a fifth by ``space.sample`` and the rest by :func:`live_cells`
    (see :func:`nb101_params`); any other space draws ``space.sample``.
    """
    rng = np.random.default_rng(seed)
    if isinstance(space, CellSpace):
        n_small = n_samples // 5
        drawn = [*space.sample(n_small, rng), *live_cells(space, n_samples - n_small, rng)]
    else:
        drawn = space.sample(n_samples, rng)
    unique: dict[Any, Any] = {}
    for arch in drawn:
        unique.setdefault(space.canonical_key(arch), arch)
    return list(unique.values())


def live_cells(space: CellSpace, n: int, rng: np.random.Generator) -> list[CellArch]:
    """``n`` cells of ``space.n_nodes`` nodes that pruning leaves whole, at most ``space.max_edges`` edges.

    Each inner node gets an edge from a random earlier node and to a random
    later one (so every node lies on an input-to-output path), then random
    extra edges up to a random total; draws over the edge limit are redrawn.
    """
    size, limit = space.n_nodes, space.max_edges
    upper = np.transpose(np.triu_indices(size, k=1))
    result = []
    while len(result) < n:
        matrix = np.zeros((size, size), dtype=np.int8)
        for node in range(1, size - 1):
            matrix[rng.integers(0, node), node] = 1
            matrix[node, rng.integers(node + 1, size)] = 1
        edges = int(matrix.sum())
        if edges > limit:
            continue
        free = upper[matrix[upper[:, 0], upper[:, 1]] == 0]
        extra = free[rng.permutation(len(free))[: rng.integers(0, limit - edges + 1)]]
        matrix[extra[:, 0], extra[:, 1]] = 1
        middle = [space.ops[i] for i in rng.integers(0, len(space.ops), size=size - 2)]
        result.append(CellArch.from_matrix(matrix, (INPUT, *middle, OUTPUT)))
    return result


NETWORK_COSTS = ("params", "flops")
"""What :func:`network_costs` can count on a built network."""


def network_costs(space: Space, n_samples: int, seed: int, cost: str = "params",
                  network_options: Mapping[str, Any] | None = None,
                  image_shape: tuple[int, int, int] = (3, 32, 32)) -> tuple[list[Any], np.ndarray, str]:
    """``n_samples`` architectures of ``space``, one per canonical class kept, and the ``cost`` of each one's
    network (:func:`~bonas.networks.build_network` at its default size for ``image_shape`` images, 10
    classes), counted on the ``meta`` device: exact, with no memory or compute for weights.

    The architectures are :func:`sampled_classes`.

    :param cost: ``"params"`` (trainable parameters) or ``"flops"`` (:func:`~bonas.networks.count_flops` of one
        image, which runs the network on ``meta`` and is several times slower).
    :param network_options: the builder's other options, e.g. ``op_modules`` for a user's cell space.
    Raises ``ValueError`` when the space's networks cannot be built, saying why.
    """
    from bonas.networks.build import build_network, count_flops, count_params

    if cost not in NETWORK_COSTS:
        raise ValueError(f"cost must be one of {list(NETWORK_COSTS)}, got {cost!r}")
    archs, costs = sampled_classes(space, n_samples, seed), []
    with torch.device("meta"):
        for arch in archs:
            network = build_network(space, arch, 10, image_shape[0], **dict(network_options or {}))
            costs.append(count_params(network) if cost == "params" else count_flops(network, image_shape))
    return archs, np.array(costs, dtype=np.float64), cost


def darts_params(space: Space, n_samples: int, seed: int) -> tuple[list[Any], np.ndarray, str]:
    """``n_samples`` sampled DARTS genotypes, one per canonical class kept, and the parameters of their
    default-size networks (8 cells, ``C = 16``, 10 classes), counted exactly by
    :func:`~bonas.networks.darts.darts_param_count` (as :func:`network_costs` would, a thousand times faster)."""
    from bonas.networks.darts import darts_param_count

    archs = sampled_classes(space, n_samples, seed)
    return archs, np.array([darts_param_count(arch) for arch in archs], dtype=np.float64), "params"
