"""What NASWOT and KNAS share: one seeded batch of a dataset, the untrained networks of a space, a timed score."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from bonas.device import resolve_device
from bonas.networks import build_network, check_input, count_params
from bonas.evaluators.data import image_shape
from bonas.spaces.base import Space
from bonas.spaces.nb201 import NASBench201Space


class ZeroCostEvaluator:
    """A picklable ``arch -> dict``: ``value`` (the score of the untrained network), ``params``, ``time_s`` and
    ``device``. Subclasses check their data, call :meth:`_set_up`, keep their batch, and define :meth:`_score`
    and :meth:`_not_finite`."""

    def _set_up(self, data: Any, space: Space | None, batch_size: int, seed: int, device: str, num_classes: int,
                channels: int | None, cells_per_stage: int | None, num_threads: int | None,
                network_options: Mapping[str, Any] | None = None) -> np.ndarray:
        """Check ``data`` (image data of :func:`~bonas.evaluators.data.as_image_data`) against the space's
        networks, keep the settings; return the ``batch_size`` indices of the seeded batch.

        ``network_options`` are the builder's other options (:func:`~bonas.networks.build_network`), e.g.
        ``op_modules`` for a user's cell space."""
        if len(data) < batch_size:
            raise ValueError(f"data holds {len(data)} images, fewer than batch_size {batch_size}")
        self.space = space if space is not None else NASBench201Space()
        self.network_options = {"channels": channels, "cells_per_stage": cells_per_stage, **(network_options or {})}
        self.num_classes, self.in_channels = num_classes, image_shape(data)[0]
        check_input(self.space, image_shape(data), num_classes, **self.network_options)
        self.device, self.seed, self.num_threads = device, seed, num_threads
        return np.random.default_rng(seed).choice(len(data), size=batch_size, replace=False)

    def build(self, arch: Any) -> nn.Module:
        """The untrained network of ``arch`` that this evaluator scores."""
        return build_network(self.space, arch, self.num_classes, self.in_channels, **self.network_options)

    def __call__(self, arch: Any) -> dict[str, Any]:
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        device = resolve_device(self.device)
        start = time.perf_counter()
        torch.manual_seed(self.seed)
        network = self.build(arch)
        score = self._score(network.to(device), device)
        if not np.isfinite(score):
            raise ValueError(self._not_finite(score))
        return {"value": score, "params": count_params(network), "time_s": time.perf_counter() - start,
                "device": str(device)}

    def _score(self, network: nn.Module, device: torch.device) -> float:
        raise NotImplementedError

    def _not_finite(self, score: float) -> str:
        """Why a score that is not finite fails the trial."""
        raise NotImplementedError
