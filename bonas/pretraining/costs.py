"""Cost models for CATE pretraining: a space's pretraining architectures and a cost for each.

A cost model is ``(space, n_samples, seed) -> (archs, costs, cost name)``; the
space registry (:mod:`bonas.spaces.registry`) names one per space, and
:func:`bonas.pretraining.cate.space_architectures` calls it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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

    rng = np.random.default_rng(seed)
    n_small = n_samples // 5
    unique: dict[Any, Any] = {}
    for arch in [*space.sample(n_small, rng), *live_cells(space, n_samples - n_small, rng)]:
        unique.setdefault(space.canonical_key(arch), arch)
    archs = list(unique.values())
    costs = [nb101_param_count(*graph_to_matrix(space.to_graph(arch))) for arch in archs]
    return archs, np.array(costs, dtype=np.float64), "params"


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
