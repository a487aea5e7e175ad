"""NASWOT: score an untrained network by how differently its ReLUs split one mini-batch.

Mellor et al., "Neural Architecture Search without Training" (ICML 2021):
every ReLU unit gives each input a binary code (active or not). For ``n``
inputs with codes ``C`` (``n x units``, summed over all ReLUs), the kernel
``K = C C^T + (1 - C)(1 - C)^T`` counts the units on which two inputs agree
(``N_A`` minus their Hamming distance); the score is ``log |det K|``. A
network whose ReLUs cannot tell the inputs apart has a singular ``K`` and the
score ``-inf``. The network is scored in training mode (batch statistics), as
the authors' code does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bonas.evaluators.data import ArrayData, CIFAR10Folder, as_image_data
from bonas.evaluators.zero_cost import ZeroCostEvaluator
from bonas.spaces.base import Space
from bonas.validation import check_int


def naswot_score(network: nn.Module, x: Tensor) -> float:
    """``log |det K|`` for the ``n x c x h x w`` batch ``x`` (``-inf`` when ``K`` is singular).

    Hooks every ``nn.ReLU`` of ``network``; ``K`` (``n x n``) is accumulated in float64.
    """
    kernel = torch.zeros(len(x), len(x), dtype=torch.float64, device=x.device)

    def add_codes(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        codes = (output.detach() > 0).flatten(1).float()
        kernel.add_((codes @ codes.T + (1 - codes) @ (1 - codes).T).double())

    handles = [module.register_forward_hook(add_codes) for module in network.modules() if isinstance(module, nn.ReLU)]
    try:
        with torch.no_grad():
            network.train()(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel.cpu()).logabsdet)


class NASWOT(ZeroCostEvaluator):
    """A picklable ``arch -> dict``: ``value`` (the NASWOT score), ``params``, ``time_s`` and ``device``.

    Scores the untrained network of each architecture on one fixed batch of
    ``batch_size`` images drawn (seeded) from ``data``. A singular kernel (the
    network's ReLUs tell no two inputs apart, e.g. a cell with no path from
    input to output) raises ``ValueError``, so a search records a failed trial.

    :param data: images (``n x c x h x w`` array or tensor), an ``(images, labels)`` pair, a
        :class:`~bonas.evaluators.CIFAR10Folder` or a torch ``Dataset``.
    :param seed: seeds the batch and the networks' initialisation.
    :param num_classes: size of the networks' linear head (it has no ReLU, so no effect on the score).
    :param network_options: the network builder's other options (e.g. ``op_modules`` for a user's cell space).
    """

    def __init__(self, data: Any, space: Space | None = None, batch_size: int = 128, seed: int = 0,
                 device: str = "auto", num_classes: int = 10, channels: int | None = None,
                 cells_per_stage: int | None = None, num_threads: int | None = None,
                 network_options: Mapping[str, Any] | None = None) -> None:
        batch_size = check_int(batch_size, "batch_size", minimum=2)
        num_threads = None if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
        if isinstance(data, (np.ndarray, Tensor)):
            data = (data, np.zeros(len(data), dtype=np.int64))
        data = as_image_data(data, "data")
        picks = self._set_up(data, space, batch_size, seed, device, num_classes, channels, cells_per_stage,
                             num_threads, network_options)
        self.images = _images(data, picks)

    def _score(self, network: nn.Module, device: torch.device) -> float:
        return naswot_score(network, self.images.to(device))

    def _not_finite(self, score: float) -> str:
        return (f"NASWOT kernel is singular (score {score}): the network's ReLUs tell no two inputs of the batch "
                f"apart")


def _images(data: Any, picks: np.ndarray) -> Tensor:
    """The ``len(picks) x c x h x w`` images at ``picks``."""
    if isinstance(data, CIFAR10Folder):
        data = data.load()
    if isinstance(data, ArrayData):
        return data.x[torch.from_numpy(picks)].clone()
    return torch.stack([torch.as_tensor(data[int(index)][0]).float() for index in picks])
